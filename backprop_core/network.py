"""The forward pass and the hand-written backward pass (BP1–BP4).

Notation of the notes: ``a^0 = x``, ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l)``, ``ŷ = a^L``.
A batch is rows, so in code ``z = a_prev @ W.T + b`` and ``(W^{l+1})ᵀ δ^{l+1}`` is ``delta @ W``.
Python lists are 0-based: ``zs[l-1]`` is ``z^l`` and ``activations[l]`` is ``a^l``.

Unit masks: hidden layers may be padded to a common width (see :mod:`backprop_core.padding`) so that
nets of different widths share one compiled program. ``unit_masks = (m^1, …, m^{L−1})`` marks each
hidden layer's real units (1) and padding (0), ``m^l`` of shape ``(n_l,)``; the forward pass computes
``a^l = σ(z^l) ⊙ m^l`` and BP2 ``δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l) ⊙ m^l``. The output layer is never
padded. ``unit_masks=None`` (the default) means no padding and leaves the computation as it was.
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
UnitMasks = tuple[Array, ...]  # (m^1, …, m^{L−1}), m^l of shape (n_l,): 1 real unit, 0 padding


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
    params: Params,
    x: Array,
    *,
    activation: str | Activation = "sigmoid",
    output=None,
    unit_masks: UnitMasks | None = None,
) -> tuple[Array, Cache]:
    """Runs ``z^l = W^l a^{l−1} + b^l``, ``a^l = σ(z^l) ⊙ m^l`` from ``a^0 = x`` up to ``ŷ = a^L``.

    Args:
      params: ``((W^1, b^1), …, (W^L, b^L))``.
      x: inputs, ``(batch, n_0)``.
      activation: σ of every hidden layer (and of the output unless ``output`` is given).
      output: the output layer's activation, by default the same as ``activation``.
      unit_masks: optional ``(m^1, …, m^{L−1})``, 0/1 marks of each hidden layer's real units;
        ``None`` means every unit is real.

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
        if unit_masks is not None and l < len(params):
            a = a * _mask(unit_masks, l, a.dtype)  # a^l = σ(z^l) ⊙ m^l: padding sends nothing on
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
    unit_masks: UnitMasks | None = None,
) -> Backward:
    """BP1–BP4: the gradient of the weighted batch cost ``Σ_i weights_i C_i``.

    ``σ'`` is read off the cached activations (``act.prime(a)``), never differentiated. With
    ``unit_masks`` BP2 multiplies by ``m^l`` too: a padded unit's cached ``a`` is 0, and ``σ'`` read
    off 0 is not 0 for every σ (tanh'(0) = 1), so the mask must be applied, not assumed. Then BP3
    and BP4 give padded rows and columns a gradient of exactly zero.
    """
    act, out, cost = resolve(activation, cost)
    zs, activations = cache
    L = len(params)

    delta = cost.output_error(zs[-1], activations[-1], y, out)  # BP1: δ^L = ∂C/∂a^L ⊙ σ'(z^L)
    deltas = [delta]
    for l in range(L - 1, 0, -1):
        W_next, _ = params[l]  # W^{l+1}
        delta = (delta @ W_next) * act.prime(activations[l])  # BP2: δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)
        if unit_masks is not None:
            delta = delta * _mask(unit_masks, l, delta.dtype)  # BP2 with padding: … ⊙ m^l
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
    unit_masks: UnitMasks | None = None,
) -> Params:
    """Gradient of the batch cost (mean of per-sample costs) by the backprop equations.

    Args:
      params: ``((W^1, b^1), …)``.
      x: inputs ``(batch, n_0)``.
      y: targets ``(batch, n_L)``.
      activation: hidden σ; cost: the cost, which may fix the output activation.
      mask: optional ``(batch,)`` 0/1 marks of real samples; padding counts for nothing.
      unit_masks: optional ``(m^1, …, m^{L−1})`` marks of real hidden units (see :func:`forward`).

    Returns:
      ``((∂C/∂W^1, ∂C/∂b^1), …)`` shaped like ``params``.
    """
    act, out, cost = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out, unit_masks=unit_masks)
    weights = batch_weights(x, mask)
    return backward(params, cache, y, activation=act, cost=cost, weights=weights, unit_masks=unit_masks).grads


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
    unit_masks: UnitMasks | None = None,
) -> Array:
    """The batch cost: the (masked) mean of the per-sample costs, of the (unit-masked) net."""
    act, out, cost = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out, unit_masks=unit_masks)
    return batch_weights(x, mask) @ per_sample_costs(cache, y, cost)


def predict(params: Params, x: Array, *, activation="sigmoid", cost="quadratic", unit_masks=None) -> Array:
    """The network's output ``ŷ = a^L`` for inputs ``x`` (``unit_masks`` as in :func:`forward`)."""
    act, out, _ = resolve(activation, cost)
    return forward(params, x, activation=act, output=out, unit_masks=unit_masks)[0]


def _mask(unit_masks: UnitMasks, l: int, dtype) -> Array:
    """``m^l`` as a row, ``(1, n_l)``, in the activations' dtype (a bool or float32 mask must not
    promote a float64 net, nor a float64 mask a float32 one)."""
    return unit_masks[l - 1].astype(dtype)[None, :]


def layer_names(params: Params | Sequence) -> list[str]:
    """``["W1", "b1", "W2", …]`` in the order of ``jax.tree.leaves(params)``."""
    return [f"{t}{l}" for l in range(1, len(params) + 1) for t in ("W", "b")]
