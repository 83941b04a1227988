# Two commands on a fresh clone: `make demo` and `make test`. Each creates .venv and installs first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast test-durations lint bench clean

# uv installs the project into the venv: from an empty cache it takes about 10 s here, where pip
# took about 50 s for the same versions (JAX, MLflow, Optuna, scikit-learn, …; `make test` pays it
# on every fresh clone). pip only fetches uv itself.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[test]'
	touch $@

# A small digits sweep (16 trials × 20 epochs, under a minute on 2 cores) on the embedded stores
# (./optuna.journal, ./mlflow.db); it ends with the best trials and the parent run's URL.
demo: $(STAMP)
	$(BIN)/bplab sweep experiments/configs/digits.toml --study digits-demo --n-trials 16 --set train.epochs=20
	@echo "Open the MLflow UI on these runs: $(BIN)/bplab ui   (then the parent run's URL above)"

# pytest-xdist workers, one test file per worker at a time (a file's tests share compiled JAX programs).
# Files go out longest first (tests/conftest.py orders them), not by their number of tests.
# The fast tests are CPU-bound: one worker per core. The integration tests mostly wait on the processes
# they start, so the whole suite runs twice as many workers as cores.
CORES := $(shell nproc 2>/dev/null || echo 2)
FAST_WORKERS ?= $(CORES)
WORKERS ?= $(shell expr 2 \* $(CORES))

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder

# Everything that starts no service, subprocess or browser (the `integration` marker): under 90 s on 2 cores.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not integration" -n $(FAST_WORKERS) --dist loadfile --no-loadscope-reorder

# Re-measures each file's time into tests/durations.json, which orders the files of the next runs.
test-durations: $(STAMP)
	$(BIN)/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder --record-durations

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/bplab bench

clean:
	rm -rf $(VENV) mlflow.db mlartifacts *.journal *.journal.* .pytest_cache
