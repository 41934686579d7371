package main

import (
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/goswift/goswift/swift/train"
)

func TestDevicesFlag(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		want int
		err  string
	}{
		{"0", 0, ""}, {"4", 4, ""}, {"all", train.AllDevices, ""}, {"ALL", train.AllDevices, ""},
		{"-1", train.AllDevices, ""}, {"-2", 0, "--devices"}, {"two", 0, "want a device count"}, {"", 0, "--devices"},
	} {
		var a trainArgs
		fs := flag.NewFlagSet("sft", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		a.flags(fs)
		err := fs.Parse([]string{"--devices", tc.arg})
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("--devices %q: error %v, want one mentioning %q", tc.arg, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("--devices %q: %v", tc.arg, err)
		case tc.err == "" && a.Devices != tc.want:
			t.Errorf("--devices %q = %d, want %d", tc.arg, a.Devices, tc.want)
		}
	}
	var a trainArgs
	a.Devices = train.AllDevices
	if s := (devicesFlag{&a.Devices}).String(); s != "all" {
		t.Errorf("String() = %q, want all", s)
	}
}
