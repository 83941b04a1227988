#!/usr/bin/env bash
# Fetches into .whl the wheels scripts/gpu_check.sh installs on the GPU machine: the packages a sweep
# imports that the device image lacks (MLflow, Optuna and what they import beyond the image's own
# numpy, pandas, scikit-learn, matplotlib, typer, rich, protobuf's users…), at the versions of this
# checkout's .venv, for the image's Python (3.12). The machine is offline, so they travel in `carry`.
#
#   scripts/gpu_wheels.sh              # then: run(command="OUT=$OUT scripts/gpu_check.sh", carry=[".whl"])
#   GPU_WHEELS_PY=3.11 GPU_WHEELS_DIR=/tmp/w311 scripts/gpu_wheels.sh   # the same set for a local trial
#
# The list was made by importing everything a population sweep imports here and subtracting the
# image's package list (/work/.library/device/KINDS.md); mlflow-skinny and mlflow-tracing hold every
# Python file of `mlflow` (its wheel adds only the UI's 27 MB of JavaScript). About 32 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
PY_VERSION="${GPU_WHEELS_PY:-3.12}"
DIR="${GPU_WHEELS_DIR:-.whl}"
PACKAGES=(
    mlflow-skinny mlflow-tracing optuna alembic sqlalchemy greenlet mako colorlog plotly tomli-w
    pydantic pydantic-core annotated-types typing-inspection fastapi starlette sqlparse cachetools
    databricks-sdk google-auth pyasn1 pyasn1-modules cryptography cffi importlib-metadata protobuf
    psycopg2-binary  # tests/conftest.py imports it (the PostgreSQL fixtures), even for tests/core
    opentelemetry-api opentelemetry-sdk opentelemetry-proto opentelemetry-semantic-conventions
)
pinned=()
for p in "${PACKAGES[@]}"; do
    v=$(.venv/bin/python -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$p") ||
        { echo "gpu_wheels: $p is not installed in .venv (run make .venv/.installed)" >&2; exit 2; }
    pinned+=("$p==$v")
done
rm -rf "$DIR" && mkdir -p "$DIR"
platforms=()
for p in manylinux_2_34 manylinux_2_28 manylinux_2_27 manylinux_2_17 manylinux2014 manylinux1; do
    platforms+=(--platform "${p}_x86_64")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" --implementation cp \
    "${platforms[@]}" -d "$DIR" "${pinned[@]}"
echo "gpu_wheels: $(ls "$DIR" | wc -l) wheels, $(du -sh "$DIR" | cut -f1), in $DIR"
