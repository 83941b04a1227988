"""SGD, the scanned epoch and its metrics."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from backprop_core import (
    count_params,
    epoch_batches,
    init_params,
    layer_sizes,
    manual_grads,
    precision,
    sgd_step,
    sgd_update,
    train_epoch,
)
from tests.support.draws import draw_data, draw_params

# One small net and data set for the epoch tests, so they share compiled programs: drawn in numpy
# (an eager init_params or jax.random draw compiles anew for every shape; init is tested below).
SIZES = (5, 7, 3)


def problem(n, sizes=SIZES, *, seed=0, init="normal"):
    rng = np.random.default_rng(seed)
    x, y = draw_data(rng, sizes[0], sizes[-1], batch=n, cost="quadratic")
    return draw_params(rng, sizes, init=init), x, y


XOR_X = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = jnp.array([[0.0], [1.0], [1.0], [0.0]])


@functools.partial(jax.jit, static_argnames=("grad", "epochs"))
def train_xor(grad: str, epochs: int):
    """``epochs`` calls of ``train_epoch`` in one scanned program: 1500 dispatches from Python cost
    more CPU than compiling the loop (the losses are the same, bit for bit)."""

    def epoch(params, key):
        params, metrics = train_epoch(params, XOR_X, XOR_Y, key, lr=4.0, batch_size=4, grad=grad)
        return params, metrics.train_loss

    return jax.lax.scan(
        epoch, init_params(jax.random.key(1), (2, 3, 1)), jax.random.split(jax.random.key(2), epochs)
    )


def test_xor_learns_with_manual_grads_and_tracks_autodiff():
    manual_params, manual_losses = train_xor("manual", 1500)
    auto_params, auto_losses = train_xor("autodiff", 1500)
    assert manual_losses[-1] < 0.01, manual_losses[-1]
    np.testing.assert_allclose(manual_losses, auto_losses, rtol=0, atol=1e-5)
    for m, a in zip(jax.tree.leaves(manual_params), jax.tree.leaves(auto_params)):
        np.testing.assert_allclose(m, a, rtol=0, atol=1e-4)


@pytest.mark.parametrize("n", [60, 57])  # a whole number of batches, and a partial last batch
@pytest.mark.parametrize("grad", ["manual", "autodiff"])
def test_scanned_epoch_equals_python_loop_of_steps(n, grad):
    params, x, y = problem(n)
    epoch_key = jax.random.key(3)

    scanned, _ = train_epoch(params, x, y, epoch_key, lr=0.7, batch_size=10, grad=grad)

    looped = params
    indices, masks = epoch_batches(epoch_key, n, 10)
    for idx, mask in zip(indices, masks):
        looped, _ = sgd_step(looped, x[idx], y[idx], lr=0.7, grad=grad, mask=mask)
    for s, l in zip(jax.tree.leaves(scanned), jax.tree.leaves(looped)):
        np.testing.assert_allclose(s, l, rtol=1e-6, atol=1e-7)


def test_padded_last_batch_is_the_smaller_batch():
    """The masked, padded last step equals an ordinary step on the real leftover samples."""
    params, x, y = problem(57, seed=1)
    key = jax.random.key(5)
    indices, masks = epoch_batches(key, 57, 10)
    assert indices.shape == masks.shape == (6, 10)
    assert int(masks.sum()) == 57
    assert sorted(np.asarray(indices)[np.asarray(masks)].tolist()) == list(range(57))

    expected = params
    for idx, mask in zip(indices, masks):
        real = np.asarray(idx)[np.asarray(mask)]
        expected = sgd_update(expected, manual_grads(expected, x[real], y[real]), 0.5)
    got, _ = train_epoch(params, x, y, key, lr=0.5, batch_size=10)
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_one_compiled_epoch_per_architecture():
    """A new learning rate or new parameter values reuse the compiled epoch; a new shape does not."""
    params, x, y = problem(60)
    train_epoch(params, x, y, jax.random.key(0), lr=0.1, batch_size=10)
    before = train_epoch._cache_size()
    for lr in (0.2, 0.5, 3.0):
        params, _ = train_epoch(params, x, y, jax.random.key(1), lr=lr, batch_size=10)
    assert train_epoch._cache_size() == before
    wider, _, _ = problem(60, (5, 9, 3))
    train_epoch(wider, x, y, jax.random.key(0), lr=0.1, batch_size=10)
    assert train_epoch._cache_size() == before + 1


def test_epoch_metrics_are_measured_on_device():
    params, x, y = problem(60, (5, 7, 7, 3))
    _, metrics = train_epoch(params, x, y, jax.random.key(3), lr=0.1, batch_size=60)
    # One full batch and lr tiny enough not to matter for the loss measured before the step.
    grads = manual_grads(params, x, y)
    np.testing.assert_allclose(metrics.grad_norm_W, [np.linalg.norm(gW) for gW, _ in grads], rtol=1e-5)
    np.testing.assert_allclose(metrics.grad_norm_b, [np.linalg.norm(gb) for _, gb in grads], rtol=1e-5)
    assert metrics.saturation.shape == (3,)
    assert bool(jnp.all((metrics.saturation >= 0) & (metrics.saturation <= 1)))


def test_saturation_counts_units_with_flat_derivative():
    params, x, y = problem(60)
    params = jax.tree.map(lambda p: 100.0 * p, params)  # every sigmoid unit pinned to 0 or 1
    _, metrics = train_epoch(params, x, y, jax.random.key(3), lr=0.1, batch_size=10)
    assert float(metrics.saturation[0]) > 0.9
    calm_params, _, _ = problem(60, init="scaled")
    _, calm = train_epoch(calm_params, 0.01 * x, y, jax.random.key(3), lr=0.1, batch_size=10)
    assert float(calm.saturation[0]) == 0.0


def test_init_shapes_and_scales():
    params = init_params(jax.random.key(0), (400, 300, 10))
    assert layer_sizes(params) == (400, 300, 10)
    assert [(W.shape, b.shape) for W, b in params] == [((300, 400), (300,)), ((10, 300), (10,))]
    assert count_params(params) == 400 * 300 + 300 + 300 * 10 + 10
    assert float(jnp.std(params[0][0])) == pytest.approx(1.0, rel=0.02)
    scaled = init_params(jax.random.key(0), (400, 300, 10), init="scaled")
    assert float(jnp.std(scaled[0][0])) == pytest.approx(1 / np.sqrt(400), rel=0.02)
    assert float(jnp.std(scaled[0][1])) == pytest.approx(1.0, rel=0.2)
    with pytest.raises(ValueError, match="init"):
        init_params(jax.random.key(0), (2, 1), init="xavier")
    with pytest.raises(ValueError, match="sizes"):
        init_params(jax.random.key(0), (2, 0, 1))


def test_float64_only_inside_precision_block():
    with precision("float64") as dtype:
        params = init_params(jax.random.key(0), (3, 2), dtype=dtype)
        assert params[0][0].dtype == jnp.float64
        x = jnp.ones((4, 3), dtype)
        stepped, _ = sgd_step(params, x, jnp.zeros((4, 2), dtype), lr=0.1)
        assert stepped[0][0].dtype == jnp.float64
    assert jnp.zeros(1).dtype == jnp.float32
    assert init_params(jax.random.key(0), (3, 2))[0][0].dtype == jnp.float32


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_products_inside_precision_block_are_full_precision(dtype_name):
    """TF32 products on a GPU broke the float32 gradient check; the block asks XLA for full precision
    in every product of the step it traces (the dots of the forward pass and of BP2–BP4), and only
    inside it. The lowered program says so on any backend, so this runs on the CPU too."""

    def lowered_step(dtype):
        params = init_params(jax.random.key(0), (3, 4, 2), dtype=dtype)
        x = jnp.ones((5, 3), dtype)
        return sgd_step.lower(params, x, jnp.zeros((5, 2), dtype), lr=0.1).as_text()

    with precision(dtype_name) as dtype:
        inside = lowered_step(dtype)
    outside = lowered_step(jnp.float32)
    dots = inside.count("stablehlo.dot_general")
    assert dots >= 5  # z^1, z^2, BP2's δ^1, BP4 twice (BP3's batch means too, as products)
    assert inside.count("HIGHEST") >= dots
    assert "HIGHEST" not in outside
