"""Populations: a trial trained in a vmapped population is the same trial trained alone.

Tolerance: over several epochs, every slot's per-epoch EpochMetrics and final params (unpadded)
agree with the same trial trained alone, unpadded, with ``train_epoch`` (same init, same keys) to
``1e-12`` relative in float64 and ``1e-5`` in float32 (the vmapped program batches the matrix
products, so only rounding differs). Observed: ≲1e-15 and ≲5e-7. The rates are kept stable on
purpose: at α = 3 a width-1 tanh net amplifies a float32 rounding difference about tenfold per
epoch (1e-3 after four), which says nothing about the population but would fail any fixed bound.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from backprop_core import (
    evaluate,
    overall_agreement,
    pad_params,
    population_epoch,
    population_evaluate,
    precision,
    stack_params,
    train_epoch,
    unit_masks,
    unpad_params,
    unstack_params,
)
from tests.support.draws import draw_data, draw_params

TOLERANCE = {"float64": 1e-12, "float32": 1e-5}
N_IN, N_OUT = 5, 3
PADDED = (12, 9)
TRUE = [(3, 5), (12, 9), (7, 1), (1, 2)]  # slot k's true hidden widths
LRS = [0.05, 0.2, 0.5, 1.0]  # stable rates: see the module docstring
EPOCHS = 4


@pytest.fixture(autouse=True)
def _no_silent_broadcasting():
    with jax.numpy_rank_promotion("raise"):
        yield


def population(dtype, *, n=47):
    """Each slot's unpadded init and sizes, the stacked padded population, its masks, data and keys."""
    rng = np.random.default_rng(100)
    x, y = draw_data(rng, N_IN, N_OUT, batch=n, cost="softmax_cross_entropy", dtype=dtype)
    sizes = [(N_IN, *true, N_OUT) for true in TRUE]
    alone = [draw_params(rng, s, init="scaled", dtype=dtype) for s in sizes]
    params_K = stack_params([pad_params(p, PADDED) for p in alone])
    masks_K = stack_params([unit_masks(true, PADDED, dtype) for true in TRUE])
    # keys[e, k]: slot k's data order in epoch e; every slot its own.
    keys = jax.random.split(jax.random.key(7), (EPOCHS, len(TRUE)))
    return alone, sizes, params_K, masks_K, x, y, keys


# The float32 (tanh, quadratic, autodiff) case's program, reused by the tests that need any one.
SHARED = {"batch_size": 10, "activation": "tanh", "cost": "quadratic", "grad": "autodiff"}


def rel_err(a, b) -> float:
    """Normwise relative error of two pytrees flattened into one vector."""
    return float(overall_agreement(a, b).rel_err)


@pytest.mark.parametrize(
    ("dtype", "activation", "cost", "grad", "alone"),
    [
        ("float64", "sigmoid", "quadratic", "manual", "unpadded"),
        ("float64", "tanh", "softmax_cross_entropy", "autodiff", "padded"),
        ("float32", "relu", "cross_entropy", "manual", "padded"),
        ("float32", "tanh", "quadratic", "autodiff", "unpadded"),
    ],
)
def test_a_slot_trains_like_the_trial_alone(dtype, activation, cost, grad, alone):
    """Slot k of the vmapped population against trial k trained alone by ``train_epoch``.

    ``alone="unpadded"`` trains each trial at its true widths (one compiled epoch per trial): the
    claim end to end. ``"padded"`` trains it at the padded widths under its own masks (one compiled
    epoch for all four), which isolates the population (slot mix-ups of params, rates, keys or masks);
    that a masked padded epoch is the small net's is ``test_masks``' claim.
    """
    with precision(dtype) as dt:
        trials, sizes, params_K, masks_K, x, y, keys = population(dt)
        kw = {"batch_size": 10, "activation": activation, "cost": cost, "grad": grad}
        lr_K = jnp.asarray(LRS, dt)
        pop_metrics = []
        for keys_K in keys:
            params_K, m = population_epoch(
                params_K, x, y, keys_K, lr_K=lr_K, unit_masks_K=masks_K, active_K=jnp.ones(4, bool), **kw
            )
            pop_metrics.append(m)
        tol = TOLERANCE[dtype]
        for k, (params, s) in enumerate(zip(trials, sizes)):
            masks = None
            if alone == "padded":
                params, masks = pad_params(params, PADDED), unstack_params(masks_K)[k]
            for e, keys_K in enumerate(keys):
                params, metrics = train_epoch(params, x, y, keys_K[k], lr=LRS[k], unit_masks=masks, **kw)
                for name in metrics._fields:
                    got = getattr(pop_metrics[e], name)[k]
                    np.testing.assert_allclose(got, getattr(metrics, name), rtol=tol, atol=tol, err_msg=name)
            got = unstack_params(params_K)[k]
            assert rel_err(unpad_params(got, s), unpad_params(params, s)) <= tol


def test_inactive_slots_stay_fixed_and_report_nan():
    _, _, params_K, masks_K, x, y, keys = population(jnp.float32)
    active = jnp.array([True, False, True, False])
    kw = SHARED  # the program of a case above: no compile of its own
    lr_K = jnp.asarray(LRS)
    new_K, metrics = population_epoch(
        params_K, x, y, keys[0], lr_K=lr_K, unit_masks_K=masks_K, active_K=active, **kw
    )
    for k, (old, new) in enumerate(zip(unstack_params(params_K), unstack_params(new_K))):
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(old), jax.tree.leaves(new)))
        assert same == (not bool(active[k])), k
        assert bool(jnp.all(jnp.isnan(metrics.train_loss[k]))) == (not bool(active[k]))
    # An inactive slot whose gradients are nan (a diverged trial) stays put too.
    nan_K = jax.tree.map(lambda p: p.at[1].set(jnp.nan).at[3, ...].multiply(1e30), params_K)
    frozen, _ = population_epoch(nan_K, x, y, keys[0], lr_K=lr_K, unit_masks_K=masks_K, active_K=active, **kw)
    for a, b in zip(jax.tree.leaves(frozen), jax.tree.leaves(nan_K)):
        np.testing.assert_array_equal(a[1::2], b[1::2])


def test_one_compiled_population_whatever_its_rates_masks_and_activity():
    _, _, params_K, masks_K, x, y, keys = population(jnp.float32)
    kw = SHARED
    on = jnp.ones(4, bool)
    population_epoch(params_K, x, y, keys[0], lr_K=jnp.asarray(LRS), unit_masks_K=masks_K, active_K=on, **kw)
    before = population_epoch._cache_size()
    other_masks = stack_params([unit_masks((k + 1, 9 - k), PADDED) for k in range(4)])
    for e, (lrs, masks, active) in enumerate(
        [
            (jnp.asarray([0.3, 0.3, 0.3, 0.3]), other_masks, jnp.array([True, True, False, True])),
            (jnp.asarray([2.0, 0.01, 1.0, 0.5]), masks_K, jnp.array([False, False, False, True])),
            (jnp.asarray(LRS), other_masks, on),
        ]
    ):
        params_K, _ = population_epoch(
            params_K, x, y, keys[e + 1], lr_K=lrs, unit_masks_K=masks, active_K=active, **kw
        )
    assert population_epoch._cache_size() == before


@pytest.mark.parametrize("classification", [True, False])
def test_population_evaluate_matches_evaluate_per_trial(classification):
    alone, _, params_K, masks_K, x, y, _ = population(jnp.float32)
    kw = {"activation": "relu", "cost": "softmax_cross_entropy", "classification": classification}
    loss_K, acc_K = population_evaluate(params_K, x, y, unit_masks_K=masks_K, **kw)
    assert loss_K.shape == acc_K.shape == (len(alone),)
    for k, params in enumerate(alone):
        loss, acc = evaluate(params, x, y, **kw)
        np.testing.assert_allclose(loss_K[k], loss, rtol=TOLERANCE["float32"])
        np.testing.assert_array_equal(acc_K[k], acc)  # nan == nan for regression


def test_stack_and_unstack_are_inverse():
    trials = [draw_params(np.random.default_rng(k), (3, 4, 2)) for k in range(3)]
    stacked = stack_params(trials)
    assert [leaf.shape for leaf in jax.tree.leaves(stacked)] == [(3, 4, 3), (3, 4), (3, 2, 4), (3, 2)]
    for trial, back in zip(trials, unstack_params(stacked)):
        assert jax.tree.structure(trial) == jax.tree.structure(back)
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(trial), jax.tree.leaves(back)))
