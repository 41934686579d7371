package main

import (
	"flag"

	"github.com/pkg/errors"
)

type exportArgs struct {
	shape, out string
}

func (a *exportArgs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.shape, "shape", "smollm-135m", "architecture shape")
	fs.StringVar(&a.out, "out", "", "output directory")
}

func (a *exportArgs) run() (map[string]any, error) {
	return nil, errors.New("export: not wired yet")
}
