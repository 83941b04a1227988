"""TEST-ONLY fault seam: planted bugs in a copy of the backward pass.

Never set ``BPLAB_FAULT`` outside tests. It exists so that tests (and the regression suite) can prove
that ``bplab gradcheck`` and the periodic check of ``bplab train`` catch a wrong backward pass and
name the right equation. With ``BPLAB_FAULT`` set to one of :data:`FAULTS`, :func:`backward_fn`
returns a copy of :func:`backprop_core.network.backward` with exactly one line changed; the copy is
passed to the core as ``grad=`` (the core's callable seam). Unset, it returns ``None`` and the real
backward pass runs.

The planted bugs:
  - ``bp1_sign``: ``δ^L = (y − a^L) ⊙ σ'(z^L)`` (the sign of ``∂C/∂a^L`` flipped).
  - ``bp2_no_sigma_prime``: ``δ^l = (W^{l+1})ᵀ δ^{l+1}`` (the ``⊙ σ'(z^l)`` forgotten).
  - ``bp3_sum``: ``∂C/∂b^l = Σ_i δ^l_i`` (sum instead of the batch mean).
  - ``bp4_double``: ``∂C/∂W^l = 2 δ^l (a^{l−1})ᵀ`` (a stray factor that only reaches the weights).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from backprop_core.network import Backward, resolve

ENV = "BPLAB_FAULT"
FAULTS = ("bp1_sign", "bp2_no_sigma_prime", "bp3_sum", "bp4_double")


def _faulty_backward(fault: str) -> Callable[..., Backward]:
    """A copy of ``backprop_core.network.backward`` with the bug ``fault`` planted."""

    def backward(params, cache, y, *, activation, cost, weights) -> Backward:
        act, out, cost = resolve(activation, cost)
        zs, activations = cache
        L = len(params)

        delta = cost.output_error(zs[-1], activations[-1], y, out)  # BP1
        if fault == "bp1_sign":
            delta = -delta
        deltas = [delta]
        for l in range(L - 1, 0, -1):
            W_next, _ = params[l]
            if fault == "bp2_no_sigma_prime":
                delta = delta @ W_next  # BP2 without ⊙ σ'(z^l)
            else:
                delta = (delta @ W_next) * act.prime(activations[l])  # BP2
            deltas.insert(0, delta)

        grads = []
        for delta, a_prev in zip(deltas, activations[:-1]):
            dW = (weights[:, None] * delta).T @ a_prev  # BP4
            db = weights @ delta  # BP3
            if fault == "bp3_sum":
                db = delta.sum(axis=0)
            if fault == "bp4_double":
                dW = 2 * dW
            grads.append((dW, db))
        return Backward(tuple(deltas), tuple(grads))

    backward.__name__ = f"backward_{fault}"
    return backward


def active_fault() -> str | None:
    """The fault named by ``BPLAB_FAULT``, ``None`` when unset; raises ``ValueError`` on an unknown name."""
    fault = os.environ.get(ENV, "").strip()
    if not fault:
        return None
    if fault not in FAULTS:
        raise ValueError(f"{ENV}={fault!r} is not a known fault; choose one of {', '.join(FAULTS)}")
    return fault


_CACHE: dict[str, Callable[..., Backward]] = {}


def backward_fn() -> Callable[..., Backward] | None:
    """The planted-bug backward pass ``BPLAB_FAULT`` asks for, or ``None`` (use the real one).

    The same function object is returned for the same fault, so the jitted epoch compiles once.
    """
    fault = active_fault()
    if fault is None:
        return None
    if fault not in _CACHE:
        _CACHE[fault] = _faulty_backward(fault)
    return _CACHE[fault]
