"""A gradient check that locates the wrong equation: manual vs ``jax.grad`` vs central differences.

What is compared, tensor by tensor, on one batch:

  - ``δ^L`` (BP1): the manual output error against autodiff's per-sample ``∂C/∂z^L``;
  - ``δ^l``, ``l < L`` (BP2): the manual errors carried back, against autodiff's ``∂C/∂z^l``;
  - ``∂C/∂b^l`` (BP3) and ``∂C/∂W^l`` (BP4): the manual gradients against ``jax.grad`` (relative to
    the size of their summands, see :mod:`experiments.gradcheck.numerics`).

A bug makes every tensor downstream of it wrong too, so the culprit is the first equation, in the
order BP1, BP2, BP3, BP4, that disagrees (for BP2 the highest layer whose ``δ^l`` disagrees).
Central differences are reported, not gated: in float32 they are only good to ~1e-3.

Tolerances (manual vs autodiff, gated): :data:`TOLERANCES` — float64 ``1e-10``, float32 ``1e-4``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from backprop_core import backward
from experiments.gradcheck.numerics import fd_rel_errs, manual_vs_autodiff, population_errors

TOLERANCES = {"float32": 1e-4, "float64": 1e-10}
FD_EPS = {"float32": 1e-3, "float64": 1e-6}
EQUATION_ORDER = ("BP1", "BP2", "BP3", "BP4")


@dataclass(frozen=True)
class TensorCheck:
    """One row of the table.

    Attributes:
      tensor: ``delta3``, ``b2``, ``W1`` …
      equation: ``BP1`` … ``BP4``.
      layer: ``l``.
      rel_err: manual vs autodiff, normwise relative.
      fd_rel_err: autodiff vs central differences on sampled coordinates (``nan`` for deltas).
      ok: ``rel_err <= tolerance``.
    """

    tensor: str
    equation: str
    layer: int
    rel_err: float
    fd_rel_err: float
    ok: bool


@dataclass(frozen=True)
class CheckResult:
    """All rows of one check, the tolerance used and the located equation (``None`` when all agree)."""

    rows: tuple[TensorCheck, ...]
    tolerance: float
    dtype: str

    @property
    def ok(self) -> bool:
        """Every tensor agrees within the tolerance."""
        return all(r.ok for r in self.rows)

    @property
    def culprit(self) -> TensorCheck | None:
        """The first disagreeing row in the order BP1, BP2 (top layer first), BP3, BP4."""
        bad = [r for r in self.rows if not r.ok]
        if not bad:
            return None
        return min(bad, key=lambda r: (EQUATION_ORDER.index(r.equation), -r.layer))

    @property
    def max_rel_err(self) -> float:
        """Worst manual-vs-autodiff relative error over the gradient tensors (W and b)."""
        return max(r.rel_err for r in self.rows if r.equation in ("BP3", "BP4"))

    def grad_rel_errs(self) -> dict[str, float]:
        """``{"W1": …, "b1": …}`` manual vs autodiff."""
        return {r.tensor: r.rel_err for r in self.rows if r.equation in ("BP3", "BP4")}

    def describe_failure(self) -> str:
        """One line naming the equation that disagrees, or ``""``."""
        c = self.culprit
        if c is None:
            return ""
        symbol = {"BP1": "δ^L", "BP2": f"δ^{c.layer}", "BP3": f"∂C/∂b^{c.layer}", "BP4": f"∂C/∂W^{c.layer}"}
        return (
            f"{c.equation} disagrees: manual {symbol[c.equation]} vs autodiff relative error "
            f"{c.rel_err:.3g} > {self.tolerance:g} ({self.dtype})"
        )

    def table(self, **extra) -> list[dict]:
        """Rows as plain dicts (for JSON and ``mlflow.log_table``); ``extra`` columns are prepended."""
        return [
            {
                **extra,
                "tensor": r.tensor,
                "equation": r.equation,
                "layer": r.layer,
                "rel_err": r.rel_err,
                "fd_rel_err": None if np.isnan(r.fd_rel_err) else r.fd_rel_err,
                "tolerance": self.tolerance,
                "ok": r.ok,
            }
            for r in self.rows
        ]


def check_gradients(
    params,
    x,
    y,
    *,
    activation: str,
    cost: str,
    dtype: str,
    grad: Callable | None = None,
    finite_differences: bool = True,
    key=None,
    unit_masks=None,
) -> CheckResult:
    """Compares the manual backward pass with autodiff (and autodiff with central differences).

    Args:
      params: ``((W^1, b^1), …)`` in the precision being checked (inside ``precision(dtype)``).
      x, y: one batch, ``(batch, n_0)`` and ``(batch, n_L)``, same dtype as ``params``.
      activation, cost: config names.
      dtype: ``float32`` or ``float64``; picks the tolerance and the finite-difference step.
      grad: the manual backward pass to check, with :func:`backprop_core.backward`'s signature
        (``None``: that one; tests pass planted-bug mutants).
      finite_differences: also compute the ``fd_rel_err`` column.
      key: PRNG key choosing the finite-difference coordinates.
      unit_masks: the unit masks of a padded ``params`` (see :mod:`backprop_core.padding`); the
        errors are then the true net's, up to rounding. ``None``: an unpadded net.

    Returns:
      A :class:`CheckResult` with rows ``delta{l}`` (BP1/BP2), ``b{l}`` (BP3), ``W{l}`` (BP4).
    """
    delta_errs, b_errs, W_errs, auto_grads = manual_vs_autodiff(
        params, x, y, activation=activation, cost=cost, grad=grad or backward, unit_masks=unit_masks
    )
    delta_errs, b_errs, W_errs = (np.asarray(e, np.float64) for e in (delta_errs, b_errs, W_errs))
    L = len(params)
    if finite_differences:
        key = jax.random.key(0) if key is None else key
        fd = fd_rel_errs(
            params, x, y, auto_grads, activation=activation, cost=cost, eps=FD_EPS[dtype], key=key,
            unit_masks=unit_masks,
        )  # fmt: skip
    else:
        fd = [(float("nan"), float("nan"))] * L
    return _result(delta_errs, b_errs, W_errs, fd, dtype)


def population_checks(
    params_K, x, y, *, activation: str, cost: str, dtype: str, unit_masks_K, grad: Callable | None = None
) -> list[CheckResult]:
    """:func:`check_gradients` without finite differences for each of K padded nets at once (a
    population's members, their params and unit masks stacked on a leading axis), on one batch: one
    program and one fetch for all K, where K checks would dispatch, slice and fetch K times."""
    errors = jax.device_get(
        population_errors(
            params_K, x, y, activation=activation, cost=cost, grad=grad or backward, unit_masks_K=unit_masks_K
        )
    )
    delta_K, b_K, W_K = (np.asarray(e, np.float64) for e in errors)
    no_fd = [(float("nan"), float("nan"))] * delta_K.shape[1]
    return [_result(delta_K[k], b_K[k], W_K[k], no_fd, dtype) for k in range(len(delta_K))]


def _result(delta_errs: np.ndarray, b_errs: np.ndarray, W_errs: np.ndarray, fd, dtype: str) -> CheckResult:
    """The rows of a check from its per-layer errors (``fd``: ``(W, b)`` central-difference errors)."""
    tol = TOLERANCES[dtype]
    L = len(delta_errs)
    rows: list[TensorCheck] = []
    for l in range(L, 0, -1):
        err = float(delta_errs[l - 1])
        rows.append(TensorCheck(f"delta{l}", "BP1" if l == L else "BP2", l, err, float("nan"), _ok(err, tol)))
    for l in range(1, L + 1):
        err = float(b_errs[l - 1])
        rows.append(TensorCheck(f"b{l}", "BP3", l, err, fd[l - 1][1], _ok(err, tol)))
    for l in range(1, L + 1):
        err = float(W_errs[l - 1])
        rows.append(TensorCheck(f"W{l}", "BP4", l, err, fd[l - 1][0], _ok(err, tol)))
    return CheckResult(tuple(rows), tol, dtype)


def _ok(err: float, tol: float) -> bool:
    return bool(np.isfinite(err) and err <= tol)


def check_batch(x: np.ndarray, y: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``size`` rows (at least two when there are two, so a batch mean differs from a sum)."""
    size = max(2, size)
    return x[:size], y[:size]
