"""Activation functions, each beside its local derivative.

The backward pass never differentiates an activation: it reads the derivative off the activation
value ``a`` already stored by the forward pass (for the sigmoid, ``σ'(z) = σ(z)(1 − σ(z)) = a(1 − a)``).
So every activation here is a pair ``(fn(z) -> a, prime(a) -> σ'(z))`` plus the largest value its
derivative can take, which is what "saturated" is measured against.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

Array = jax.Array


class Activation(NamedTuple):
    """An elementwise activation and its derivative expressed through its own output.

    Attributes:
      name: the name used in configs (``model.activation``).
      fn: ``a = σ(z)``.
      prime: ``σ'(z)`` computed from ``a``; never from ``z`` and never by autodiff.
      max_prime: ``max_z σ'(z)``; a unit counts as saturated when ``prime(a) < 0.01 · max_prime``.
    """

    name: str
    fn: Callable[[Array], Array]
    prime: Callable[[Array], Array]
    max_prime: float


def _sigmoid_prime(a: Array) -> Array:
    return a * (1 - a)  # σ'(z) = σ(z)(1 − σ(z))


def _tanh_prime(a: Array) -> Array:
    # tanh'(z) = 1 − tanh(z)², factored: (1 − a)(1 + a) keeps full relative precision as a → ±1,
    # where 1 − a·a cancels catastrophically.
    return (1 - a) * (1 + a)


def _relu_prime(a: Array) -> Array:
    # relu'(z) is 1 where the unit is on and 0 where it is off (0 at z = 0, as jax.nn.relu says).
    return (a > 0).astype(a.dtype)


SIGMOID = Activation("sigmoid", jax.nn.sigmoid, _sigmoid_prime, 0.25)
TANH = Activation("tanh", jnp.tanh, _tanh_prime, 1.0)
RELU = Activation("relu", jax.nn.relu, _relu_prime, 1.0)

ACTIVATIONS: dict[str, Activation] = {act.name: act for act in (SIGMOID, TANH, RELU)}


def get_activation(name: str) -> Activation:
    """Looks an activation up by its config name; raises ``ValueError`` naming the choices."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}") from None
