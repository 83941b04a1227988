"""Populations: K trials of one compiled program trained as one vmapped computation.

Slot ``k`` of a population is one trial: its own params (padded to the population's shape), unit
masks, learning rate ``α_k`` and data-order key. One population epoch is, slot by slot, exactly
:func:`backprop_core.train_epoch` ``(params_k, x, y, key_k, lr=α_k, unit_masks=m_k)``, vmapped over
``k``; the training set ``x, y`` is shared, not copied per slot. A population's params are the
trials' params stacked along a new leading axis ``K`` (:func:`stack_params`).

Inactive slots (pruned or finished trials, ``active_K[k] = False``) still run, since a vmapped
program cannot skip a slot, but they train with ``α = 0`` and their params are restored with
``jnp.where`` afterwards, so they stay bit-for-bit what they were even if their gradients are
``nan`` (a diverged trial). Their metrics are ``nan`` so they cannot be mistaken for training.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from backprop_core.activations import Activation
from backprop_core.costs import Cost
from backprop_core.evaluation import evaluate
from backprop_core.metrics import EpochMetrics
from backprop_core.network import UnitMasks
from backprop_core.params import Params
from backprop_core.train import GradMode, train_epoch

Array = jax.Array


def stack_params(trials: Sequence) -> Params:
    """Stacks K pytrees of one structure (params, unit masks) leaf by leaf along a new axis 0."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *trials)


def unstack_params(stacked) -> list:
    """The K pytrees that :func:`stack_params` stacked, slot 0 first."""
    K = jax.tree.leaves(stacked)[0].shape[0]
    return [jax.tree.map(lambda leaf, k=k: leaf[k], stacked) for k in range(K)]


@partial(jax.jit, static_argnames=("batch_size", "activation", "cost", "grad"))
def population_epoch(
    params_K: Params,
    x: Array,
    y: Array,
    keys_K: Array,
    *,
    lr_K: Array,
    unit_masks_K: UnitMasks | None = None,
    active_K: Array,
    batch_size: int,
    activation: str | Activation = "sigmoid",
    cost: str | Cost = "quadratic",
    grad: GradMode = "manual",
) -> tuple[Params, EpochMetrics]:
    """One epoch of every slot: ``train_epoch`` vmapped over the leading axis ``K``.

    Args:
      params_K: stacked params, every leaf with a leading axis ``K``.
      x: the shared training set ``(n, n_0)``; y: ``(n, n_L)``.
      keys_K: ``(K,)`` PRNG keys, slot ``k``'s data order this epoch.
      lr_K: ``(K,)`` learning rates ``α_k``.
      unit_masks_K: stacked ``(m^1, …, m^{L−1})``, each ``(K, n_l)``; ``None`` if nothing is padded.
      active_K: ``(K,)`` bools; an inactive slot's params do not change.
      batch_size, activation, cost, grad: as in :func:`backprop_core.train_epoch`, shared.

    Returns:
      The new stacked params and :class:`EpochMetrics` whose fields have a leading axis ``K``
      (``nan`` in inactive slots). Learning rates, masks, keys and ``active_K`` are traced: they
      never recompile the population.
    """
    K = keys_K.shape[0]
    lr_K = jnp.broadcast_to(lr_K, (K,))

    def slot(params, key, lr, masks, active):
        new, metrics = train_epoch(
            params,
            x,
            y,
            key,
            lr=jnp.where(active, lr, 0),
            batch_size=batch_size,
            activation=activation,
            cost=cost,
            grad=grad,
            unit_masks=masks,
        )
        new = jax.tree.map(lambda n, p: jnp.where(active, n, p), new, params)
        metrics = jax.tree.map(lambda m: jnp.where(active, m, jnp.nan), metrics)
        return new, metrics

    return jax.vmap(slot)(params_K, keys_K, lr_K, unit_masks_K, active_K)


@partial(jax.jit, static_argnames=("activation", "cost", "classification"))
def population_evaluate(
    params_K: Params,
    x: Array,
    y: Array,
    *,
    unit_masks_K: UnitMasks | None = None,
    activation: str | Activation,
    cost: str | Cost,
    classification: bool,
) -> tuple[Array, Array]:
    """Every slot's :func:`backprop_core.evaluate` on the shared split ``x, y``: ``(loss_K, accuracy_K)``."""

    def slot(params, masks):
        return evaluate(
            params, x, y, activation=activation, cost=cost, classification=classification, unit_masks=masks
        )

    return jax.vmap(slot)(params_K, unit_masks_K)
