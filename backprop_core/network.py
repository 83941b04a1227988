"""The forward pass and the hand-written backward pass (BP1–BP4).

Notation of the notes: ``a^0 = x``, ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)``, ``ŷ = a^L``.
A batch is rows, so in code ``z = a_prev @ W.T + b`` and ``(W^{l+1})ᵀ δ^{l+1}`` is ``delta @ W``.
Python lists are 0-based: ``zs[l-1]`` is ``z^l`` and ``activations[l]`` is ``a^l``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp

from backprop_core.activations import Activation, get_activation
from backprop_core.costs import Cost, get_cost
from backprop_core.params import Params

Array = jax.Array


class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes:
      zs: ``(z^1, …, z^L)``, each ``(batch, n_l)``.
      activations: ``(a^0 = x, a^1, …, a^L)``, each ``(batch, n_l)``.
    """

    zs: tuple[Array, ...]
    activations: tuple[Array, ...]


class Backward(NamedTuple):
    """The backward pass's results.

    Attributes:
      deltas: per-sample errors ``(δ^1, …, δ^L)``, ``δ^l = ∂C/∂z^l`` of shape ``(batch, n_l)``.
      grads: ``((∂C/∂W^1, ∂C/∂b^1), …)`` of the batch cost, shaped like the params.
    """

    deltas: tuple[Array, ...]
    grads: Params


def resolve(activation: str | Activation, cost: str | Cost) -> tuple[Activation, Activation, Cost]:
    """``(hidden activation, output activation, cost)`` from names or objects."""
    act = get_activation(activation) if isinstance(activation, str) else activation
    cost = get_cost(cost) if isinstance(cost, str) else cost
    return act, cost.output or act, cost


def batch_weights(x: Array, mask: Array | None) -> Array:
    """Per-sample weights of the batch mean, shape ``(batch,)``, summing to one.

    ``mask`` marks real samples (1) and padding (0); padding gets weight zero, so a padded last
    mini-batch has the same cost and gradient as the smaller batch it stands for.
    """
    if mask is None:
        return jnp.full((x.shape[0],), 1.0 / x.shape[0], x.dtype)
    mask = mask.astype(x.dtype)
    return mask / jnp.maximum(jnp.sum(mask), 1)


def forward(
    params: Params, x: Array, *, activation: str | Activation = "sigmoid", output=None
) -> tuple[Array, Cache]:
    """Runs ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)`` from ``a^0 = x`` up to ``ŷ = a^L``.

    Args:
      params: ``((W^1, b^1), …, (W^L, b^L))``.
      x: inputs, ``(batch, n_0)``.
      activation: σ of every hidden layer (and of the output unless ``output`` is given).
      output: the output layer's activation, by default the same as ``activation``.

    Returns:
      ``(a^L, Cache(zs, activations))``.
    """
    act = get_activation(activation) if isinstance(activation, str) else activation
    out = output or act
    a = x
    zs, activations = [], [x]
    for l, (W, b) in enumerate(params, start=1):
        z = a @ W.T + b[None, :]  # z^l = W^l a^{l−1} + b^l, one row per sample
        a = (out if l == len(params) else act).fn(z)
        zs.append(z)
        activations.append(a)
    return a, Cache(tuple(zs), tuple(activations))


def backward(
    params: Params,
    cache: Cache,
    y: Array,
    *,
    activation: str | Activation,
    cost: str | Cost,
    weights: Array,
) -> Backward:
    """BP1–BP4: the gradient of the weighted batch cost ``Σ_i weights_i C_i``.

    ``σ'`` is read off the cached activations (``act.prime(a)``), never differentiated.
    """
    act, out, cost = resolve(activation, cost)
    zs, activations = cache
    L = len(params)

    delta = cost.output_error(zs[-1], activations[-1], y, out)  # BP1: δ^L = ∂C/∂a^L ⊙ σ'(z^L)
    deltas = [delta]
    for l in range(L - 1, 0, -1):
        W_next, _ = params[l]  # W^{l+1}
        delta = (delta @ W_next) * act.prime(activations[l])  # BP2: δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)
        deltas.insert(0, delta)

    grads = tuple(
        (
            (weights[:, None] * delta).T @ a_prev,  # BP4: ∂C/∂W^l = δ^l (a^{l−1})ᵀ, batch mean
            weights @ delta,  # BP3: ∂C/∂b^l = δ^l, batch mean
        )
        for delta, a_prev in zip(deltas, activations[:-1])
    )
    return Backward(tuple(deltas), grads)


def manual_grads(
    params: Params,
    x: Array,
    y: Array,
    *,
    activation: str | Activation = "sigmoid",
    cost: str | Cost = "quadratic",
    mask: Array | None = None,
) -> Params:
    """Gradient of the batch cost (mean of per-sample costs) by the backprop equations.

    Args:
      params: ``((W^1, b^1), …)``.
      x: inputs ``(batch, n_0)``.
      y: targets ``(batch, n_L)``.
      activation: hidden σ; cost: the cost, which may fix the output activation.
      mask: optional ``(batch,)`` 0/1 marks of real samples; padding counts for nothing.

    Returns:
      ``((∂C/∂W^1, ∂C/∂b^1), …)`` shaped like ``params``.
    """
    act, out, cost = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out)
    return backward(params, cache, y, activation=act, cost=cost, weights=batch_weights(x, mask)).grads


def per_sample_costs(cache: Cache, y: Array, cost: Cost) -> Array:
    """``C_i`` for every row, shape ``(batch,)``."""
    return cost.fn(cache.zs[-1], cache.activations[-1], y)


def batch_cost(
    params: Params,
    x: Array,
    y: Array,
    *,
    activation: str | Activation = "sigmoid",
    cost: str | Cost = "quadratic",
    mask: Array | None = None,
) -> Array:
    """The batch cost: the (masked) mean of the per-sample costs."""
    act, out, cost = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out)
    return batch_weights(x, mask) @ per_sample_costs(cache, y, cost)


def predict(params: Params, x: Array, *, activation="sigmoid", cost="quadratic") -> Array:
    """The network's output ``ŷ = a^L`` for inputs ``x``."""
    act, out, _ = resolve(activation, cost)
    return forward(params, x, activation=act, output=out)[0]


def layer_names(params: Params | Sequence) -> list[str]:
    """``["W1", "b1", "W2", …]`` in the order of ``jax.tree.leaves(params)``."""
    return [f"{t}{l}" for l in range(1, len(params) + 1) for t in ("W", "b")]
