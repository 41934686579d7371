// Package freeze is partial fine-tuning as a GoSwift tuner: the base is frozen except the last
// N decoder blocks and/or named parts (ms-swift's freeze_parameters / trainable_parameters),
// which train in place. No hook, no variable of its own; a saved "adapter" holds the trained
// base weights.
//
// Importing the package registers the tuner as "freeze".
package freeze
