# The few verbs everyone types. `make run` and `make test` work on a fresh machine:
# they create .venv and install the project with its dev extras first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)
PHENOPACKETS ?= ../shared/data/phenopacket-store/dev.tar.gz

.PHONY: install run test test-fast lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

## run: set up, then import the shared phenopackets into the embedded store and show its statistics
run: install
	$(BIN)/ocais demo $(PHENOPACKETS)

## test: set up, then lint, type-check, check layer contracts and run the whole test suite
test: install lint
	$(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow and not postgres"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

## bench: import throughput and knowledge-base load times (figures go to docs/benchmarks.md)
bench: install
	$(BIN)/python benchmarks/bench_ingest.py $(PHENOPACKETS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
