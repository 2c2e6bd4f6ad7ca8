# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/forvent demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check engine tests benchmarks
	$(BIN)/ruff format --check engine tests benchmarks
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format engine tests benchmarks
	$(BIN)/ruff check --fix engine tests benchmarks

bench: $(STAMP)
	$(BIN)/forvent bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo outbox forvent.db
