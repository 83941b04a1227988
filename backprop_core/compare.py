"""Agreement between two gradients, tensor by tensor."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from backprop_core.network import layer_names
from backprop_core.params import Params

Array = jax.Array


class Agreement(NamedTuple):
    """How closely two tensors ``a`` and ``b`` agree.

    Attributes:
      max_abs_err: ``max |a − b|``.
      rel_err: normwise ``‖a − b‖ / max(‖a‖, ‖b‖)`` (0 when both are zero).
      cosine: ``⟨a, b⟩ / (‖a‖ ‖b‖)`` (1 when both are zero).
    """

    max_abs_err: Array
    rel_err: Array
    cosine: Array


def agreement(a: Array, b: Array) -> Agreement:
    """Compares two arrays of the same shape."""
    a, b = jnp.ravel(a), jnp.ravel(b)
    norm_a, norm_b = jnp.linalg.norm(a), jnp.linalg.norm(b)
    scale = jnp.maximum(norm_a, norm_b)
    safe = jnp.where(scale > 0, scale, 1)
    both_zero = scale == 0
    norms = norm_a * norm_b
    cosine = jnp.dot(a, b) / jnp.where(norms > 0, norms, 1)
    return Agreement(
        max_abs_err=jnp.max(jnp.abs(a - b)),
        rel_err=jnp.where(both_zero, 0, jnp.linalg.norm(a - b) / safe),
        cosine=jnp.where(norms > 0, cosine, jnp.where(both_zero, 1, 0)),
    )


def compare_grads(a: Params, b: Params) -> dict[str, Agreement]:
    """Per layer and tensor (``"W1"``, ``"b1"``, …): max absolute error, relative error, cosine."""
    leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
    return {name: agreement(x, y) for name, x, y in zip(layer_names(a), leaves_a, leaves_b)}


def overall_agreement(a: Params, b: Params) -> Agreement:
    """Agreement of the whole gradients, every tensor flattened into one vector.

    In float32 this is the meaningful relative error: a single tensor whose gradient is tiny
    (a layer behind a saturated unit) can carry a large relative error in *both* systems, since
    ``σ'`` read off a rounded activation near its asymptote has few correct digits.
    """
    flat = [jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(t)]) for t in (a, b)]
    return agreement(*flat)


def max_rel_err(comparison: dict[str, Agreement]) -> Array:
    """The worst normwise relative error over every tensor."""
    return jnp.max(jnp.stack([c.rel_err for c in comparison.values()]))
