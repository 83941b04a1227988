# syntax=docker/dockerfile:1
# The Backprop Lab app image: `bplab`, `mlflow server` and `optuna-dashboard` from one install.
#
#   docker build -t bplab:cpu .                                   # CPU JAX (the default)
#   docker build -t bplab:cuda --build-arg JAX_EXTRA=cuda .       # JAX's CUDA 12 wheels (the `cuda` extra)
#
# The CUDA wheels bring their own CUDA libraries, so the same slim base serves both; a GPU container needs
# only the NVIDIA container toolkit on the host.
ARG PYTHON_VERSION=3.11
FROM python:${PYTHON_VERSION}-slim

ARG JAX_EXTRA=cpu
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

# An unprivileged user; /mlartifacts is created here so the named volume inherits its owner.
RUN useradd --create-home --uid 10001 bplab \
    && mkdir -p /mlartifacts \
    && chown bplab:bplab /mlartifacts

WORKDIR /app
COPY --chown=bplab:bplab pyproject.toml README.md ./
COPY --chown=bplab:bplab backprop_core ./backprop_core
COPY --chown=bplab:bplab experiments ./experiments
COPY --chown=bplab:bplab sweeps ./sweeps

# Editable, so the regression suite and its baselines are the files under /app/experiments.
RUN case "$JAX_EXTRA" in \
        cpu) extras="" ;; \
        cuda) extras="[cuda]" ;; \
        *) echo "JAX_EXTRA must be cpu or cuda, not '$JAX_EXTRA'" >&2; exit 1 ;; \
    esac \
    && pip install -e ".${extras}" "optuna-dashboard>=0.16,<1"

COPY --chown=bplab:bplab docker ./docker
USER bplab
CMD ["bplab", "--help"]
