"""The same gradients by JAX's autodiff: the second system the manual backward pass is checked against."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from backprop_core.activations import Activation
from backprop_core.costs import Cost
from backprop_core.network import UnitMasks, batch_cost, resolve
from backprop_core.params import Params

Array = jax.Array


def autodiff_grads(
    params: Params,
    x: Array,
    y: Array,
    *,
    activation: str | Activation = "sigmoid",
    cost: str | Cost = "quadratic",
    mask: Array | None = None,
    unit_masks: UnitMasks | None = None,
) -> Params:
    """``jax.grad`` of :func:`backprop_core.batch_cost`; same signature as ``manual_grads``."""
    return jax.grad(batch_cost)(
        params, x, y, activation=activation, cost=cost, mask=mask, unit_masks=unit_masks
    )


def autodiff_output_errors(
    params: Params,
    x: Array,
    y: Array,
    *,
    activation: str | Activation = "sigmoid",
    cost: str | Cost = "quadratic",
    unit_masks: UnitMasks | None = None,
) -> tuple[Array, ...]:
    """``∂C_i/∂z^l`` for every sample and layer, by ``jax.grad``: autodiff's view of ``δ^l``.

    Adds a zero offset ``e^l`` to every ``z^l`` and differentiates the summed cost with respect to
    the offsets; ``∂(Σ_i C_i)/∂e^l_i = ∂C_i/∂z^l_i`` because sample ``i`` only feeds ``C_i``.
    Comparing these with the manual ``δ^l`` tells BP1/BP2 bugs apart from BP3/BP4 bugs. With
    ``unit_masks`` the hidden activations are ``σ(z^l) ⊙ m^l``, so a padded unit's error is 0.
    """
    act, out, cost = resolve(activation, cost)

    def summed_cost(offsets):
        a = x
        for l, ((W, b), e) in enumerate(zip(params, offsets), start=1):
            z = a @ W.T + b[None, :] + e
            a = (out if l == len(params) else act).fn(z)
            if unit_masks is not None and l < len(params):
                a = a * unit_masks[l - 1].astype(a.dtype)[None, :]  # a^l = σ(z^l) ⊙ m^l
        return jnp.sum(cost.fn(z, a, y))

    offsets = tuple(jnp.zeros((x.shape[0], W.shape[0]), x.dtype) for W, _ in params)
    return jax.grad(summed_cost)(offsets)
