#!/usr/bin/env bash
# One prepared run on a GPU machine: the core tests and `bplab bench`, results written to "$OUT".
#
#   OUT=/some/dir scripts/gpu_check.sh
#
# Writes:
#   $OUT/gpu_tests.log   the environment (nvidia-smi, python, jax devices), any wheel install, and
#                        `pytest tests/core -q`
#   $OUT/gpu_bench.json  `bplab bench --json` (one measurement)
#   $OUT/gpu_bench.txt   the same measurement rendered as the table, plus its markdown for the docs
#
# JAX: if `python3 -c "import jax"` does not find a GPU backend and a folder `.whl` exists in the
# repository root, the wheels in it are installed with `pip install --no-index --find-links .whl`
# (nothing is ever downloaded: the machine is offline). `.whl` is git-ignored, so pass it in the
# runner's `carry`. Without `.whl` the installed packages are used as they are.
#
# The project itself is put on PYTHONPATH rather than pip-installed: an offline `pip install -e .`
# would need setuptools available for the build, and nothing here needs the console script.
#
# Knobs (environment): PYTHON (default python3), GPU_CHECK_QUICK=1 passes --quick to the bench
# (for a dry run on a CPU), TEST_TIMEOUT / BENCH_TIMEOUT in seconds (defaults 180 / 150, which keep
# the whole script under about 5 minutes).
#
# Exit status: 0 when the tests and the bench ran on a GPU backend; 1 when a step failed;
# 3 when everything ran but on a non-GPU backend (a dry run, or no CUDA jax on the machine).

set -uo pipefail

cd "$(dirname "$0")/.."
: "${OUT:?set OUT to the folder the results go to}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
TEST_TIMEOUT="${TEST_TIMEOUT:-180}"
BENCH_TIMEOUT="${BENCH_TIMEOUT:-150}"
LOG="$OUT/gpu_tests.log"
: >"$LOG"
status=0

log() { echo "[gpu_check $(date +%H:%M:%S)] $*" | tee -a "$LOG"; }

backend() {
    # Prints the devices and returns 0 when JAX's default backend is a GPU.
    "$PY" -c 'import jax, sys; print(jax.__version__, jax.default_backend(), jax.devices()); sys.exit(jax.default_backend() != "gpu")' \
        >>"$LOG" 2>&1
}

pip_install() {
    # Offline, from .whl only; PEP 668 system pythons refuse plain `pip install` without the flag.
    "$PY" -m pip install --no-index --find-links .whl "$@" >>"$LOG" 2>&1 ||
        "$PY" -m pip install --break-system-packages --no-index --find-links .whl "$@" >>"$LOG" 2>&1
}

log "repository $(pwd), python $("$PY" --version 2>&1)"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi: not found"; } >>"$LOG" 2>&1

log "jax before any install:"
if backend; then
    log "jax has a GPU backend; using the installed packages"
elif [ -d .whl ]; then
    wheels=(.whl/*.whl)
    [ -e "${wheels[0]}" ] || wheels=()
    log "no GPU backend; installing the ${#wheels[@]} wheels in .whl (offline)"
    if [ ${#wheels[@]} -gt 0 ] && pip_install "${wheels[@]}"; then
        log "wheels installed"
    else
        log "wheel install FAILED (see above)"
    fi
    backend || log "still no GPU backend after the install"
else
    log "no GPU backend and no .whl folder; going on with what is installed"
fi

# Whatever the tests and the bench import beyond jax; reported, not installed from anywhere else.
for mod in numpy pytest typer rich; do
    if ! "$PY" -c "import $mod" 2>/dev/null; then
        if [ -d .whl ]; then pip_install "$mod" && continue; fi
        log "module $mod is missing"
    fi
done

export PYTHONPATH="$(pwd)${PYTHONPATH:+:$PYTHONPATH}"
on_gpu=0
backend && on_gpu=1
log "backend for this run: $([ $on_gpu = 1 ] && echo gpu || echo NOT gpu)"

log "pytest tests/core -q"
timeout "$TEST_TIMEOUT" "$PY" -m pytest tests/core -q -p no:cacheprovider >>"$LOG" 2>&1
rc=$?
log "pytest exit status $rc"
[ $rc -eq 0 ] || status=1

quick=()
[ "${GPU_CHECK_QUICK:-0}" = 1 ] && quick=(--quick)
log "bench ${quick[*]:-} --json"
if "$PY" -c "import typer" 2>/dev/null; then
    bench=("$PY" -m bplab bench --json "${quick[@]}")
else  # the CLI needs typer; the library function is the same measurement without it
    flag=$([ ${#quick[@]} -gt 0 ] && echo True || echo False)
    bench=("$PY" -c "from bplab.bench import command; command(json_out=True, quick=$flag)")
fi
timeout "$BENCH_TIMEOUT" "${bench[@]}" >"$OUT/gpu_bench.json" 2>"$OUT/gpu_bench.stderr"
rc=$?
log "bench exit status $rc"
cat "$OUT/gpu_bench.stderr" >>"$LOG"
rm -f "$OUT/gpu_bench.stderr"

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
    status=1
fi

if [ $status -eq 0 ] && [ $on_gpu = 0 ]; then status=3; fi
log "done, exit status $status; files: $(ls "$OUT" | tr '\n' ' ')"
exit $status
