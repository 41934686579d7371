// Package full is full fine-tuning as a GoSwift tuner: every base weight trains; no hook, no
// variable of its own. It cannot be merged (the trained weights are the model); a saved
// "adapter" holds every base weight, and a merged export is the model itself.
//
// Importing the package registers the tuner as "full".
package full
