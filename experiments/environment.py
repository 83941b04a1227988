"""Where numbers come from: one set of keys for runs, regression baselines, replay and ``bplab bench``."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import jax

from backprop_core import count_params


def environment() -> dict[str, Any]:
    """jax version, backend, device kind and count, the host, and the git commit (when there is one)."""
    info: dict[str, Any] = {
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "device_kind": jax.devices()[0].device_kind,
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    commit = git_commit()
    if commit:
        info["git_commit"] = commit
    return info


def environment_params(params) -> dict[str, Any]:
    """``n_params`` and the :func:`environment`, logged as a run's params."""
    return {"n_params": count_params(params), **environment()}


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout this package runs from, or ``None`` outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None
