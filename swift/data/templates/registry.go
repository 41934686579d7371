package templates

import (
	"sort"
	"strings"
	"sync"

	"github.com/pkg/errors"

	"github.com/goswift/goswift/swift/tokenizers"
)

var (
	mu       sync.RWMutex
	registry = map[string]Template{}
)

// Register makes a template available by its name. It panics if the name is empty or taken
// (like database/sql.Register); call it from an init function.
func Register(t Template) {
	mu.Lock()
	defer mu.Unlock()
	if t == nil || t.Name() == "" {
		panic("templates: Register with a nil template or an empty name")
	}
	if _, dup := registry[t.Name()]; dup {
		panic("templates: Register called twice for " + t.Name())
	}
	registry[t.Name()] = t
}

// Names lists the registered templates, sorted.
func Names() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Get returns the template registered under name.
func Get(name string) (Template, error) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := registry[name]
	if !ok {
		return nil, errors.Errorf("unknown template %q (known: %s)", name, strings.Join(namesLocked(), ", "))
	}
	return t, nil
}

func namesLocked() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// ForModel picks a template for a model: from the tokenizer's special tokens when it has them
// (<|im_start|> → chatml, <|start_header_id|> → llama-3), else from the model type (qwen2 →
// chatml, mistral → llama-2); a llama2.c tokenizer (tiny models) gets compact; anything else
// default.
func ForModel(modelType string, tok tokenizers.Tokenizer) string {
	if t, ok := tok.(interface{ TokenID(string) int }); ok {
		switch {
		case t.TokenID("<|im_start|>") >= 0:
			return "chatml"
		case t.TokenID("<|start_header_id|>") >= 0:
			return "llama-3"
		}
	}
	if _, ok := tok.(*tokenizers.Llama2C); ok {
		return "compact"
	}
	switch modelType {
	case "qwen2":
		return "chatml"
	case "mistral":
		return "llama-2"
	}
	return "default"
}
