package llamapro

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/models"
	"github.com/goswift/goswift/swift/tuners"
)

// Name is the registry name.
const Name = "llamapro"

// Scope holds the new blocks: "<Scope>/layers/<j>/..." with the Llama block's names.
const Scope = "/tuners/llamapro"

// Config is LLaMA Pro's configuration (ms-swift's llamapro_num_new_blocks); the zero value
// inserts 2 blocks.
type Config struct {
	// NumNewBlocks is how many blocks to insert. The L original blocks are cut into that many
	// groups (sizes differing by at most one, the larger first) and a new block follows each.
	NumNewBlocks int `json:"num_new_blocks,omitempty"`
}

func init() {
	tuners.Register(Name, func() tuners.Config { return &Config{} })
}

// Validate implements tuners.Config.
func (c *Config) Validate() error {
	if c.NumNewBlocks < 0 {
		return errors.Errorf("llamapro: num_new_blocks must be positive, got %d", c.NumNewBlocks)
	}
	return nil
}

// Build implements tuners.Config.
func (c *Config) Build() (tuners.Tuner, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	cfg := *c
	if cfg.NumNewBlocks == 0 {
		cfg.NumNewBlocks = 2
	}
	return &LLaMAPro{cfg: cfg}, nil
}

// LLaMAPro inserts identity-initialised blocks and trains only them.
type LLaMAPro struct {
	cfg   Config
	after []int // after[j]: the original block index the j-th new block follows
}

// Name implements tuners.Tuner.
func (t *LLaMAPro) Name() string { return Name }

// Config implements tuners.Tuner.
func (t *LLaMAPro) Config() tuners.Config { c := t.cfg; return &c }

// Scope implements tuners.Tuner.
func (t *LLaMAPro) Scope() string { return Scope }

// Trainable implements tuners.Tuner: the new blocks.
func (t *LLaMAPro) Trainable(v *context.Variable) bool { return tuners.InScope(v, Scope) }

// IdentityAtInit: each new block adds exactly zero to the residual stream until it trains.
func (t *LLaMAPro) IdentityAtInit() bool { return true }

// NewBlockPath is the variable path of the j-th new block.
func NewBlockPath(j int) string { return fmt.Sprintf("tuners.llamapro.layers.%d", j) }

// After returns, for each new block, the original block it follows.
func (t *LLaMAPro) After() []int { return append([]int(nil), t.after...) }

// Attach implements tuners.Tuner: it copies the blocks before each insertion point (output
// projections zeroed) into the tuner's scope and inserts them with a Blocks hook.
func (t *LLaMAPro) Attach(ctx *context.Context, m *models.Model) error {
	if t.after != nil {
		return errors.New("llamapro: already attached")
	}
	l, n := m.Config.NumLayers, t.cfg.NumNewBlocks
	if n > l {
		return errors.Errorf("llamapro: num_new_blocks=%d exceeds the model's %d decoder blocks", n, l)
	}
	end := 0
	for j := range n {
		size := l / n
		if j < l%n {
			size++
		}
		end += size
		t.after = append(t.after, end-1)
	}
	for j, after := range t.after {
		srcScope := models.PathToScope(fmt.Sprintf("model.layers.%d", after))
		dstScope := models.PathToScope(NewBlockPath(j))
		var src []*context.Variable // collected first: creating variables while iterating is undefined
		for v := range ctx.IterVariables() {
			if strings.HasPrefix(v.Scope(), srcScope+"/") {
				src = append(src, v)
			}
		}
		if len(src) == 0 {
			return errors.Errorf("llamapro: block %s has no variables to copy", models.ScopeToPath(srcScope))
		}
		for _, v := range src {
			val, err := v.Value()
			if err != nil {
				return errors.Wrapf(err, "llamapro: reading %s", v.ScopeAndName())
			}
			data, err := tensors.CopyFlatData[float32](val)
			if err != nil {
				return errors.Wrapf(err, "llamapro: %s is not float32 (a quantised base is not supported)", v.ScopeAndName())
			}
			rel := strings.TrimPrefix(v.Scope(), srcScope)
			if strings.HasSuffix(rel, "/o_proj") || strings.HasSuffix(rel, "/down_proj") {
				clear(data)
			}
			ctx.InAbsPath(dstScope+rel).Checked(false).VariableWithValue(v.Name(),
				tensors.FromFlatDataAndDimensions(data, v.Shape().Dimensions...))
		}
	}
	m.AddHooks(models.Hooks{Blocks: t.blocks})
	return nil
}

// blocks inserts the new blocks after their original blocks.
func (t *LLaMAPro) blocks(in []models.BlockRef) []models.BlockRef {
	out := make([]models.BlockRef, 0, len(in)+len(t.after))
	j := 0
	for i, b := range in {
		out = append(out, b)
		for j < len(t.after) && t.after[j] == i {
			out = append(out, models.BlockRef{Path: NewBlockPath(j)})
			j++
		}
	}
	return out
}

// ExpandedModel implements tuners.Expander: the base config with L+N layers, and the variable
// behind each tensor, the blocks renumbered in their new order.
func (t *LLaMAPro) ExpandedModel(ctx *context.Context, base *models.Config) (*models.Config, map[string]*context.Variable, error) {
	cfg := *base
	cfg.NumLayers = base.NumLayers + len(t.after)
	orig := make([]models.BlockRef, base.NumLayers)
	for i := range orig {
		orig[i] = models.BlockRef{Path: fmt.Sprintf("model.layers.%d", i)}
	}
	order := t.blocks(orig)
	out := map[string]*context.Variable{}
	names := make([]string, 0)
	for name := range cfg.ExpectedTensors() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		src := name
		if rest, ok := strings.CutPrefix(name, "model.layers."); ok {
			idx, tail, _ := strings.Cut(rest, ".")
			var k int
			if _, err := fmt.Sscan(idx, &k); err != nil || k >= len(order) {
				return nil, nil, errors.Errorf("llamapro: unexpected tensor %q", name)
			}
			src = order[k].Path + "." + tail
		}
		scope, vn := models.SplitTensorName(src)
		v := ctx.GetVariableByScopeAndName(scope, vn)
		if v == nil {
			return nil, nil, errors.Errorf("llamapro: variable for %q (from %s) is missing", name, src)
		}
		out[name] = v
	}
	return &cfg, out, nil
}

var _ tuners.Expander = (*LLaMAPro)(nil)
