# Two commands on a fresh clone: `make demo` and `make test`. Each creates .venv and installs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-durations lint bench clean bytecode

# uv installs the project into the venv: about 8 s here from a warm cache, where pip took about
# 50 s for the same versions (`make test` pays it on every fresh clone); pip only fetches uv itself.
# Where PYTHONDONTWRITEBYTECODE is set (as on CI here), Python would compile every module it imports
# from source in every process (the imports of `bplab sweep`: 9.8 s instead of 3.9 s). So every job
# below writes bytecode (the export): the first process to import a module compiles it once, for
# every later one. That costs less than compiling all 12,000 installed modules at install
# (`uv pip install --compile-bytecode`: 17 s more, of which a `make test` imports fewer than half).
export PYTHONDONTWRITEBYTECODE :=

PACKAGES := backprop_core experiments sweeps bplab benchmarks

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $@

# The project's own modules, compiled before each job (incremental: only those changed since). With
# bytecode writing on, each pytest worker also reuses the test modules its assertion rewriting
# compiled (collecting the suite: 6.5 s instead of 8.0 s a worker).
bytecode: $(STAMP)
	$(BIN)/python -m compileall -q $(PACKAGES) >/dev/null

# A small digits sweep (16 trials × 20 epochs, under a minute on 2 cores) on the embedded stores
# (./optuna.journal, ./mlflow.db); it ends with the best trials and the parent run's URL.
demo: bytecode
	$(BIN)/bplab sweep experiments/configs/digits.toml --study digits-demo --n-trials 16 --set train.epochs=20
	@echo "Open the MLflow UI on these runs: $(BIN)/bplab ui   (then the parent run's URL above)"

# pytest-xdist workers, one test file per worker at a time (a file's tests share compiled JAX programs).
# Files go out longest first (tests/conftest.py orders them), not by their number of tests.
# The fast tests are CPU-bound: one worker per core. The integration tests mostly wait on the processes
# they start, so the whole suite runs twice as many workers as cores.
CORES := $(shell nproc 2>/dev/null || echo 2)
FAST_WORKERS ?= $(CORES)
WORKERS ?= $(shell expr 2 \* $(CORES))

# pytest, files spread as above.
PYTEST := $(BIN)/python -m pytest --dist loadfile --no-loadscope-reorder

test: bytecode
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(PYTEST) -n $(WORKERS)

# Everything that starts no service, subprocess or browser (the `integration` marker). The aim is
# under 90 s on 2 cores; docs/PERFORMANCE.md has what it takes now.
test-fast: bytecode
	$(PYTEST) -m "not integration" -n $(FAST_WORKERS)

# Re-measures each file's time into tests/durations.json, which orders the files of the next runs.
test-durations: bytecode
	$(PYTEST) -n $(WORKERS) --record-durations

lint: $(STAMP)
	$(BIN)/ruff check .

bench: bytecode
	$(BIN)/bplab bench

clean:
	rm -rf $(VENV) mlflow.db mlartifacts *.journal *.journal.* .pytest_cache
