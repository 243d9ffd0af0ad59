# AIArena — every entry point sets up what it needs, once, then runs.
#   make demo   whole arena round on a local anvil (make demo EXPLORE=1: then the explorer)
#   make demo-llm  a language-model task: chat data, a base model, LoRA adapters
#   make gpu-check  the GPU check (kernels, metrics, engine; SKIP lines without a GPU)
#   make test   the full test suite (contracts, fuzz, plugin, kernels, e2e)
#   make gas    gas per function at maximum sizes
#   make scale  one round at the paper's size (603 nodes, 1,051 validators, 63,265 delegators)
#               for K = 16/32/64 on titanoboa, a sample replayed on anvil: scale-report.md
#               (about 30 minutes on 2 cores; not part of make test)
#   make bench  validator throughput against baselines (quick mode: make bench ARGS=--quick)
#   make lint   ruff, formatting, and the layer contract of DESIGN §2 (import-linter)
#   make shell  a shell with ape, anvil and python on PATH;  make chain  the walkthrough's anvil
#   make fuzz-long  the stateful protocol machine at snekmate's depth, 375 runs x 500 steps
#               (about 20 minutes on 2 cores; not part of make test)
# GPU machines: make test EXTRAS=gpu,test  (onnxruntime-gpu instead of onnxruntime)

SHELL := /bin/bash
PYTHON ?= python3
EXTRAS ?= cpu,test
VENV := .venv
comma := ,
VENV_STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
NODE_STAMP := node_modules/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$(PATH)
# Never let an old Ape data folder or a stray node leak into runs.
export APE_DATA_FOLDER ?= $(CURDIR)/.cache/ape
export PYTHONDONTWRITEBYTECODE := 1
# Silence one known-harmless pydantic-settings warning that ape-vyper's config triggers.
export PYTHONWARNINGS := ignore:Field 'import_remapping' has an incomplete definition

.PHONY: all setup setup-gpu gpu-check demo demo-llm big-lm-check test test-fast gas scale bench lint format clean compile fuzz-long shell chain

all: test

# ---- set-up: only when missing or stale ------------------------------------------------
# EXTRAS=cpu,…: the CPU torch from download.pytorch.org when it answers (else the index's);
# EXTRAS=gpu,…: a CPU torch and the CPU onnxruntime are removed first (and the other way
# round), so the venv really switches; the two onnxruntime packages never sit together.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
$(VENV_STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || { $(PYTHON) -m venv $(VENV) && $(VENV)/bin/python -m pip install -q --upgrade "pip>=24"; }
	@rm -f $(VENV)/.installed-*
	@case ",$(EXTRAS)," in \
	  *,gpu,*) $(VENV)/bin/python -m pip uninstall -y -q onnxruntime 2>/dev/null; \
	           $(VENV)/bin/python -c "import importlib.metadata as m, sys; sys.exit('+cpu' not in m.version('torch'))" 2>/dev/null \
	             && $(VENV)/bin/python -m pip uninstall -y -q torch; true;; \
	  *,cpu,*) $(VENV)/bin/python -m pip uninstall -y -q onnxruntime-gpu 2>/dev/null; true;; \
	esac
	@extra=""; case ",$(EXTRAS)," in *,cpu,*) \
	  $(VENV)/bin/python -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" 2>/dev/null \
	    && extra="--extra-index-url $(TORCH_CPU_INDEX)";; esac; \
	  echo "$(VENV)/bin/python -m pip install -q -e \".[$(EXTRAS)]\" $$extra"; \
	  $(VENV)/bin/python -m pip install -q -e ".[$(EXTRAS)]" $$extra
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(VENV_STAMP) $(NODE_STAMP)

# A GPU machine: onnxruntime-gpu and the CUDA torch instead of the CPU ones (then run every
# target with EXTRAS=gpu,test, e.g. make test EXTRAS=gpu,test).
setup-gpu:
	$(MAKE) setup EXTRAS=gpu,test

# The explorer test drives a real browser: Debian's chromium (apt, at set-up; never at run time).
CHROMIUM_STAMP := .cache/.chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM_STAMP):
	@command -v chromium >/dev/null || { echo "installing Debian's chromium (the explorer test's browser)"; \
	  $(SUDO) apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 || \
	  { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends chromium; }; }
	@command -v chromium >/dev/null || { echo "chromium could not be installed: the explorer test needs it (apt-get install chromium)"; exit 1; }
	@mkdir -p $(dir $@) && touch $@

# ape-vyper's incremental compile can miss a change in an imported module (arena_state.vy)
# and keep a stale build: rebuild everything whenever any contract source changed.
CONTRACT_SOURCES := $(wildcard contracts/*.vy contracts/*/*.vy contracts/*/*.vyi)
BUILD_STAMP := .build/.compiled

$(BUILD_STAMP): $(CONTRACT_SOURCES) ape-config.yaml $(VENV_STAMP)
	ape compile --force
	python -m ape_arena.protocol.abi   # the ABIs the client ships with (protocol/abi/*.json)
	@touch $@

compile: setup $(BUILD_STAMP)

# ---- entry points -----------------------------------------------------------------------
# make demo EXPLORE=1: at the end, leave the explorer running on http://127.0.0.1:8080/
demo: setup $(BUILD_STAMP)
	ape run demo --network ethereum:local:foundry $(if $(EXPLORE),--explore)

# The language-model demo: a chat task, LoRA adapters on a committed base, one round.
demo-llm: setup $(BUILD_STAMP)
	ape run demo_llm --network ethereum:local:foundry

test: lint $(BUILD_STAMP) $(CHROMIUM_STAMP)
	ape test tests -p no:cacheprovider --network ethereum:local:foundry

FUZZ_EXAMPLES ?= 375
FUZZ_STEPS ?= 500
fuzz-long: setup $(BUILD_STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_STEPS=$(FUZZ_STEPS) ape test tests/fuzz/test_stateful.py \
		-p no:cacheprovider --network ethereum:local:foundry

# A shell with the project's ape, anvil and python on PATH (and its Ape data folder); `exit`
# leaves it. `make chain` (inside it or not) runs the local chain the README's walkthrough
# uses: chain id 1337 (Ape's local network) and the test mnemonic of ape-config.yaml.
shell: setup
	@echo "AIArena shell: ape, anvil and python from .venv and node_modules; 'exit' to leave"
	@$(SHELL) --rcfile <(echo '[ -f ~/.bashrc ] && . ~/.bashrc; PATH="$(CURDIR)/$(VENV)/bin:$(CURDIR)/node_modules/.bin:$$PATH"; PS1="(aiarena) $$PS1"') -i

MNEMONIC := test test test test test test test test test test test junk
chain: setup
	anvil --chain-id 1337 --accounts 20 --mnemonic "$(MNEMONIC)" --host 127.0.0.1 --port 8545

# The GPU check (kernels, metrics, bandwidth, engine): needs only Python, a CUDA torch and
# triton (the engine checks also the plugin and onnxruntime-gpu); SKIP lines without a GPU.
# Exit code = failures; results in gpu-check.json.
gpu-check:
	PYTHONPATH=$(CURDIR)/kernels:$(CURDIR)/plugins python3 -m arena_kernels.gpu_check --json gpu-check.json $(ARGS)

gas: setup $(BUILD_STAMP)
	ape run gas --network ethereum:local:foundry

scale: setup
	python -m ape_arena.tools.scale $(ARGS)

bench: setup
	python -m ape_arena.tools.bench $(ARGS)

# A causal LM over 2 GiB (weights in a sealed external-data file) through the engine; writes
# 2.3 GB to a temporary folder, needs ~7 GiB of RAM; outside `make test`.
big-lm-check: setup
	python -m ape_arena.tools.big_lm_check $(ARGS)

lint: setup
	ruff check .
	ruff format --check .
	lint-imports --no-cache

format: setup
	ruff format .
	ruff check --fix .

clean:
	rm -rf .build .cache .pytest_cache .hypothesis bench-results
