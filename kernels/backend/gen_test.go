package backend

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedUpToDate: gen_ops.go is what internal/genops writes for the GoMLX in go.mod.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	dir := t.TempDir()
	cmd := exec.Command(goTool, "run", "./internal/genops", dir)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run ./internal/genops: %v\n%s", err, msg)
	}
	for _, name := range []string{"gen_ops.go", "gen_ops_unary.go", "gen_ops_binary.go"} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s is stale: run go generate ./kernels/backend", name)
		}
	}
}
