"""Unit masks: a net padded to wider hidden layers, its padding masked, is the small net exactly.

Tolerances, both for the manual (BP1–BP4) and the autodiff gradients: the padded net's cost and the
real entries of its gradients agree with the unpadded net's to a normwise relative error of
``1e-12`` in float64 and ``1e-5`` in float32 (padding only changes how XLA blocks the sums of a
matrix product, i.e. rounding), and its padded entries are exactly zero. Whole epochs agree to the
same tolerances, and padded weights stay exactly 0.
"""

from __future__ import annotations

import itertools
import zlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from backprop_core import (
    ACTIVATIONS,
    COSTS,
    autodiff_grads,
    autodiff_output_errors,
    backward,
    batch_cost,
    batch_weights,
    evaluate,
    forward,
    init_padded_params,
    init_params,
    layer_sizes,
    manual_grads,
    overall_agreement,
    pad_params,
    precision,
    resolve,
    sgd_step,
    train_epoch,
    unit_masks,
    unpad_params,
)
from backprop_core.metrics import saturation
from backprop_core.padding import _init_padded
from tests.support.draws import draw_params, draw_problem
from tests.support.pairwise import covers_every_pair, pairwise

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
N_IN, N_OUT = 4, 3
# (true hidden widths, padded hidden widths) for 1 to 3 hidden layers; width-1 layers included.
WIDTHS = {1: ((3,), (7,)), 2: ((5, 1), (8, 6)), 3: ((1, 4, 3), (5, 9, 4))}
GRADS = {"manual": manual_grads, "autodiff": autodiff_grads}


@pytest.fixture(autouse=True)
def _no_silent_broadcasting():
    with jax.numpy_rank_promotion("raise"):
        yield


def problem(seed, depth, cost, dtype, *, batch=7):
    """Unpadded params, their padded copy, the masks, inputs and targets (drawn in numpy)."""
    true, padded = WIDTHS[depth]
    sizes = (N_IN, *true, N_OUT)
    params, x, y = draw_problem(seed, sizes, batch=batch, cost=cost, init="scaled", dtype=dtype)
    return params, pad_params(params, padded), unit_masks(true, padded, dtype), sizes, x, y


def rel_err(a, b) -> float:
    """Normwise relative error of two pytrees flattened into one vector."""
    return float(overall_agreement(a, b).rel_err)


def assert_padding_is_zero(padded_tree, true_tree, widths):
    """Every entry of ``padded_tree`` outside the corners that hold ``true_tree`` is exactly 0."""
    corner = pad_params(jax.tree.map(jnp.ones_like, true_tree), widths)
    for leaf, inside in zip(jax.tree.leaves(padded_tree), jax.tree.leaves(corner)):
        outside = np.asarray(leaf)[np.asarray(inside) == 0]
        assert np.array_equal(outside, np.zeros_like(outside)), "padding moved off 0"


# Every pair of (dtype, depth, activation, cost, gradient) meets: 9 nets, not the 108 of the product.
FACTORS = {
    "activation": tuple(ACTIVATIONS),
    "cost": tuple(COSTS),
    "depth": tuple(WIDTHS),
    "dtype": ("float64", "float32"),
    "grad": tuple(GRADS),
}
ROWS = pairwise(FACTORS)
CASES = [(r["dtype"], r["depth"], r["activation"], r["cost"], r["grad"]) for r in ROWS]


def test_the_cases_cover_every_pair():
    assert covers_every_pair(ROWS, FACTORS)
    init_rows = [dict(zip(("dtype", "init", "depth", "key"), c)) for c in INIT_CASES]
    assert covers_every_pair(init_rows, INIT_FACTORS)


@pytest.mark.parametrize(("dtype", "depth", "activation", "cost", "grad"), CASES)
def test_padded_net_has_the_small_nets_cost_and_gradients(dtype, depth, activation, cost, grad):
    seed = zlib.crc32(repr((depth, activation, cost)).encode())
    with precision(dtype) as dt:
        params, padded, masks, _, x, y = problem(seed, depth, cost, dt)
        widths = WIDTHS[depth][1]
        kw = {"activation": activation, "cost": cost}

        # one jitted program per net, as training runs it: op by op, each net compiles dozens of ops
        @jax.jit
        def both(params, padded, masks, x, y):
            small = (batch_cost(params, x, y, **kw), GRADS[grad](params, x, y, **kw))
            return small, (
                batch_cost(padded, x, y, unit_masks=masks, **kw),
                GRADS[grad](padded, x, y, unit_masks=masks, **kw),
            )

        (small_cost, small), (padded_cost, big) = both(params, padded, masks, x, y)
        assert abs(float(padded_cost - small_cost)) <= TOLERANCE[dtype] * abs(float(small_cost))
        assert all(g.dtype == dt for g in jax.tree.leaves(big))
        assert rel_err(unpad_params(big, layer_sizes(params)), small) <= TOLERANCE[dtype]
        assert_padding_is_zero(big, params, widths)


@pytest.mark.parametrize(("activation", "cost"), list(itertools.product(ACTIVATIONS, COSTS)))
def test_masked_deltas_equal_autodiff_and_vanish_on_padding(activation, cost):
    """BP2 with ``⊙ m^l``: the manual δ^l of the padded net are autodiff's ∂C/∂z^l, 0 on padding."""
    with precision("float64") as dt:
        params, padded, masks, _, x, y = problem(4, 3, cost, dt)
        act, out, c = resolve(activation, cost)

        @jax.jit  # one program, not dozens of single ops each compiled on its own
        def three_ways(params, padded, masks, x, y):
            _, cache = forward(padded, x, activation=act, output=out, unit_masks=masks)
            weights = batch_weights(x, None)
            deltas = backward(padded, cache, y, activation=act, cost=c, weights=weights, unit_masks=masks)
            expected = autodiff_output_errors(
                padded, x, y, activation=activation, cost=cost, unit_masks=masks
            )
            return (
                deltas.deltas,
                expected,
                autodiff_output_errors(params, x, y, activation=activation, cost=cost),
            )

        deltas, expected, small = three_ways(params, padded, masks, x, y)
        for delta, dC_dz, d_small, m in zip(deltas, expected, small, (*masks, None)):
            np.testing.assert_allclose(delta, dC_dz, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(delta[:, : d_small.shape[1]], d_small, rtol=1e-12, atol=1e-14)
            if m is not None:  # exactly 0 on padded units
                assert not np.any(np.asarray(delta)[:, np.asarray(m) == 0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_mask_not_the_zero_padding_does_the_work(activation):
    """Garbage in the padded weights changes nothing: the masks alone hide the padding."""
    with precision("float64") as dt:
        params, padded, masks, sizes, x, y = problem(9, 2, "quadratic", dt)
        rng = np.random.default_rng(9)
        noise = jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape), dt), padded)
        corner = pad_params(jax.tree.map(jnp.ones_like, params), WIDTHS[2][1])
        garbage = jax.tree.map(lambda p, n, c: jnp.where(c == 1, p, n), padded, noise, corner)
        kw = {"activation": activation, "cost": "quadratic", "unit_masks": masks}
        for fn in (manual_grads, autodiff_grads):
            grads, small = jax.jit(
                lambda g, p, fn=fn: (fn(g, x, y, **kw), fn(p, x, y, activation=activation))
            )(garbage, params)
            assert rel_err(unpad_params(grads, sizes), small) <= 1e-12
            assert_padding_is_zero(grads, params, WIDTHS[2][1])


# Every (dtype, gradient) pair, every activation and every cost: the epoch's wiring of the masks,
# not their maths, which the gradient cases above check pair by pair.
EPOCH_CASES = [
    ("float64", "sigmoid", "quadratic", "manual"),
    ("float64", "relu", "softmax_cross_entropy", "autodiff"),
    ("float32", "tanh", "cross_entropy", "manual"),
    ("float32", "sigmoid", "quadratic", "autodiff"),
]


@pytest.mark.parametrize(("dtype", "activation", "cost", "grad"), EPOCH_CASES)
def test_masked_epochs_train_the_small_net(dtype, activation, cost, grad):
    """Three whole epochs (a partial last batch included): same params and EpochMetrics, padding 0."""
    with precision(dtype) as dt:
        params, padded, masks, sizes, _, _ = problem(1, 3, cost, dt)
        _, _, _, _, x, y = problem(2, 3, cost, dt, batch=45)
        kw = {"lr": 0.3, "batch_size": 10, "activation": activation, "cost": cost, "grad": grad}
        for key in jax.random.split(jax.random.key(3), 3):
            params, small = train_epoch(params, x, y, key, **kw)
            padded, big = train_epoch(padded, x, y, key, unit_masks=masks, **kw)
            for name in small._fields:
                s, b = getattr(small, name), getattr(big, name)
                np.testing.assert_allclose(b, s, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype], err_msg=name)
        assert rel_err(unpad_params(padded, sizes), params) <= TOLERANCE[dtype]
        assert_padding_is_zero(padded, params, WIDTHS[3][1])


def test_saturation_counts_real_units_only():
    """Masked sigmoid units output 0, where σ' = 0: counted, they would read as saturated."""
    params, padded, masks, _, x, y = problem(0, 1, "quadratic", jnp.float32)
    _, calm = train_epoch(params, 0.01 * x, y, jax.random.key(0), lr=0.1, batch_size=7)
    _, masked = train_epoch(padded, 0.01 * x, y, jax.random.key(0), lr=0.1, batch_size=7, unit_masks=masks)
    assert float(masked.saturation[0]) == float(calm.saturation[0]) == 0.0
    # What the mask weighting prevents: the padded units' share, 4 of 7, counted as saturated.
    act, out, _ = resolve("sigmoid", "quadratic")
    _, cache = forward(padded, 0.01 * x, activation=act, output=out, unit_masks=masks)
    weights = batch_weights(x, None)
    every_unit = saturation(cache, weights, activation=act, output=out)
    assert float(every_unit[0]) == pytest.approx(4 / 7)
    assert float(saturation(cache, weights, activation=act, output=out, unit_masks=masks)[0]) == 0.0


def test_new_masks_reuse_the_compiled_epoch_and_step():
    """Different true widths under one padded shape (and new rates) do not recompile."""
    _, _, _, _, x, y = problem(2, 2, "quadratic", jnp.float32, batch=40)
    padded_widths = WIDTHS[2][1]
    kw = {"batch_size": 8, "activation": "tanh"}
    rng = np.random.default_rng(0)
    base = pad_params(draw_params(rng, (N_IN, *padded_widths, N_OUT)), padded_widths)
    full = unit_masks(padded_widths, padded_widths)
    train_epoch(base, x, y, jax.random.key(0), lr=0.1, unit_masks=full, **kw)
    sgd_step(base, x, y, lr=0.1, activation="tanh", unit_masks=full)
    epochs, steps = train_epoch._cache_size(), sgd_step._cache_size()
    for seed, (true, lr) in enumerate([((3, 5), 0.2), ((8, 1), 0.5), ((1, 6), 3.0)]):
        params = pad_params(draw_params(rng, (N_IN, *true, N_OUT)), padded_widths)
        masks = unit_masks(true, padded_widths)
        train_epoch(params, x, y, jax.random.key(seed), lr=lr, unit_masks=masks, **kw)
        sgd_step(params, x, y, lr=lr, activation="tanh", unit_masks=masks)
    assert train_epoch._cache_size() == epochs
    assert sgd_step._cache_size() == steps


@pytest.mark.parametrize("classification", [True, False])
def test_evaluate_a_padded_net(classification):
    params, padded, masks, _, x, y = problem(5, 2, "softmax_cross_entropy", jnp.float32, batch=30)
    kw = {"activation": "relu", "cost": "softmax_cross_entropy", "classification": classification}
    loss, acc = evaluate(params, x, y, **kw)
    padded_loss, padded_acc = evaluate(padded, x, y, unit_masks=masks, **kw)
    np.testing.assert_allclose(padded_loss, loss, rtol=TOLERANCE["float32"])
    if classification:
        hits = jnp.argmax(forward(params, x, activation="relu", output=resolve("relu", kw["cost"])[1])[0], 1)
        assert float(acc) == float(jnp.mean(hits == jnp.argmax(y, 1))) == float(padded_acc)
    else:
        assert np.isnan(acc) and np.isnan(padded_acc)


def test_evaluate_one_output_unit_thresholds_at_a_half():
    params = ((jnp.array([[1.0]]), jnp.array([0.0])),)
    x = jnp.array([[-2.0], [-1.0], [1.0], [3.0]])
    y = jnp.array([[0.0], [1.0], [1.0], [1.0]])
    _, acc = evaluate(params, x, y, activation="sigmoid", cost="quadratic", classification=True)
    assert float(acc) == 0.75


def test_pad_unpad_and_masks():
    params = draw_params(np.random.default_rng(0), (3, 2, 4, 1))
    padded = pad_params(params, (5, 6))
    assert layer_sizes(padded) == (3, 5, 6, 1)
    for p, q in zip(jax.tree.leaves(unpad_params(padded, (3, 2, 4, 1))), jax.tree.leaves(params)):
        assert np.array_equal(p, q)
    masks = unit_masks((2, 4), (5, 6), jnp.float32)
    assert [m.tolist() for m in masks] == [[1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0]]
    assert masks[0].dtype == jnp.float32
    with pytest.raises(ValueError, match="do not fit"):
        pad_params(params, (1, 6))
    with pytest.raises(ValueError, match="hidden layers"):
        unit_masks((2, 4), (5,))
    with pytest.raises(ValueError, match="not a net padded"):
        unpad_params(padded, (3, 2, 4, 2))


# Every pair of (depth, dtype, init, key kind) meets in 6 cases. Each case draws at two true widths
# under its padded ones: a generic one, and in turn the width-1 edge and the unpadded edge (true ==
# padded). A raw key compiles its own program, so each case uses one kind of key.
INIT_FACTORS = {
    "depth": tuple(WIDTHS),
    "dtype": ("float32", "float64"),
    "init": ("normal", "scaled"),
    "key": ("typed", "raw"),
}
INIT_CASES = [(r["dtype"], r["init"], r["depth"], r["key"]) for r in pairwise(INIT_FACTORS)]


@pytest.mark.parametrize(("dtype", "init", "depth", "key"), INIT_CASES)
def test_padded_init_is_the_padded_small_init_in_one_program(dtype, init, depth, key):
    """Bit for bit ``pad_params(init_params(…))``, and one compile for every width of a depth."""
    padded = WIDTHS[depth][1]
    edge = (1, 1, 1) if INIT_CASES.index((dtype, init, depth, key)) % 2 else padded
    make_key = jax.random.key if key == "typed" else jax.random.PRNGKey
    with precision(dtype) as dt:
        compiled = None
        for seed, true in enumerate([edge, (2, 5, 4)]):
            sizes = (N_IN, *(min(t, p) for t, p in zip(true, padded)), N_OUT)
            expected = pad_params(init_params(make_key(seed), sizes, init=init, dtype=dt), padded)
            got = init_padded_params(make_key(seed), sizes, padded, init=init, dtype=dt)
            for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
                assert g.dtype == e.dtype and np.array_equal(g, e), (sizes, init)
            compiled = compiled or _init_padded._cache_size()
        assert _init_padded._cache_size() == compiled  # a new width, no new program
    with pytest.raises(ValueError, match="do not fit"):
        init_padded_params(jax.random.key(0), (3, 8, 2), (5,))


def test_both_inits_share_one_padded_init_program():
    """``normal`` scales by exactly 1, so a sweep over ``init`` compiles the padded draw once per depth."""
    before = _init_padded._cache_size()
    sizes, padded = (N_IN, 2, N_OUT), (11,)  # a padded shape no other test uses
    for init in ("normal", "scaled"):
        got = init_padded_params(jax.random.key(1), sizes, padded, init=init)
        expected = pad_params(init_params(jax.random.key(1), sizes, init=init), padded)
        for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
            assert np.array_equal(g, e), init
    assert _init_padded._cache_size() == before + 1
