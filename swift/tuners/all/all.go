// Package all registers every GoSwift tuner: import it for its side effect.
//
//	import _ "github.com/goswift/goswift/swift/tuners/all"
package all

import (
	_ "github.com/goswift/goswift/swift/tuners/lora" // "lora"
)
