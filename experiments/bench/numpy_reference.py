"""A plain-numpy baseline in the style of the classic notes (Nielsen's ``network.py``).

This is what ``bplab bench`` measures the JAX core against: the textbook loop that backpropagates
one sample at a time and sums the per-sample gradients inside each mini-batch. The names follow the
notes (``z``, ``activation``, ``delta``, ``nabla_b``, ``nabla_w``), with two departures from
``network.py``: nothing mutates ``self`` (every function takes ``params``, a list of ``(W, b)``, and
returns new arrays), and vectors are 1-D (``b^l`` is ``(n_l,)`` as in the JAX core), so
``δ^l (a^{l−1})ᵀ`` is written ``np.outer``.

Sigmoid activations and the quadratic cost ``C = ½ Σ (y − a^L)²`` only: it is a baseline, not a
second implementation of every option. The dtype follows the arrays given (float32 when timed
against the float32 core, float64 when its gradients are checked against ``manual_grads``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Layer = tuple[np.ndarray, np.ndarray]  # (W: (n_l, n_{l-1}), b: (n_l,))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^{−z})``."""
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime_from_activation(a: np.ndarray) -> np.ndarray:
    """``σ'(z) = σ(z)(1 − σ(z))``, read off the activation already computed (as the core does)."""
    return a * (1 - a)


def cost_derivative(output_activations: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``∂C/∂a^L = −(y − a^L)`` for the quadratic cost."""
    return -(y - output_activations)


def backprop(params: Sequence[Layer], x: np.ndarray, y: np.ndarray) -> tuple[list, list]:
    """The gradient of one sample's cost by BP1–BP4.

    Args:
      params: ``[(W^1, b^1), …, (W^L, b^L)]``.
      x: one input, ``(n_0,)``.
      y: its target, ``(n_L,)``.

    Returns:
      ``(nabla_b, nabla_w)``: lists, layer 1 first, of ``∂C/∂b^l`` and ``∂C/∂W^l``.
    """
    # Forward pass, keeping every z^l and a^l for the backward pass.
    activation = x
    activations = [x]  # a^0, a^1, …, a^L
    zs = []  # z^1, …, z^L
    for W, b in params:
        z = W @ activation + b  # z^l = W^l a^{l−1} + b^l
        zs.append(z)
        activation = sigmoid(z)  # a^l = σ(z^l)
        activations.append(activation)

    L = len(params)
    nabla_b = [None] * L
    nabla_w = [None] * L
    # BP1: δ^L = ∂C/∂a^L ⊙ σ'(z^L)
    delta = cost_derivative(activations[-1], y) * sigmoid_prime_from_activation(activations[-1])
    nabla_b[-1] = delta  # BP3: ∂C/∂b^L = δ^L
    nabla_w[-1] = np.outer(delta, activations[-2])  # BP4: ∂C/∂W^L = δ^L (a^{L−1})ᵀ
    for l in range(2, L + 1):  # l counts back from the output, as in network.py
        W_next = params[-l + 1][0]  # W^{l+1} in the notes' forward numbering
        # BP2: δ^l = ((W^{l+1})ᵀ δ^{l+1}) ⊙ σ'(z^l)
        delta = (W_next.T @ delta) * sigmoid_prime_from_activation(activations[-l])
        nabla_b[-l] = delta  # BP3
        nabla_w[-l] = np.outer(delta, activations[-l - 1])  # BP4
    return nabla_b, nabla_w


def mini_batch_grads(params: Sequence[Layer], xs: np.ndarray, ys: np.ndarray) -> list[Layer]:
    """The gradient of the mini-batch cost (the mean of per-sample costs), one sample at a time.

    Args:
      params: ``[(W^1, b^1), …]``.
      xs: inputs, ``(batch, n_0)``; ys: targets, ``(batch, n_L)``.

    Returns:
      ``[(∂C/∂W^1, ∂C/∂b^1), …]``, shaped like ``params`` (the same layout as ``manual_grads``).
    """
    nabla_b = [np.zeros_like(b) for _, b in params]
    nabla_w = [np.zeros_like(W) for W, _ in params]
    for x, y in zip(xs, ys):
        delta_nabla_b, delta_nabla_w = backprop(params, x, y)
        nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
        nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
    n = len(xs)
    return [(nw / n, nb / n) for nw, nb in zip(nabla_w, nabla_b)]


def update_mini_batch(params: Sequence[Layer], xs: np.ndarray, ys: np.ndarray, eta: float) -> list[Layer]:
    """One SGD step on a mini-batch: ``W ← W − η ∂C/∂W``, ``b ← b − η ∂C/∂b``; returns new params."""
    grads = mini_batch_grads(params, xs, ys)
    return [(W - eta * nw, b - eta * nb) for (W, b), (nw, nb) in zip(params, grads)]


def sgd_epoch(
    params: Sequence[Layer], x: np.ndarray, y: np.ndarray, *, eta: float, batch_size: int
) -> list[Layer]:
    """One pass of :func:`update_mini_batch` over ``x, y`` in the order given (shuffle beforehand).

    The last mini-batch may be smaller than ``batch_size``; its gradient is its own mean.
    """
    params = list(params)
    for start in range(0, len(x), batch_size):
        stop = start + batch_size
        params = update_mini_batch(params, x[start:stop], y[start:stop], eta)
    return params
