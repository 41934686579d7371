package models

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Architecture is one registered model_type: it turns a config.json into a Config that the
// Llama-family graph (Model) implements, rejecting what it doesn't implement.
type Architecture interface {
	// ParseConfig decodes a config.json (already split into keys).
	ParseConfig(raw map[string]json.RawMessage) (*Config, error)
}

var (
	registryMu sync.RWMutex
	registry   = map[string]Architecture{}
)

// Register makes an architecture available under a config.json model_type, like
// database/sql.Register: call it from init; registering a name twice panics.
func Register(modelType string, arch Architecture) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if arch == nil {
		panic("models: Register architecture is nil")
	}
	if _, dup := registry[modelType]; dup {
		panic(fmt.Sprintf("models: Register called twice for model_type %q", modelType))
	}
	registry[modelType] = arch
}

// Lookup returns the architecture registered for modelType.
func Lookup(modelType string) (Architecture, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	a, ok := registry[modelType]
	return a, ok
}

// Names lists the registered model types, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// llamaFamily is the architecture of llama, mistral and qwen2: the same decoder, differing in
// the q/k/v bias and in which config keys they carry.
type llamaFamily struct {
	modelType string
	qkvBias   bool
}

func (a llamaFamily) ParseConfig(raw map[string]json.RawMessage) (*Config, error) {
	cfg, err := parseLlamaLike(raw, a.qkvBias)
	if err != nil {
		return nil, err
	}
	cfg.ModelType = a.modelType
	return cfg, nil
}

func init() {
	Register("llama", llamaFamily{modelType: "llama"})
	Register("mistral", llamaFamily{modelType: "mistral"})
	Register("qwen2", llamaFamily{modelType: "qwen2", qkvBias: true})
}
