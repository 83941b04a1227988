"""Planted bugs of the backward pass: each a copy of ``backprop_core.backward`` with one equation wrong.

They prove that the checks have power: a gradient check, a regression run or a core test that lets
one of these through is too weak. Each has :func:`backprop_core.backward`'s signature, so it enters
wherever the real one does (``grad=`` of the core's step and epoch, of ``train_run``, of
``run_gradcheck``). :data:`EQUATION` says which equation each breaks:

  - ``bp1_sign``: ``δ^L = (y − a^L) ⊙ σ'(z^L)``, the sign of ``∂C/∂a^L`` flipped.
  - ``bp2_no_sigma_prime``: ``δ^l = (W^{l+1})ᵀ δ^{l+1}``, the ``⊙ σ'(z^l)`` forgotten.
  - ``bp2_off_by_one``: ``δ^l = ((W^l)ᵀ δ^{l+1}) ⊙ σ'(z^l)``, the weights of the wrong layer, wherever
    the shapes let it run (between hidden layers of equal widths, so on nets of 3+ such layers).
  - ``bp3_sum``: ``∂C/∂b^l = Σ_i δ^l_i``, the batch sum in place of the mean.
  - ``bp4_no_weight``: ``∂C/∂W^l = Σ_i δ^l_i (a^{l−1}_i)ᵀ``, the sample weights (the mean) forgotten.
  - ``bp4_double``: ``∂C/∂W^l = 2 δ^l (a^{l−1})ᵀ``, a stray factor that only reaches the weights.
"""

from __future__ import annotations

from collections.abc import Callable

import jax

from backprop_core.network import Backward, Cache, UnitMasks, resolve
from backprop_core.params import Params

Array = jax.Array


def _bp2(delta: Array, W_next: Array, a: Array, act) -> Array:
    return (delta @ W_next) * act.prime(a)  # δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)


def _bp3(weights: Array, delta: Array) -> Array:
    return weights @ delta  # ∂C/∂b^l = δ^l, batch mean


def _bp4(weights: Array, delta: Array, a_prev: Array) -> Array:
    return (weights[:, None] * delta).T @ a_prev  # ∂C/∂W^l = δ^l (a^{l−1})ᵀ, batch mean


def _planted(name: str, *, bp1=lambda d: d, bp2=None, bp3=_bp3, bp4=_bp4) -> Callable[..., Backward]:
    """``backprop_core.backward`` with the given equations in place of the right ones.

    ``bp2`` is called as ``bp2(delta, params, l, activations, act)``; the others take the same
    arguments as :func:`_bp3` and :func:`_bp4`, and ``bp1`` the right ``δ^L``.
    """
    bp2 = bp2 or (lambda delta, params, l, activations, act: _bp2(delta, params[l][0], activations[l], act))

    def backward(
        params: Params,
        cache: Cache,
        y: Array,
        *,
        activation,
        cost,
        weights: Array,
        unit_masks: UnitMasks | None = None,
    ) -> Backward:
        act, out, cost = resolve(activation, cost)
        zs, activations = cache
        delta = bp1(cost.output_error(zs[-1], activations[-1], y, out))
        deltas = [delta]
        for l in range(len(params) - 1, 0, -1):
            delta = bp2(delta, params, l, activations, act)
            if unit_masks is not None:
                delta = delta * unit_masks[l - 1].astype(delta.dtype)[None, :]
            deltas.insert(0, delta)
        grads = tuple(
            (bp4(weights, delta, a_prev), bp3(weights, delta))
            for delta, a_prev in zip(deltas, activations[:-1])
        )
        return Backward(tuple(deltas), grads)

    backward.__name__ = backward.__qualname__ = name
    return backward


def _off_by_one(delta, params, l, activations, act):
    W_wrong, W_next = params[l - 1][0], params[l][0]  # W^l, W^{l+1}
    return _bp2(delta, W_wrong if W_wrong.shape == W_next.shape else W_next, activations[l], act)


bp1_sign = _planted("bp1_sign", bp1=lambda delta: -delta)
bp2_no_sigma_prime = _planted(
    "bp2_no_sigma_prime", bp2=lambda delta, params, l, activations, act: delta @ params[l][0]
)
bp2_off_by_one = _planted("bp2_off_by_one", bp2=_off_by_one)
bp3_sum = _planted("bp3_sum", bp3=lambda weights, delta: delta.sum(axis=0))
bp4_no_weight = _planted("bp4_no_weight", bp4=lambda weights, delta, a_prev: delta.T @ a_prev)
bp4_double = _planted("bp4_double", bp4=lambda weights, delta, a_prev: 2 * _bp4(weights, delta, a_prev))

MUTANTS: dict[str, Callable[..., Backward]] = {
    m.__name__: m for m in (bp1_sign, bp2_no_sigma_prime, bp2_off_by_one, bp3_sum, bp4_no_weight, bp4_double)
}
# The equation each mutant breaks, as a check should name it.
EQUATION = {name: name[:3].upper() for name in MUTANTS}
