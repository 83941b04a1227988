"""Gradient checks that locate the wrong equation: manual vs ``jax.grad`` vs central differences.

What is compared, tensor by tensor, on one batch (normwise relative error
``‖manual − autodiff‖ / max(‖manual‖, ‖autodiff‖)``):

  - ``δ^L`` (BP1): the manual output error against autodiff's per-sample ``∂C/∂z^L``;
  - ``δ^l``, ``l < L`` (BP2): the manual errors carried back, against autodiff's ``∂C/∂z^l``;
  - ``∂C/∂b^l`` (BP3) and ``∂C/∂W^l`` (BP4): the manual gradients against ``jax.grad``. These are
    batch means, ``Σ_i w_i δ_i`` and ``Σ_i w_i δ_i (a_i)ᵀ``, and near a minimum their terms cancel:
    the mean can be 10⁻³ of its terms, and both systems' rounding (bounded by ``Σ_i w_i |δ_i|`` and
    ``Σ_i w_i |δ_i| |a_i|ᵀ``, the classic bound for a sum) is then large *relative to the mean*.
    So their relative error is taken against ``max(‖manual‖, ‖autodiff‖, ‖Σ_i w_i |terms_i|‖)``:
    the same as the plain one when nothing cancels, and immune to cancellation otherwise. Without it a
    correct XOR net at convergence failed float32's 1e-4 on ``b^2`` in 5 of 200 trained runs.

A bug makes every tensor downstream of it wrong too, so the culprit is the first equation, in the
order BP1, BP2, BP3, BP4, that disagrees (for BP2 the highest layer whose ``δ^l`` disagrees).

Central finite differences ``(C(θ + εe_i) − C(θ − εe_i)) / 2ε`` on up to :data:`FD_COORDS` sampled
coordinates per tensor give a third opinion on autodiff itself (reported, not gated: in float32
they are only good to ~1e-3).

Tolerances (manual vs autodiff, gated): :data:`TOLERANCES` — float64 ``1e-10``, float32 ``1e-4``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from backprop_core import (
    agreement,
    autodiff_grads,
    autodiff_output_errors,
    backward,
    batch_cost,
    batch_weights,
    forward,
    resolve,
)

TOLERANCES = {"float32": 1e-4, "float64": 1e-10}
FD_EPS = {"float32": 1e-3, "float64": 1e-6}
FD_COORDS = 24
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


@functools.partial(jax.jit, static_argnames=("activation", "cost", "backward_fn"))
def _manual_and_autodiff(params, x, y, *, activation: str, cost: str, backward_fn: Callable):
    """Manual deltas and grads (by ``backward_fn``), autodiff ``∂C/∂z^l`` and ``jax.grad``."""
    act, out, c = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out)
    weights = batch_weights(x, None)
    manual = backward_fn(params, cache, y, activation=act, cost=c, weights=weights)
    auto_deltas = autodiff_output_errors(params, x, y, activation=activation, cost=cost)
    auto_grads = autodiff_grads(params, x, y, activation=activation, cost=cost)
    # The size of the summands of each batch mean (BP3, BP4), from autodiff's δ so that a planted bug
    # in the manual δ cannot inflate the scale it is judged against.
    scales = [
        _sum_scale(weights, delta, a_prev) for delta, a_prev in zip(auto_deltas, cache.activations[:-1])
    ]
    delta_errs = jnp.stack([agreement(m, a).rel_err for m, a in zip(manual.deltas, auto_deltas)])
    b_errs = jnp.stack(
        [_rel_err(m[1], a[1], scale[1]) for m, a, scale in zip(manual.grads, auto_grads, scales)]
    )
    W_errs = jnp.stack(
        [_rel_err(m[0], a[0], scale[0]) for m, a, scale in zip(manual.grads, auto_grads, scales)]
    )
    return delta_errs, b_errs, W_errs, auto_grads


def _sum_scale(weights, delta, a_prev):
    """``(Σ_i w_i |δ_i| |a_i|ᵀ, Σ_i w_i |δ_i|)``: the magnitude of BP4's and BP3's summands."""
    abs_delta = weights[:, None] * jnp.abs(delta)
    return abs_delta.T @ jnp.abs(a_prev), jnp.sum(abs_delta, axis=0)


def _rel_err(manual, auto, scale):
    """``‖manual − auto‖ / max(‖manual‖, ‖auto‖, ‖scale‖)`` (0 when all three are zero)."""
    denom = jnp.maximum(jnp.maximum(jnp.linalg.norm(manual), jnp.linalg.norm(auto)), jnp.linalg.norm(scale))
    return jnp.where(denom > 0, jnp.linalg.norm(manual - auto) / jnp.where(denom > 0, denom, 1), 0)


@functools.partial(jax.jit, static_argnames=("activation", "cost"))
def _central_differences(params, x, y, coords, eps, *, activation: str, cost: str) -> list:
    """``(C(θ + εe_i) − C(θ − εe_i)) / 2ε`` for the coordinates ``coords[k]`` of every leaf ``k``."""
    leaves, treedef = jax.tree.flatten(params)

    def cost_with(k, bump):
        bumped = [leaf + bump if j == k else leaf for j, leaf in enumerate(leaves)]
        return batch_cost(jax.tree.unflatten(treedef, bumped), x, y, activation=activation, cost=cost)

    out = []
    for k, (leaf, leaf_coords) in enumerate(zip(leaves, coords)):

        def one(c, k=k, leaf=leaf):
            bump = jnp.zeros(leaf.size, leaf.dtype).at[c].set(eps).reshape(leaf.shape)
            return (cost_with(k, bump) - cost_with(k, -bump)) / (2 * eps)

        out.append(jax.vmap(one)(leaf_coords))
    return out


def _fd_rel_errs(params, x, y, auto_grads, *, activation: str, cost: str, eps: float, key) -> list[tuple]:
    """Per layer ``(W rel err, b rel err)`` of autodiff vs central differences on sampled coordinates."""
    leaves = jax.tree.leaves(params)
    keys = jax.random.split(key, len(leaves))
    coords = [
        jax.random.choice(k, leaf.size, (min(FD_COORDS, leaf.size),), replace=False)
        for k, leaf in zip(keys, leaves)
    ]
    eps = jnp.asarray(eps, leaves[0].dtype)
    fd = _central_differences(params, x, y, coords, eps, activation=activation, cost=cost)
    grads = jax.tree.leaves(auto_grads)
    errs = [float(agreement(f, jnp.ravel(g)[c]).rel_err) for f, g, c in zip(fd, grads, coords)]
    return [(errs[2 * l], errs[2 * l + 1]) for l in range(len(params))]


def check_gradients(
    params,
    x,
    y,
    *,
    activation: str,
    cost: str,
    dtype: str,
    backward_fn: Callable | None = None,
    finite_differences: bool = True,
    key=None,
) -> CheckResult:
    """Compares the manual backward pass with autodiff (and autodiff with central differences).

    Args:
      params: ``((W^1, b^1), …)`` in the precision being checked (inside ``precision(dtype)``).
      x, y: one batch, ``(batch, n_0)`` and ``(batch, n_L)``, same dtype as ``params``.
      activation, cost: config names.
      dtype: ``float32`` or ``float64``; picks the tolerance and the finite-difference step.
      backward_fn: the manual backward pass to check (default ``backprop_core.backward``; tests pass
        a planted-bug copy from :mod:`experiments.faults`).
      finite_differences: also compute the ``fd_rel_err`` column.
      key: PRNG key choosing the finite-difference coordinates.

    Returns:
      A :class:`CheckResult` with rows ``delta{l}`` (BP1/BP2), ``b{l}`` (BP3), ``W{l}`` (BP4).
    """
    backward_fn = backward_fn or backward
    tol = TOLERANCES[dtype]
    delta_errs, b_errs, W_errs, auto_grads = _manual_and_autodiff(
        params, x, y, activation=activation, cost=cost, backward_fn=backward_fn
    )
    delta_errs, b_errs, W_errs = (np.asarray(e, np.float64) for e in (delta_errs, b_errs, W_errs))
    L = len(params)
    if finite_differences:
        key = jax.random.key(0) if key is None else key
        fd = _fd_rel_errs(
            params, x, y, auto_grads, activation=activation, cost=cost, eps=FD_EPS[dtype], key=key
        )
    else:
        fd = [(float("nan"), float("nan"))] * L
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


def format_rows(rows: Sequence[TensorCheck]) -> list[list[str]]:
    """Rows as strings for a printed table."""
    out = []
    for r in rows:
        fd = "—" if np.isnan(r.fd_rel_err) else f"{r.fd_rel_err:.2e}"
        out.append([r.tensor, r.equation, f"{r.rel_err:.2e}", fd, "ok" if r.ok else "FAIL"])
    return out


# --- the `bplab gradcheck` command -----------------------------------------------------------------


def run_gradcheck(
    path, overrides=(), *, x64: bool = False, epochs: int = 3, track: bool = True
) -> CheckResult:
    """``bplab gradcheck``: checks at initialisation and after ``epochs`` epochs, prints and logs the table.

    The few epochs between the two checks train with ``jax.grad`` (so a buggy manual pass cannot
    steer the weights somewhere odd); the point is a second, non-random place to compare at.

    Returns:
      The check that failed first, or the last one when both pass.

    Raises:
      BadInput: bad config or data, unreachable store (nothing is logged).
      CheckFailed: some tensor exceeds the tolerance; the message names the equation (exit 1).
    """
    from backprop_core import init_params, precision, train_epoch
    from experiments import faults
    from experiments.config import load_config
    from experiments.errors import BadInput, CheckFailed
    from experiments.runner import prepare
    from experiments.signals import terminate_as_interrupt

    if epochs < 0:
        raise BadInput(f"--epochs {epochs}: must be ≥ 0")
    cfg = load_config(path, overrides)
    if x64:
        cfg = cfg.with_values({"train.dtype": "float64"})
    ds = prepare(cfg, track=track)
    backward_fn = faults.backward_fn()
    tr, model = cfg.train, cfg.model
    run_id = None
    if track:
        from experiments import tracking

        tags = {"bplab.kind": "gradcheck", "bplab.grad": "manual"}
        if backward_fn is not None:
            tags["bplab.fault"] = faults.active_fault()
        run_id = tracking.start_run(
            cfg.experiment.name, run_name=f"{cfg.experiment.name}-gradcheck", tags=tags
        )
    try:
        with terminate_as_interrupt(), precision(tr.dtype) as dtype:
            init_key, shuffle_key, fd_key = jax.random.split(jax.random.key(tr.seed), 3)
            sizes = (ds.n_inputs, *model.hidden, ds.n_outputs)
            params = init_params(init_key, sizes, init=model.init, dtype=dtype)
            xb, yb = (jnp.asarray(a, dtype) for a in check_batch(ds.x_train, ds.y_train, tr.batch_size))

            def check(p):
                return check_gradients(
                    p, xb, yb, activation=model.activation, cost=model.cost, dtype=tr.dtype,
                    backward_fn=backward_fn, key=fd_key,
                )  # fmt: skip

            stages = [("init", 0, check(params))]
            if epochs:
                x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
                for k in jax.random.split(shuffle_key, epochs):
                    params, _ = train_epoch(
                        params, x, y, k, lr=jnp.asarray(tr.lr, dtype), batch_size=tr.batch_size,
                        activation=model.activation, cost=model.cost, grad="autodiff",
                    )  # fmt: skip
                stages.append((f"after {epochs} epoch{'s' if epochs != 1 else ''}", epochs, check(params)))
        _print_table(stages, cfg, len(xb))
        failed = next(((name, r) for name, _, r in stages if not r.ok), None)
        if run_id:
            _log_gradcheck(run_id, cfg, stages, failed)
    except BaseException as e:
        if run_id:
            from experiments.runner import _close

            status = "KILLED" if isinstance(e, KeyboardInterrupt) else "FAILED"
            reason = f"{type(e).__name__}: {' '.join(str(e).split())}"[:500]
            _close(run_id, status, {"bplab.failure": "exception", "bplab.failure_reason": reason})
        raise
    if failed is not None:
        name, result = failed
        raise CheckFailed(f"{result.describe_failure()} at {name} on {cfg.source}")
    print(f"ok: manual gradients agree with jax.grad within {stages[-1][2].tolerance:g} ({tr.dtype})")
    return stages[-1][2]


def _print_table(stages, cfg, batch: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"gradcheck {cfg.source} ({cfg.train.dtype}, batch of {batch})")
    for col in ("stage", "tensor", "equation", "manual vs autodiff", "autodiff vs FD", "status"):
        table.add_column(col, justify="right" if "vs" in col else "left")
    for name, _, result in stages:
        for row in format_rows(result.rows):
            table.add_row(name, *row)
    Console(width=110).print(table)


def _log_gradcheck(run_id: str, cfg, stages, failed) -> None:
    from experiments import tracking

    tol = stages[0][2].tolerance
    tracking.log_params(run_id, {**cfg.flat(), "gradcheck.tolerance": tol, "gradcheck.fd_coords": FD_COORDS})
    for _, step, result in stages:
        metrics = {"gradcheck/max_rel_err": result.max_rel_err}
        metrics.update(
            {f"gradcheck/rel_err/{k}": v for k, v in result.grad_rel_errs().items() if k[0] == "W"}
        )
        tracking.log_metrics(run_id, metrics, step=step, synchronous=True)
    table = [row for name, _, result in stages for row in result.table(stage=name)]
    tracking.log_dict(run_id, table, "gradcheck.json")
    tracking.log_table(run_id, table, "gradcheck_table.json")
    tracking.log_text(run_id, cfg.to_toml(), "config.toml")
    if failed is None:
        tracking.end_run(run_id, "FINISHED")
        return
    name, result = failed
    culprit = result.culprit
    tracking.set_tags(
        run_id,
        {
            "bplab.failure": "gradient_mismatch",
            "bplab.failure_reason": f"{result.describe_failure()} at {name}",
            "bplab.gradcheck.equation": culprit.equation,
            "bplab.gradcheck.tensor": culprit.tensor,
        },
    )
    tracking.end_run(run_id, "FAILED")
