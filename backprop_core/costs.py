"""Cost functions, each beside the output error it produces (BP1).

A cost is a pair: the per-sample cost ``C(a^L, y)`` and ``output_error`` which returns BP1,
``δ^L = ∂C/∂a^L ⊙ σ'(z^L)``. For the quadratic cost of the notes that is literally
``−(y − a^L) ⊙ σ'(z^L)``. For cross-entropy on sigmoid outputs the product simplifies,
``(a − y)/(a(1 − a)) ⊙ a(1 − a) = a − y``; writing the simplified form is what keeps δ^L finite
when a unit saturates (``a`` rounds to exactly 0 or 1 and the unsimplified quotient is 0/0).

Costs that only make sense on one output non-linearity name it in ``output``; the network then
uses that activation on its last layer whatever the hidden activation is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from backprop_core.activations import SIGMOID, Activation

Array = jax.Array


class Cost(NamedTuple):
    """A per-sample cost and its output error.

    Attributes:
      name: the name used in configs (``model.cost``).
      fn: ``C(z^L, a^L, y)`` per sample, shape ``(batch,)``. It takes ``z^L`` too so that
        cross-entropy can be evaluated stably from the pre-activation.
      output_error: BP1, ``δ^L(z^L, a^L, y, σ)`` of shape ``(batch, n_L)``.
      output: the output activation this cost requires, or ``None`` to use the network's own.
    """

    name: str
    fn: Callable[[Array, Array, Array], Array]
    output_error: Callable[[Array, Array, Array, Activation], Array]
    output: Activation | None


# --- quadratic: C = ½ Σ (y − a)² -------------------------------------------------------------


def _quadratic(z: Array, a: Array, y: Array) -> Array:
    del z
    return 0.5 * jnp.sum((y - a) ** 2, axis=-1)


def _quadratic_output_error(z: Array, a: Array, y: Array, act: Activation) -> Array:
    del z
    dC_da = -(y - a)  # ∂C/∂a^L = −(y − a^L)
    return dC_da * act.prime(a)  # BP1: δ^L = ∂C/∂a^L ⊙ σ'(z^L)


# --- cross-entropy on sigmoid outputs: C = −Σ [y ln a + (1 − y) ln(1 − a)] ----------------------


def _sigmoid_cross_entropy(z: Array, a: Array, y: Array) -> Array:
    del a
    # Same value as −[y ln σ(z) + (1 − y) ln(1 − σ(z))], written as softplus(z) − y z so that a
    # saturated unit costs a large finite number instead of inf.
    return jnp.sum(jax.nn.softplus(z) - y * z, axis=-1)


def _cross_entropy_output_error(z: Array, a: Array, y: Array, act: Activation) -> Array:
    del z, act
    return a - y  # BP1 with σ'(z^L) cancelled: (a − y)/(a(1 − a)) ⊙ a(1 − a)


# --- cross-entropy on softmax outputs: C = −Σ y ln softmax(z) -----------------------------------


def _softmax_cross_entropy(z: Array, a: Array, y: Array) -> Array:
    del a
    return jax.nn.logsumexp(z, axis=-1) - jnp.sum(y * z, axis=-1)


def _softmax_prime(a: Array) -> Array:
    # The diagonal of softmax's Jacobian, a_i(1 − a_i); only used to measure saturation.
    return a * (1 - a)


SOFTMAX = Activation("softmax", lambda z: jax.nn.softmax(z, axis=-1), _softmax_prime, 0.25)

QUADRATIC = Cost("quadratic", _quadratic, _quadratic_output_error, None)
CROSS_ENTROPY = Cost("cross_entropy", _sigmoid_cross_entropy, _cross_entropy_output_error, SIGMOID)
# For one-hot targets δ^L = a − y holds for softmax too (the Jacobian's off-diagonal terms sum away).
SOFTMAX_CROSS_ENTROPY = Cost(
    "softmax_cross_entropy", _softmax_cross_entropy, _cross_entropy_output_error, SOFTMAX
)

COSTS: dict[str, Cost] = {c.name: c for c in (QUADRATIC, CROSS_ENTROPY, SOFTMAX_CROSS_ENTROPY)}


def get_cost(name: str) -> Cost:
    """Looks a cost up by its config name; raises ``ValueError`` naming the choices."""
    try:
        return COSTS[name]
    except KeyError:
        raise ValueError(f"unknown cost {name!r}; choose one of {', '.join(COSTS)}") from None
