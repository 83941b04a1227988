"""SGD, the scanned epoch and its metrics."""

from __future__ import annotations

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

XOR_X = jnp.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = jnp.array([[0.0], [1.0], [1.0], [0.0]])


def train_xor(grad: str, epochs: int):
    params = init_params(jax.random.key(1), (2, 3, 1))
    losses = []
    for key in jax.random.split(jax.random.key(2), epochs):
        params, metrics = train_epoch(params, XOR_X, XOR_Y, key, lr=4.0, batch_size=4, grad=grad)
        losses.append(metrics.train_loss)
    return params, np.asarray(jnp.stack(losses))


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
    key = jax.random.key(0)
    params = init_params(key, (5, 7, 3))
    x = jax.random.normal(jax.random.key(1), (n, 5))
    y = jax.random.uniform(jax.random.key(2), (n, 3))
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
    params = init_params(jax.random.key(0), (4, 6, 2))
    x = jax.random.normal(jax.random.key(1), (23, 4))
    y = jax.random.uniform(jax.random.key(2), (23, 2))
    key = jax.random.key(5)
    indices, masks = epoch_batches(key, 23, 8)
    assert indices.shape == masks.shape == (3, 8)
    assert int(masks.sum()) == 23
    assert sorted(np.asarray(indices)[np.asarray(masks)].tolist()) == list(range(23))

    expected = params
    for idx, mask in zip(indices, masks):
        real = np.asarray(idx)[np.asarray(mask)]
        expected = sgd_update(expected, manual_grads(expected, x[real], y[real]), 0.5)
    got, _ = train_epoch(params, x, y, key, lr=0.5, batch_size=8)
    for g, e in zip(jax.tree.leaves(got), jax.tree.leaves(expected)):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_one_compiled_epoch_per_architecture():
    """A new learning rate or new parameter values reuse the compiled epoch; a new shape does not."""
    x = jax.random.normal(jax.random.key(1), (40, 3))
    y = jax.random.uniform(jax.random.key(2), (40, 2))
    params = init_params(jax.random.key(0), (3, 4, 2))
    train_epoch(params, x, y, jax.random.key(0), lr=0.1, batch_size=8, activation="tanh")
    before = train_epoch._cache_size()
    for lr in (0.2, 0.5, 3.0):
        params, _ = train_epoch(params, x, y, jax.random.key(1), lr=lr, batch_size=8, activation="tanh")
    assert train_epoch._cache_size() == before
    wider = init_params(jax.random.key(0), (3, 9, 2))
    train_epoch(wider, x, y, jax.random.key(0), lr=0.1, batch_size=8, activation="tanh")
    assert train_epoch._cache_size() == before + 1


def test_epoch_metrics_are_measured_on_device():
    params = init_params(jax.random.key(0), (4, 6, 5, 3))
    x = jax.random.normal(jax.random.key(1), (50, 4))
    y = jax.random.uniform(jax.random.key(2), (50, 3))
    _, metrics = train_epoch(params, x, y, jax.random.key(3), lr=0.1, batch_size=50)
    # One full batch and lr tiny enough not to matter for the loss measured before the step.
    grads = manual_grads(params, x, y)
    np.testing.assert_allclose(metrics.grad_norm_W, [np.linalg.norm(gW) for gW, _ in grads], rtol=1e-5)
    np.testing.assert_allclose(metrics.grad_norm_b, [np.linalg.norm(gb) for _, gb in grads], rtol=1e-5)
    assert metrics.saturation.shape == (3,)
    assert bool(jnp.all((metrics.saturation >= 0) & (metrics.saturation <= 1)))


def test_saturation_counts_units_with_flat_derivative():
    params = init_params(jax.random.key(0), (4, 8, 2))
    params = jax.tree.map(lambda p: 100.0 * p, params)  # every sigmoid unit pinned to 0 or 1
    x = jax.random.normal(jax.random.key(1), (16, 4))
    y = jax.random.uniform(jax.random.key(2), (16, 2))
    _, metrics = train_epoch(params, x, y, jax.random.key(3), lr=0.1, batch_size=16)
    assert float(metrics.saturation[0]) > 0.9
    _, calm = train_epoch(
        init_params(jax.random.key(0), (4, 8, 2), init="scaled"),
        0.01 * x,
        y,
        jax.random.key(3),
        lr=0.1,
        batch_size=16,
    )
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
