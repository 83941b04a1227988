"""Network parameters: a tuple of ``(W, b)`` pairs, layer 1 first.

``W^l`` has shape ``(n_l, n_{l−1})`` and ``b^l`` shape ``(n_l,)``, so ``z^l = W^l a^{l−1} + b^l``
reads as in the notes. Layer sizes are never stored separately: they are the parameters' shapes.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
Layer = tuple[Array, Array]  # (W: (n_l, n_{l-1}), b: (n_l,))
Params = tuple[Layer, ...]

INITS = ("normal", "scaled")


def init_params(key: Array, sizes: Sequence[int], *, init: str = "normal", dtype=jnp.float32) -> Params:
    """Draws the weights and biases of an MLP with layer widths ``sizes = (n_0, n_1, …, n_L)``.

    Args:
      key: a PRNG key; the only source of randomness.
      sizes: widths from the input ``n_0`` to the output ``n_L``; at least two, all positive.
      init: ``"normal"`` draws every ``W`` and ``b`` from N(0, 1) as the classic notes do;
        ``"scaled"`` draws ``W^l`` from N(0, 1/n_{l−1}) (and ``b^l`` from N(0, 1)), which keeps
        ``z^l`` of order one and the sigmoid out of saturation in wide layers.
      dtype: floating dtype of the parameters; float64 needs ``jax.enable_x64`` (see
        :func:`backprop_core.precision`).

    Returns:
      ``((W^1, b^1), …, (W^L, b^L))``.
    """
    sizes = tuple(int(n) for n in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive widths, got {sizes}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    params = []
    for n_in, n_out, layer_key in zip(sizes[:-1], sizes[1:], jax.random.split(key, len(sizes) - 1)):
        w_key, b_key = jax.random.split(layer_key)
        W = jax.random.normal(w_key, (n_out, n_in), dtype)
        if init == "scaled":  # not ``1.0 * W`` for "normal": an eager op compiles once per shape
            W = (1.0 / jnp.sqrt(n_in)) * W
        b = jax.random.normal(b_key, (n_out,), dtype)
        params.append((W.astype(dtype), b))
    return tuple(params)


def layer_sizes(params: Params) -> tuple[int, ...]:
    """``(n_0, …, n_L)`` read off the parameter shapes."""
    return (params[0][0].shape[1], *(W.shape[0] for W, _ in params))


def count_params(params: Params) -> int:
    """Number of scalar weights and biases."""
    return sum(W.size + b.size for W, b in params)
