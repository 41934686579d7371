package models

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive // GoMLX graph style.
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/goswift/goswift/internal/fixtures"
	"github.com/goswift/goswift/internal/testutil"
)

// stories15MConfig is the shape of llama2.c's stories15M (random weights: speed only).
func stories15MConfig() *Config {
	c, err := Shape("stories15m")
	if err != nil {
		panic(err)
	}
	return c
}

// BenchmarkForward measures the full forward pass (logits for every position) in tokens/s on
// the simplego backend, for stories260K (real weights) and a stories15M-shaped model.
func BenchmarkForward(b *testing.B) {
	type model struct {
		name string
		load func(b *testing.B) (*Config, *context.Context)
	}
	modelsToRun := []model{
		{"stories260K", func(b *testing.B) (*Config, *context.Context) {
			ck, err := OpenCheckpoint(fixtures.Path(b, "models/stories260K/stories260K.bin"))
			if err != nil {
				b.Fatal(err)
			}
			defer ck.Close()
			ctx := context.New()
			if err := LoadVariables(ctx, ck, LoadOptions{}); err != nil {
				b.Fatal(err)
			}
			return ck.Config, ctx
		}},
		{"stories15M-shape", func(b *testing.B) (*Config, *context.Context) {
			cfg := stories15MConfig()
			ctx := context.New()
			if err := InitRandom(ctx, cfg, 1); err != nil {
				b.Fatal(err)
			}
			return cfg, ctx
		}},
	}
	backend := testutil.Backend(b)
	for _, mdl := range modelsToRun {
		for _, shape := range [][2]int{{1, 64}, {4, 128}} {
			batch, seq := shape[0], shape[1]
			b.Run(fmt.Sprintf("%s/b%d_s%d", mdl.name, batch, seq), func(b *testing.B) {
				cfg, ctx := mdl.load(b)
				m := New(cfg)
				exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pos *Node) *Node {
					return m.Logits(ctx, Inputs{Tokens: tok, Positions: pos})
				})
				tok, pos := make([][]int32, batch), make([][]int32, batch)
				for r := range batch {
					tok[r], pos[r] = make([]int32, seq), make([]int32, seq)
					for j := range seq {
						tok[r][j], pos[r][j] = int32((r*31+j*7)%cfg.VocabSize), int32(j)
					}
				}
				if _, err := exec.Exec(tok, pos); err != nil { // compile outside the timing
					b.Fatal(err)
				}
				b.ResetTimer()
				for range b.N {
					if _, err := exec.Exec(tok, pos); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(batch*seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
			})
		}
	}
}
