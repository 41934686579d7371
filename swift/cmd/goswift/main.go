// Command goswift is GoSwift's command line: each verb is one args struct with a Run method
// over the swift library.
//
//	goswift infer --model DIR_OR_FILE [--adapter DIR] --prompt TEXT [--max-new N] [--temperature T --top-p P --top-k K --seed S]
//	goswift pt --model DIR_OR_FILE --data FILE.txt --output DIR [--tuner lora --rank 8 ...] [--resume-from DIR]
//	goswift export --model DIR_OR_FILE [--adapter DIR] --output DIR [--format merged|quantized|peft|adapter]
//	goswift sft --model DIR_OR_FILE --dataset FILE[,FILE] --output DIR [--template NAME --packing --max-length N --loss-scale S ...]
//	goswift eval --model DIR_OR_FILE [--adapter DIR] --task ppl|gsm8k|toolcall --dataset FILE [--output result.json]
//	goswift bench [--quick|--full] [--out DIR] [--techniques lora,full,...] | --predict-only --shape NAME [--technique T --batch B --seq S]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/pkg/errors"
)

// verb is one subcommand: it registers its flags and runs.
type verb interface {
	flags(fs *flag.FlagSet)
	Run(stdout, stderr io.Writer) error
}

var verbs = map[string]func() verb{
	"bench":  func() verb { return &benchArgs{} },
	"eval":   func() verb { return &evalArgs{} },
	"export": func() verb { return &exportArgs{} },
	"infer":  func() verb { return &inferArgs{} },
	"pt":     func() verb { return &ptArgs{} },
	"sft":    func() verb { return &sftArgs{} },
}

func verbNames() []string {
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: goswift <verb> [flags]\nverbs: %s\nrun 'goswift <verb> -h' for a verb's flags\n",
		strings.Join(verbNames(), ", "))
}

// run parses args (without the program name) and runs the verb; it never panics at the user.
func run(args []string, stdout, stderr io.Writer) (err error) {
	if len(args) == 0 {
		usage(stderr)
		return errors.New("no verb given")
	}
	mk, ok := verbs[args[0]]
	if !ok {
		usage(stderr)
		return errors.Errorf("unknown verb %q", args[0])
	}
	v := mk()
	fs := flag.NewFlagSet("goswift "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	v.flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return errors.Errorf("goswift %s: unexpected argument %q (flags only)", args[0], fs.Arg(0))
	}
	if fv, ok := v.(interface{ flagsSet(map[string]bool) }); ok {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		fv.flagsSet(set)
	}
	defer func() {
		if r := recover(); r != nil {
			err = errors.Errorf("goswift %s: internal error: %v", args[0], r)
		}
	}()
	return v.Run(stdout, stderr)
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(2)
	}
}
