"""Gradient checks that locate the wrong equation: manual vs ``jax.grad`` vs central differences.

This facade exports the check itself (used by every run's periodic check). The pipeline and the
command sit above :mod:`experiments.run` and are imported by path:
:func:`experiments.gradcheck.stages.check_stages`, :func:`experiments.gradcheck.command.run_gradcheck`
— re-exporting them here would make the runner import itself through this package.
"""

from experiments.gradcheck.check import (
    TOLERANCES,
    CheckResult,
    TensorCheck,
    check_batch,
    check_gradients,
)
from experiments.gradcheck.metrics import gradcheck_metrics

__all__ = ["TOLERANCES", "CheckResult", "TensorCheck", "check_batch", "check_gradients", "gradcheck_metrics"]
