# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements-dev.lock
# Extra pytest arguments for `make test` and `make test-cov`, e.g. PYTEST_ARGS="-x -k outbox".
PYTEST_ARGS ?=
# Branch coverage the suite must keep (`make test-cov`, run by .ci/run), a little below what it
# reaches: the pure core with the outbox's state machine (91%), the retry policy on its own (100%).
COVERAGE_MIN := 89
COVERAGE_MIN_RETRY := 95

.PHONY: install lock demo test test-cov test-fast lint format bench clean

# Every dependency at the version and hashes of the lock; the project itself on top, editable.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# After changing the dependencies in pyproject.toml: resolve them again, keeping the pins that
# still fit (`make lock LOCK_ARGS=--upgrade` takes the newest versions allowed instead).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --strip-extras --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o $(LOCK) pyproject.toml

demo: $(STAMP)
	$(BIN)/forvent demo

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

test-cov: $(STAMP)
	$(BIN)/python -m pytest -q --cov=engine.core --cov=engine.store.outbox --cov-branch \
	  --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_MIN) $(PYTEST_ARGS)
	$(BIN)/python -m coverage report --include=engine/core/retry.py --fail-under=$(COVERAGE_MIN_RETRY)

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage demo outbox forvent.db
