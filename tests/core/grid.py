"""The covering grid of the core's gradient checks, and the check that names the wrong equation.

Factors: depth, hidden widths, batch size, activation, cost, init and dtype. Their full product
is 720 nets; :func:`tests.support.pairwise.pairwise` keeps every pair of factor values meeting at
least once (every activation with every cost, every depth, every dtype, …) in 17. Each net is
checked against ``jax.grad`` equation by equation, so a wrong backward pass is not only caught but
located: BP1 by ``δ^L``, BP2 by the hidden ``δ^l`` (both against
autodiff's ``∂C/∂z^l``), BP3 by ``∂C/∂b^l`` and BP4 by ``∂C/∂W^l``.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np

from backprop_core import (
    ACTIVATIONS,
    COSTS,
    INITS,
    Backward,
    autodiff_grads,
    autodiff_output_errors,
    batch_weights,
    forward,
    manual_grads,
    precision,
    resolve,
)
from tests.support.draws import draw_problem
from tests.support.pairwise import pairwise

# Hidden widths for 1 to 5 hidden layers: "narrow" has a width-1 layer at every depth; "equal" has
# one width throughout (the nets where a layer mix-up such as W^l for W^{l+1} still runs).
HIDDEN = {
    "narrow": {1: (1,), 2: (5, 1), 3: (1, 4, 3), 4: (6, 1, 3, 2), 5: (3, 1, 4, 2, 5)},
    "equal": {depth: (5,) * depth for depth in range(1, 6)},
}
N_IN, N_OUT = 4, 3
# Normwise relative error: float64 per tensor; float32 over a whole gradient (or equation), since a
# tiny tensor behind a saturated unit carries a large relative error in both systems.
TOLERANCE = {"float64": 1e-12, "float32": 1e-5}

FACTORS = {
    "dtype": ("float64", "float32"),
    "depth": (1, 2, 3, 4, 5),
    "widths": tuple(HIDDEN),
    "batch": (1, 7),
    "activation": tuple(ACTIVATIONS),
    "cost": tuple(COSTS),
    "init": tuple(INITS),
}


class Case(NamedTuple):
    dtype: str
    depth: int
    widths: str
    batch: int
    activation: str
    cost: str
    init: str

    @property
    def sizes(self) -> tuple[int, ...]:
        return (N_IN, *HIDDEN[self.widths][self.depth], N_OUT)

    @property
    def seed(self) -> int:
        """Stable across runs and shared by both dtypes."""
        return zlib.crc32(
            repr((self.depth, self.widths, self.activation, self.cost, self.init, self.batch)).encode()
        )


CASES = [
    Case(r["dtype"], r["depth"], r["widths"], r["batch"], r["activation"], r["cost"], r["init"])
    for r in pairwise(FACTORS)
]
# Nets with 3+ hidden layers of one width first: the only ones where every planted mutant (a layer
# mix-up included) runs and disagrees, so the mutant test meets its catch on the first net.
CASES.sort(key=lambda c: not (c.widths == "equal" and c.depth >= 3))


def make_problem(seed: int, sizes, *, batch, cost, init, dtype):
    """Random params, inputs and targets of the right kind for ``cost`` (see :mod:`tests.support.draws`)."""
    return draw_problem(seed, sizes, batch=batch, cost=cost, init=init, dtype=dtype)


def case_problem(case: Case, dtype):
    """``case``'s params, inputs and targets, drawn in numpy from ``case.seed``.

    Drawing them in numpy keeps every JAX op of the grid a gradient op: eager JAX compiles each op
    once per shape, and those shapes repeat across the grid, where JAX's own sampler would compile
    anew for every net.
    """
    return make_problem(case.seed, case.sizes, batch=case.batch, cost=case.cost, init=case.init, dtype=dtype)


class Outcome(NamedTuple):
    """Autodiff's answers on one net, and the public ``manual_grads`` (numpy arrays)."""

    manual: tuple  # manual_grads(...)
    dC_dz: tuple  # autodiff's ∂C_i/∂z^l per layer
    auto: tuple  # autodiff_grads(...)


@functools.cache
def outcome(case: Case) -> Outcome:
    """:class:`Outcome` of ``case``'s net, computed once per session.

    In one jitted program per net, as training runs them: op by op, the grid's many shapes cost
    several times the CPU in eager compiles.
    """
    with precision(case.dtype) as dt:
        params, x, y = case_problem(case, dt)
        kind = dict(activation=case.activation, cost=case.cost)

        def answers(params, x, y):
            return Outcome(
                manual=manual_grads(params, x, y, **kind),
                dC_dz=autodiff_output_errors(params, x, y, **kind),
                auto=autodiff_grads(params, x, y, **kind),
            )

        return jax.device_get(jax.jit(answers)(params, x, y))


@functools.cache
def backward_pass(fn: Callable[..., Backward], case: Case) -> Backward:
    """``fn`` (``backward``'s signature) run on ``case``'s net in one jitted program, once per session."""
    with precision(case.dtype) as dt:
        params, x, y = case_problem(case, dt)
        act, out, cost = resolve(case.activation, case.cost)

        def run(params, x, y):
            _, cache = forward(params, x, activation=act, output=out)
            return fn(params, cache, y, activation=act, cost=cost, weights=batch_weights(x, None))

        return jax.device_get(jax.jit(run)(params, x, y))


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Normwise ``‖a − b‖ / max(‖a‖, ‖b‖)``, 0 when both are zero (as ``backprop_core.agreement``)."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale > 0 else 0.0


def disagree(dtype: str, manual, auto) -> bool:
    """Whether two lists of tensors disagree beyond the dtype's tolerance (see :data:`TOLERANCE`)."""
    if dtype == "float32":
        manual, auto = ([np.concatenate([np.ravel(t) for t in ts])] for ts in (manual, auto))
    return any(rel_err(m, a) > TOLERANCE[dtype] for m, a in zip(manual, auto, strict=True))


def first_disagreeing_equation(fn: Callable[..., Backward], case: Case) -> str | None:
    """The first of BP1–BP4 where the backward pass ``fn`` disagrees with autodiff on ``case``'s net.

    BP1 compares ``δ^L`` and BP2 the hidden ``δ^l`` with autodiff's ``∂C/∂z^l``; BP3 compares
    ``∂C/∂b^l`` and BP4 ``∂C/∂W^l`` with ``jax.grad``'s.
    """
    result, manual = outcome(case), backward_pass(fn, case)
    checks = {
        "BP1": ([manual.deltas[-1]], [result.dC_dz[-1]]),
        "BP2": (manual.deltas[:-1], result.dC_dz[:-1]),
        "BP3": ([db for _, db in manual.grads], [db for _, db in result.auto]),
        "BP4": ([dW for dW, _ in manual.grads], [dW for dW, _ in result.auto]),
    }
    return next((eq for eq, (m, a) in checks.items() if disagree(case.dtype, m, a)), None)
