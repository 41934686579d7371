// Package all registers every GoSwift tuner and modifier: import it for its side effect.
//
//	import _ "github.com/goswift/goswift/swift/tuners/all"
package all

import (
	_ "github.com/goswift/goswift/swift/tuners/adapter"  // "adapter"
	_ "github.com/goswift/goswift/swift/tuners/dora"     // "dora"
	_ "github.com/goswift/goswift/swift/tuners/freeze"   // "freeze"
	_ "github.com/goswift/goswift/swift/tuners/full"     // "full"
	_ "github.com/goswift/goswift/swift/tuners/lisa"     // "lisa"
	_ "github.com/goswift/goswift/swift/tuners/llamapro" // "llamapro"
	_ "github.com/goswift/goswift/swift/tuners/lora"     // "lora"
	_ "github.com/goswift/goswift/swift/tuners/neftune"  // modifier "neftune"
	_ "github.com/goswift/goswift/swift/tuners/peft"     // PEFT adapter directories in tuners.LoadAdapter
	_ "github.com/goswift/goswift/swift/tuners/qlora"    // "qlora"
)
