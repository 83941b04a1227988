"""The rules each measured number must keep; pure functions from numbers to report rows.

- ``train``: ``train_loss``, ``val_loss`` and ``test_loss`` must lie within
  ``loss_abs + loss_rel·|baseline|`` of the baseline, ``val_accuracy`` and ``test_accuracy`` within
  ``accuracy_abs``; both ways, because a backprop bug can make a loss *lower* (a gradient twice too
  large acts like a larger learning rate). The final manual-vs-autodiff check,
  ``gradcheck/max_rel_err``, must be ≤ ``grad_rel_err_max``: agreement is a property of the code, not
  a trend, so its limit is absolute. A run that ends FAILED (diverged, gradient mismatch) fails the case.
- ``gradcheck``: ``max_rel_err`` ≤ ``grad_rel_err_max`` and ``fd_rel_err`` ≤ ``fd_rel_err_max``.
- ``throughput``: ``throughput_ratio`` must be ≥ ``min_fraction`` × the baseline's; the absolute
  samples per second are reported, not judged.

A case whose baseline lacks a judged metric fails ("no baseline"): a suite that cannot compare
cannot pass.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from experiments.regression.suite import Case

LOSSES = ("train_loss", "val_loss", "test_loss")
ACCURACIES = ("val_accuracy", "test_accuracy")
NO_BASELINE = "no baseline (run bplab regress --update-baseline)"


@dataclass(frozen=True)
class Check:
    """One row of the report.

    Attributes:
      case, metric: what was measured.
      baseline, now: the numbers (``None`` when missing).
      limit: the rule in words, e.g. ``±(0.0001 + 5%)``, ``≤ 1e-10``, ``≥ 0.5× baseline``.
      passed: whether the rule held (always ``True`` for a row that is not ``gated``).
      gated: ``False`` for numbers reported for context only.
      absolute: the rule does not depend on the baseline (gradient agreement, a run that failed).
      note: why it failed, when that is not obvious from the numbers.
    """

    case: str
    metric: str
    baseline: float | None
    now: float | None
    limit: str
    passed: bool
    gated: bool = True
    absolute: bool = False
    note: str = ""

    @property
    def delta(self) -> float | None:
        """``now − baseline`` (``None`` when either is missing)."""
        if self.baseline is None or self.now is None:
            return None
        return self.now - self.baseline

    @property
    def result(self) -> str:
        """``pass``, ``FAIL`` or ``info``."""
        if not self.gated:
            return "info"
        return "pass" if self.passed else "FAIL"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def near(case: str, metric: str, now: float | None, base: float | None, *, rel: float, abs_: float) -> Check:
    """``|now − baseline| ≤ abs_ + rel·|baseline|`` (both ways)."""
    limit = f"±({abs_:g} + {rel:g}·|baseline|)"
    if base is None:
        return Check(case, metric, None, now, limit, False, note=NO_BASELINE)
    ok = _finite(now) and abs(now - base) <= abs_ + rel * abs(base)
    return Check(case, metric, base, now, limit, ok)


def at_most(case: str, metric: str, now: float | None, base: float | None, *, limit: float) -> Check:
    """``now ≤ limit`` whatever the baseline (which is shown for context)."""
    return Check(case, metric, base, now, f"≤ {limit:g}", _finite(now) and now <= limit, absolute=True)


def at_least_fraction(
    case: str, metric: str, now: float | None, base: float | None, *, fraction: float
) -> Check:
    """``now ≥ fraction × baseline``."""
    limit = f"≥ {fraction:g}× baseline"
    if base is None:
        return Check(case, metric, None, now, limit, False, note=NO_BASELINE)
    return Check(case, metric, base, now, limit, _finite(now) and now >= fraction * base)


def info(case: str, metric: str, now: float | None, base: float | None) -> Check:
    """A number reported for context, not judged."""
    return Check(case, metric, base, now, "—", True, gated=False)


def failed_run(case: str, reason: str) -> Check:
    """The row of a case whose run itself failed."""
    return Check(case, "run", None, None, "finishes", False, absolute=True, note=reason)


def judge(case: Case, now: Mapping[str, float], base: Mapping[str, float]) -> list[Check]:
    """The report rows of one case from its measured numbers and its baseline."""
    tol, name = case.tolerance, case.name
    rows: list[Check] = []
    if case.kind == "train":
        for m in LOSSES:
            rows.append(near(name, m, now.get(m), base.get(m), rel=tol["loss_rel"], abs_=tol["loss_abs"]))
        for m in ACCURACIES:
            if m in now or m in base:
                rows.append(near(name, m, now.get(m), base.get(m), rel=0.0, abs_=tol["accuracy_abs"]))
        m = "gradcheck/max_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["grad_rel_err_max"]))
    elif case.kind == "gradcheck":
        m = "max_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["grad_rel_err_max"]))
        m = "fd_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["fd_rel_err_max"]))
    else:
        m = "throughput_ratio"
        rows.append(at_least_fraction(name, m, now.get(m), base.get(m), fraction=tol["min_fraction"]))
        for m in ("manual_samples_per_sec", "autodiff_samples_per_sec"):
            rows.append(info(name, m, now.get(m), base.get(m)))
    return rows
