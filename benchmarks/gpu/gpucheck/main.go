// Command gpucheck is the Go side of GoSwift's prepared GPU check (benchmarks/gpu/run.sh):
//
//	gpucheck smoke                       # load the CUDA PJRT plugin, run one matmul
//	gpucheck train --shape smollm-135m   # LoRA bf16 training speed on random weights
//	gpucheck export --shape NAME --out DIR  # base (HF layout) + PEFT adapter + GoSwift logits
//	gpucheck spmd                        # train.Parallel (XLA SPMD) vs the plain path: same losses
//
// Every subcommand prints one JSON line on stdout (the driver assembles the table) and exits
// non-zero with one clear message on failure (spmd still prints its JSON line when the losses
// differ, so the table shows by how much). The backend is chosen by GoSwift's xla package
// (GOMLX_BACKEND, PJRT_PLUGIN_LIBRARY_PATH, or the jax-cuda*-pjrt wheel's plugin).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: gpucheck smoke|train|export|spmd [flags]"))
	}
	fs := flag.NewFlagSet("gpucheck "+os.Args[1], flag.ExitOnError)
	var (
		out map[string]any
		err error
	)
	switch os.Args[1] {
	case "smoke":
		a := smokeArgs{}
		a.flags(fs)
		_ = fs.Parse(os.Args[2:])
		out, err = a.run()
	case "train":
		a := trainArgs{}
		a.flags(fs)
		_ = fs.Parse(os.Args[2:])
		out, err = a.run()
	case "export":
		a := exportArgs{}
		a.flags(fs)
		_ = fs.Parse(os.Args[2:])
		out, err = a.run()
	case "spmd":
		a := spmdArgs{}
		a.flags(fs)
		_ = fs.Parse(os.Args[2:])
		out, err = a.run()
	default:
		err = fmt.Errorf("unknown subcommand %q (smoke, train, export, spmd)", os.Args[1])
	}
	if out != nil {
		line, _ := json.Marshal(out)
		fmt.Println(string(line))
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gpucheck:", err)
	os.Exit(1)
}
