"""The gradient-check metrics a run logs, from one check: the same names wherever a check runs."""

from __future__ import annotations

from experiments.gradcheck.check import CheckResult


def gradcheck_metrics(result: CheckResult) -> dict[str, float]:
    """``gradcheck/max_rel_err`` and ``gradcheck/rel_err/W{l}`` (manual vs autodiff)."""
    metrics = {"gradcheck/max_rel_err": result.max_rel_err}
    for name, err in result.grad_rel_errs().items():
        if name.startswith("W"):
            metrics[f"gradcheck/rel_err/{name}"] = err
    return metrics
