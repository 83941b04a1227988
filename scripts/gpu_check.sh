#!/usr/bin/env bash
# One prepared run on a GPU machine: the population sweep benchmark, the core tests and `bplab bench`,
# results written to "$OUT", all inside one device-time budget.
#
#   scripts/gpu_wheels.sh                          # here, once: the packages the device image lacks
#   OUT=/some/dir scripts/gpu_check.sh             # on the device (the runner's carry: [".whl"])
#   OUT=/tmp/x scripts/gpu_check.sh --dry-run      # on a CPU: tiny sizes, proves the script runs
#
# Steps, most wanted first, each cut to what is left of GPU_CHECK_BUDGET (default 290 s):
#   1. the sweep benchmark (python -m benchmarks.population_sweep): a 1,000-trial digits sweep, 30 epochs
#      each, every trial tracked (MLflow on SQLite, Optuna journal, empty compile cache,
#      sweep.pruner=none), at the backend's default --population (16 on a GPU) with --workers
#      SWEEP_WORKERS (default 4: the host's Python work per trial, spread over processes); then the
#      same sweep at --population 1; then, when SWEEP_WORKERS > 1, the default population in one
#      process. Each gets a time budget passed as the sweep's --timeout (SWEEP_BUDGET, default 110 s,
#      long enough to see 1,000 trials finish under 2 minutes; SWEEP1_BUDGET 20 s; SWEEP_W1_BUDGET
#      30 s): no trial starts after it, so a sweep that cannot finish 1,000 trials in time still gives
#      trials per minute over the trials it finished (the table says "cut at N s"), and one still
#      running SWEEP_GRACE (45 s) later is killed and counted as it stands.
#   2. `pytest` on the core tests, the population and masking tests first (they prove what step 1
#      measures). TEST_TIMEOUT caps it (default 180 s); a cut run exits 4.
#   3. `bplab bench --json` with the last BENCH_RESERVE seconds (default 45 s; --quick unless
#      GPU_CHECK_QUICK=0 and at least BENCH_TIMEOUT, default 150 s, is left).
#
# Writes:
#   $OUT/gpu_sweep.json  every sweep (trials done, tracked child runs, wall s, trials/min) and the CPU rate
#   $OUT/gpu_sweep.txt   the same as a small table
#   $OUT/gpu_tests.log   the environment (nvidia-smi, python, jax devices), the wheel install, every
#                        step's log and the pytest output
#   $OUT/gpu_bench.json  `bplab bench --json` (one measurement)
#   $OUT/gpu_bench.txt   the same measurement rendered as the table, plus its markdown for the docs
#
# CPU rate for the table (CPU_TRIALS_PER_MIN): measured on the 2-core development machine with
#   python -m benchmarks.population_sweep --n-trials 30 --population 1
# i.e. the same command at N=30 (the population default on CPU is 1); see docs/PERFORMANCE.md.
#
# Packages: the device image has JAX with its CUDA plugin, numpy, pandas, scikit-learn, matplotlib,
# typer, rich and pytest, but not MLflow, Optuna and what they import. scripts/gpu_wheels.sh fetches
# those into `.whl` (git-ignored; the machine is offline, so they travel in the runner's `carry`), and
# this script installs them with --no-deps into GPU_CHECK_SITE (/tmp/bplab-site) on PYTHONPATH.
# The project itself is put on PYTHONPATH rather than pip-installed: an offline `pip install -e .`
# would need setuptools available for the build, and `python -m bplab` needs no console script.
#
# Knobs (environment): PYTHON (default python3), GPU_CHECK_BUDGET, SWEEP_TRIALS (1000), SWEEP_EPOCHS
# (30), SWEEP_POPULATION (the backend's default), SWEEP_WORKERS, SWEEP_BUDGET, SWEEP1_BUDGET,
# SWEEP_W1_BUDGET, SWEEP_GRACE, TEST_TIMEOUT, BENCH_RESERVE, BENCH_TIMEOUT, GPU_CHECK_QUICK.
#
# Exit status: 0 when every step ran to its end on a GPU backend; 1 when a step failed; 4 when nothing
# failed but the budget cut the tests; 3 when everything ran but on a non-GPU backend (a dry run).

set -uo pipefail

cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT"
DRY=0
[ "${1:-}" = --dry-run ] && DRY=1
PY="${PYTHON:-python3}"
BUDGET="${GPU_CHECK_BUDGET:-290}"
SWEEP_TRIALS="${SWEEP_TRIALS:-1000}"
SWEEP_EPOCHS="${SWEEP_EPOCHS:-30}"
SWEEP_WORKERS="${SWEEP_WORKERS:-4}"
SWEEP_BUDGET="${SWEEP_BUDGET:-110}"
SWEEP1_BUDGET="${SWEEP1_BUDGET:-20}"
SWEEP_W1_BUDGET="${SWEEP_W1_BUDGET:-30}"
SWEEP_GRACE="${SWEEP_GRACE:-45}"  # seconds after a budget for the trials already started and the parent's plots
TEST_TIMEOUT="${TEST_TIMEOUT:-180}"
BENCH_RESERVE="${BENCH_RESERVE:-45}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-150}"
TESTS=(tests/core/test_population.py tests/core/test_masks.py tests/core)
if [ $DRY = 1 ]; then  # tiny sizes: every step runs end to end in about a minute on a CPU
    SWEEP_TRIALS=8 SWEEP_EPOCHS=2 SWEEP_BUDGET=20 SWEEP1_BUDGET=10 SWEEP_W1_BUDGET=10 SWEEP_GRACE=60
    SWEEP_WORKERS=2 GPU_CHECK_QUICK=1
    SWEEP_POPULATION="${SWEEP_POPULATION:-4}"
    TESTS=(tests/core/test_population.py)
fi
# Population 1 on the 2-core CPU machine, N=30, 30 epochs (python -m benchmarks.population_sweep
# --n-trials 30 --population 1): trials/min, and the load average it ran under.
CPU_TRIALS_PER_MIN=72.9
CPU_NOTE="30 trials in 24.7 s, population 1, 2 cores at load average 1.0-1.4 (2026-12-04, median of 3 runs: 22.0, 24.7, 25.4 s)"
LOG="$OUT/gpu_tests.log"
: >"$LOG"
status=0
START=$SECONDS

log() { echo "[gpu_check $(date +%H:%M:%S) +$((SECONDS - START))s] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - (SECONDS - START))); }
min() { echo $(($1 < $2 ? $1 : $2)); }

backend() {
    # Prints the devices and returns 0 when JAX's default backend is a GPU.
    "$PY" -c 'import jax, sys; print(jax.__version__, jax.default_backend(), jax.devices()); sys.exit(jax.default_backend() != "gpu")' \
        >>"$LOG" 2>&1
}

log "repository $(pwd), python $("$PY" --version 2>&1), budget ${BUDGET}s$([ $DRY = 1 ] && echo ', DRY RUN')"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi: not found"; } >>"$LOG" 2>&1

# The wheels scripts/gpu_wheels.sh fetched (what the device image lacks: MLflow, Optuna and theirs),
# installed as they are: --no-deps, since the image's own packages stand in for the rest, and pip
# could not resolve against an index that is not there.
wheels=()
[ -d .whl ] && wheels=(.whl/*.whl)
[ -e "${wheels[0]:-}" ] || wheels=()
if [ ${#wheels[@]} -gt 0 ]; then
    SITE="${GPU_CHECK_SITE:-/tmp/bplab-site}"
    log "installing the ${#wheels[@]} wheels in .whl into $SITE (offline, --no-deps)"
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "${wheels[@]}" >>"$LOG" 2>&1; then
        export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    else
        log "wheel install FAILED (see above)"
    fi
fi
on_gpu=0
backend && on_gpu=1
log "backend for this run: $([ $on_gpu = 1 ] && echo gpu || echo NOT gpu)"

# Whatever the tests, the sweep and the bench import beyond jax, imported in one process (an import
# also fails on a dependency --no-deps left out); reported, not installed from elsewhere.
missing=($("$PY" - numpy pytest typer rich optuna mlflow sqlalchemy plotly pydantic tomli_w 2>>"$LOG" <<'EOF'
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as e:
        print(name)
        print(f"import {name}: {e}", file=sys.stderr)
EOF
))
[ ${#missing[@]} -eq 0 ] || log "modules missing: ${missing[*]}"

export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"

# 1. The sweep benchmark: the backend's default population with SWEEP_WORKERS processes, then the
#    same sweep at population 1, then (when SWEEP_WORKERS > 1) the default population in one process.
if [ -z "${SWEEP_POPULATION:-}" ]; then
    SWEEP_POPULATION=$("$PY" -c 'import jax; from sweeps.population import default_population as d; print(d(jax.default_backend()))' 2>>"$LOG") ||
        SWEEP_POPULATION=16
fi
sweep() {  # sweep K W BUDGET_S → $OUT/gpu_sweep_pK_wW.json (folded into gpu_sweep.json below)
    local k=$1 w=$2 budget=$3 file="$OUT/gpu_sweep_p$1_w$2.json"
    log "sweep: $SWEEP_TRIALS trials x $SWEEP_EPOCHS epochs, --population $k --workers $w, no trial started after ${budget}s"
    timeout $((budget + SWEEP_GRACE + 30)) "$PY" -m benchmarks.population_sweep --n-trials "$SWEEP_TRIALS" \
        --epochs "$SWEEP_EPOCHS" --population "$k" --workers "$w" --budget "$budget" --grace "$SWEEP_GRACE" \
        >"$file" 2>>"$LOG"
    local rc=$?
    log "sweep --population $k --workers $w exit status $rc"
    [ $rc -eq 0 ] || { rm -f "$file"; status=1; }
}
sweep_budget() { min "$1" $(($(left) - SWEEP_GRACE - 60)); }
if [ ${#missing[@]} -eq 0 ]; then
    sweep "$SWEEP_POPULATION" "$SWEEP_WORKERS" "$(sweep_budget "$SWEEP_BUDGET")"
    [ "$SWEEP_POPULATION" = 1 ] || sweep 1 "$SWEEP_WORKERS" "$(sweep_budget "$SWEEP1_BUDGET")"
    [ "$SWEEP_WORKERS" = 1 ] || sweep "$SWEEP_POPULATION" 1 "$(sweep_budget "$SWEEP_W1_BUDGET")"
    # One table and one JSON document from the per-sweep files, in the order they ran.
    "$PY" - "$OUT" "$CPU_TRIALS_PER_MIN" "$CPU_NOTE" "$on_gpu" >"$OUT/gpu_sweep.txt" 2>>"$LOG" <<'EOF'
import glob, json, os, sys
out, cpu_rate, cpu_note, on_gpu = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
files = sorted(glob.glob(os.path.join(out, "gpu_sweep_p*_w*.json")), key=os.path.getmtime)
rows = [json.load(open(p)) for p in files]
device = "GPU" if on_gpu else "this machine (NOT a GPU)"
print("| where | --population | --workers | trials done / asked | tracked runs | wall s | trials/min |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    done = f"{r['completed']} / {r['n_trials_asked']}" + ("" if r["all_finished"] else f" (cut at {r['budget_s']:g} s)")
    done += ", killed after the grace" if r.get("killed_after_grace") else ""
    print(f"| {device} | {r['population']} | {r['workers']} | {done} | {r['tracked_child_runs']} "
          f"| {r['wall_s']:.1f} | {r['trials_per_min']:.0f} |")
print(f"| 2-core CPU (dev machine) | 1 | 1 | 30 / 30 | 30 | — | {cpu_rate:.0f} |")
print(f"\nCPU row: {cpu_note}")
doc = {"rows": rows, "cpu": {"population": 1, "n_trials": 30, "trials_per_min": cpu_rate, "note": cpu_note}}
if rows:
    main = rows[0]
    same_workers = [r for r in rows if r["population"] == 1 and r["workers"] == main["workers"]]
    if same_workers and main["population"] > 1:
        doc["speedup_over_population_1"] = main["trials_per_min"] / same_workers[0]["trials_per_min"]
        print(f"--population {main['population']} / --population 1 (--workers {main['workers']}): "
              f"{doc['speedup_over_population_1']:.1f}x trials per minute")
    doc["speedup_over_cpu"] = main["trials_per_min"] / cpu_rate
    doc["target_1000_in_2_min"] = main["n_trials_asked"] >= 1000 and main["all_finished"] and main["wall_s"] < 120
    print(f"--population {main['population']} --workers {main['workers']} / CPU: "
          f"{doc['speedup_over_cpu']:.1f}x trials per minute")
    print(f"target (1,000 tracked trials in under 2 minutes): {'met' if doc['target_1000_in_2_min'] else 'MISSED'}")
json.dump(doc, open(os.path.join(out, "gpu_sweep.json"), "w"), indent=2)
for p in files:  # folded into gpu_sweep.json: the runner brings back 8 files at most
    os.remove(p)
EOF
    [ $? -eq 0 ] || { log "the sweep table failed"; status=1; }
    cat "$OUT/gpu_sweep.txt" | tee -a "$LOG"
else
    log "sweep skipped: ${missing[*]} missing"
    status=1
fi

# 2. The core tests, with what is left but the bench's reserve.
test_s=$(min "$TEST_TIMEOUT" $(($(left) - BENCH_RESERVE)))
cut=0
if [ "$test_s" -ge 20 ]; then
    log "pytest ${TESTS[*]} -q (at most ${test_s}s)"
    timeout "$test_s" "$PY" -m pytest "${TESTS[@]}" -q -p no:cacheprovider >>"$LOG" 2>&1
    rc=$?
    if [ $rc -eq 124 ]; then
        cut=1
        log "pytest CUT by the budget after ${test_s}s (the tests that ran are in this log)"
    else
        log "pytest exit status $rc"
        [ $rc -eq 0 ] || status=1
    fi
else
    cut=1
    log "pytest SKIPPED: ${test_s}s left before the bench's reserve"
fi

# 3. The bench with what is left.
bench_s=$(left)
quick=()
if [ "${GPU_CHECK_QUICK:-1}" = 1 ] || [ "$bench_s" -lt "$BENCH_TIMEOUT" ]; then quick=(--quick); fi
bench_s=$(min "$BENCH_TIMEOUT" "$bench_s")
if [ "$bench_s" -lt 15 ]; then
    log "bench SKIPPED: ${bench_s}s left"
    rc=124
else
    log "bench ${quick[*]:-} --json (at most ${bench_s}s)"
    if "$PY" -c "import typer" 2>/dev/null; then
        bench=("$PY" -m bplab bench --json "${quick[@]}")
    else  # the CLI needs typer; the library function is the same measurement without it
        flag=$([ ${#quick[@]} -gt 0 ] && echo True || echo False)
        bench=("$PY" -c "from bplab.bench import command; command(json_out=True, quick=$flag)")
    fi
    timeout "$bench_s" "${bench[@]}" >"$OUT/gpu_bench.json" 2>"$OUT/gpu_bench.stderr"
    rc=$?
    log "bench exit status $rc"
    cat "$OUT/gpu_bench.stderr" >>"$LOG"
    rm -f "$OUT/gpu_bench.stderr"
fi

if [ $rc -eq 0 ]; then
    # The table and its markdown from the same JSON: one measurement, two renderings.
    "$PY" - "$OUT/gpu_bench.json" >"$OUT/gpu_bench.txt" 2>>"$LOG" <<'EOF'
import json, sys
from bplab.bench import render, to_markdown
result = json.load(open(sys.argv[1]))
render(result)
print()
print(to_markdown(result))
EOF
    [ $? -eq 0 ] || { log "rendering the table failed"; status=1; }
else
    rm -f "$OUT/gpu_bench.json"
    status=1
fi

if [ $status -eq 0 ] && [ $cut = 1 ]; then status=4; fi
if [ $status -eq 0 ] || [ $status -eq 4 ]; then [ $on_gpu = 1 ] || status=3; fi
log "done in $((SECONDS - START))s, exit status $status; files: $(ls "$OUT" | tr '\n' ' ')"
exit $status
