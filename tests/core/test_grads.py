"""The manual backward pass (BP1–BP4) against jax.grad, finite differences and a hand computation.

The jax.grad comparison runs over a covering grid of nets (see :mod:`tests.core.grid`).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import backprop_core
from backprop_core import (
    ACTIVATIONS,
    COSTS,
    autodiff_grads,
    backward,
    batch_cost,
    compare_grads,
    forward,
    manual_grads,
    precision,
    resolve,
)
from tests.core.grid import (
    CASES,
    FACTORS,
    disagree,
    first_disagreeing_equation,
    make_problem,
    outcome,
    rel_err,
)
from tests.support.pairwise import covers_every_pair, pairwise

# The small net of the tests below: one of the grid's shapes (depth 1, "equal", batch 7), so the
# eager ops they run are mostly compiled already.
SIZES, BATCH = (4, 5, 3), 7


def test_the_grid_covers_every_pair():
    rows = [case._asdict() for case in CASES]
    assert covers_every_pair(rows, FACTORS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_manual_grads_equal_autodiff(case):
    """Over the covering grid: manual_grads against jax.grad, and every δ^l against ∂C/∂z^l."""
    result = outcome(case)
    manual, auto = result.manual, result.auto
    assert jax.tree.structure(manual) == jax.tree.structure(auto)
    for m, a in zip(jax.tree.leaves(manual), jax.tree.leaves(auto)):
        assert m.shape == a.shape and m.dtype == np.dtype(case.dtype)
    # float64: every tensor on its own; float32: normwise over the whole gradient (see grid.TOLERANCE)
    errors = [rel_err(m, a) for m, a in zip(jax.tree.leaves(manual), jax.tree.leaves(auto))]
    assert not disagree(case.dtype, jax.tree.leaves(manual), jax.tree.leaves(auto)), errors
    assert first_disagreeing_equation(backward, case) is None


def central_differences(f, params, eps):
    """∂f/∂θ for every scalar θ of ``params`` by (f(θ + ε) − f(θ − ε)) / 2ε."""
    leaves, treedef = jax.tree.flatten(params)
    grads = []
    for i, leaf in enumerate(leaves):
        flat = np.asarray(leaf).ravel()
        g = np.zeros_like(flat)
        for j in range(flat.size):
            bumped = []
            for sign in (1, -1):
                theta = flat.copy()
                theta[j] += sign * eps
                new_leaves = list(leaves)
                new_leaves[i] = jnp.asarray(theta.reshape(leaf.shape))
                bumped.append(float(f(jax.tree.unflatten(treedef, new_leaves))))
            g[j] = (bumped[0] - bumped[1]) / (2 * eps)
        grads.append(jnp.asarray(g.reshape(leaf.shape)))
    return jax.tree.unflatten(treedef, grads)


@pytest.mark.parametrize(("activation", "cost"), list(itertools.product(ACTIVATIONS, COSTS)))
def test_finite_differences_agree_with_manual(activation, cost):
    with precision("float64") as dt:
        params, x, y = make_problem(11, (3, 4, 2, 2), batch=5, cost=cost, init="normal", dtype=dt)
        # eager: its ops compile once for all nine nets, where a jitted cost compiles per net
        f = lambda p: batch_cost(p, x, y, activation=activation, cost=cost)  # noqa: E731
        numeric = central_differences(f, params, eps=1e-6)
        manual = manual_grads(params, x, y, activation=activation, cost=cost)
        for m, n in zip(jax.tree.leaves(manual), jax.tree.leaves(numeric)):
            np.testing.assert_allclose(m, n, rtol=1e-6, atol=1e-6)


def test_two_two_one_network_by_hand():
    """A 2-2-1 sigmoid net, quadratic cost, one sample, differentiated with the notes' scalar formulas."""
    W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
    b1 = np.array([0.35, 0.35])
    W2 = np.array([[0.40, 0.45]])
    b2 = np.array([0.60])
    x = np.array([0.05, 0.10])
    y = np.array([0.01])

    def sigma(t):
        return 1.0 / (1.0 + math.exp(-t))

    # Forward, unit by unit.
    z1 = [W1[j, 0] * x[0] + W1[j, 1] * x[1] + b1[j] for j in range(2)]
    a1 = [sigma(t) for t in z1]
    z2 = W2[0, 0] * a1[0] + W2[0, 1] * a1[1] + b2[0]
    a2 = sigma(z2)
    # BP1: δ² = ∂C/∂a² · σ'(z²) with ∂C/∂a = −(y − a) and σ' = σ(1 − σ).
    d2 = -(y[0] - a2) * a2 * (1 - a2)
    # BP2: δ¹_j = W²_{0j} δ² · σ'(z¹_j).
    d1 = [W2[0, j] * d2 * a1[j] * (1 - a1[j]) for j in range(2)]
    # BP3, BP4.
    expected = (
        (np.array([[d1[j] * x[k] for k in range(2)] for j in range(2)]), np.array(d1)),
        (np.array([[d2 * a1[0], d2 * a1[1]]]), np.array([d2])),
    )
    with precision("float64") as dt:
        params = tuple((jnp.asarray(W, dt), jnp.asarray(b, dt)) for W, b in ((W1, b1), (W2, b2)))
        manual = manual_grads(params, jnp.asarray(x[None, :], dt), jnp.asarray(y[None, :], dt))
    for m, e in zip(jax.tree.leaves(manual), jax.tree.leaves(expected)):
        np.testing.assert_allclose(np.asarray(m), e, rtol=1e-12, atol=1e-15)


# Every pair of (activation, cost, dtype) meets: 9 nets, not the 18 of the product.
SATURATED = [
    (r["activation"], r["cost"], r["dtype"])
    for r in pairwise({"activation": ACTIVATIONS, "cost": COSTS, "dtype": ("float32", "float64")})
]


@pytest.mark.parametrize(("activation", "cost", "dtype"), SATURATED)
def test_saturated_units_give_finite_gradients(activation, cost, dtype):
    with precision(dtype) as dt:
        params, x, y = make_problem(5, SIZES, batch=BATCH, cost=cost, init="normal", dtype=dt)
        params = jax.tree.map(lambda p: 60 * p, params)  # |z| far beyond 40
        x = 10 * x
        kw = {"activation": activation, "cost": cost}

        @jax.jit  # one program, not dozens of single ops each compiled on its own
        def saturated(params, x, y):
            _, cache = forward(params, x, activation=activation, output=resolve(activation, cost)[1])
            grads = {fn.__name__: fn(params, x, y, **kw) for fn in (manual_grads, autodiff_grads)}
            return cache.zs[0], grads, batch_cost(params, x, y, **kw)

        z0, grads, cost_value = saturated(params, x, y)
        assert float(jnp.max(jnp.abs(z0))) > 40
        for name, g in grads.items():
            assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(g)), name
        assert bool(jnp.isfinite(cost_value))


def test_mask_gives_the_gradient_of_the_smaller_batch():
    params, x, y = make_problem(2, SIZES, batch=BATCH, cost="quadratic", init="normal", dtype=jnp.float32)
    mask = jnp.arange(BATCH) < 5
    padded = manual_grads(params, x, y, mask=mask)
    smaller = manual_grads(params, x[:5], y[:5])
    for p, s in zip(jax.tree.leaves(padded), jax.tree.leaves(smaller)):
        np.testing.assert_allclose(p, s, rtol=1e-6, atol=1e-7)


def test_manual_path_uses_no_autodiff():
    """The manual path must not lean on JAX's differentiation anywhere."""
    core = Path(backprop_core.__file__).parent
    forbidden = ("jax.grad", "value_and_grad", "jax.vjp", "jax.jvp", "linearize", "jacrev", "jacfwd")
    for name in ("network.py", "activations.py", "costs.py", "params.py"):
        source = (core / name).read_text()
        assert not [f for f in forbidden if f in source], name


def test_compare_grads_detects_a_difference():
    params, x, y = make_problem(0, SIZES, batch=BATCH, cost="quadratic", init="normal", dtype=jnp.float32)
    grads = manual_grads(params, x, y)
    wrong = jax.tree.map(lambda g: g, grads)
    wrong = ((-wrong[0][0], wrong[0][1]), wrong[1])
    comparison = compare_grads(grads, wrong)
    assert list(comparison) == ["W1", "b1", "W2", "b2"]
    assert float(comparison["W1"].rel_err) == pytest.approx(2.0, rel=1e-6)
    assert float(comparison["W1"].cosine) == pytest.approx(-1.0, rel=1e-6)
    assert float(comparison["W2"].rel_err) == 0.0 and float(comparison["W2"].cosine) == pytest.approx(1.0)
