"""The numbers a gradient check is made of, computed under ``jax.jit``.

Manual vs autodiff, tensor by tensor (normwise relative error). BP3 and BP4 are batch means
``Σ_i w_i δ_i`` and ``Σ_i w_i δ_i (a_i)ᵀ``; near a minimum their terms cancel, the mean can be 10⁻³
of its terms, and both systems' rounding (bounded by ``Σ_i w_i |δ_i|`` and ``Σ_i w_i |δ_i| |a_i|ᵀ``)
is then large *relative to the mean*. So their error is taken against
``max(‖manual‖, ‖autodiff‖, ‖Σ_i w_i |terms_i|‖)``: the plain ratio when nothing cancels, immune to
cancellation otherwise. Without it a correct XOR net at convergence failed float32's 1e-4 on ``b^2``
in 5 of 200 trained runs.

Central differences ``(C(θ + εe_i) − C(θ − εe_i)) / 2ε`` on up to :data:`FD_COORDS` sampled
coordinates per tensor give a third opinion on autodiff itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from backprop_core import (
    agreement,
    autodiff_grads,
    autodiff_output_errors,
    batch_cost,
    batch_weights,
    forward,
    resolve,
)

FD_COORDS = 24


@functools.partial(jax.jit, static_argnames=("activation", "cost", "grad"))
def manual_vs_autodiff(params, x, y, *, activation: str, cost: str, grad: Callable, unit_masks=None):
    """Relative errors of the manual deltas and gradients (by ``grad``) against autodiff.

    ``unit_masks`` checks a padded net (see :mod:`backprop_core.padding`): its padded entries are 0
    on both sides, so the errors are the true net's. ``grad`` is passed the masks only when given,
    so backward passes written without masks (planted-bug mutants) still check unpadded nets.

    Returns:
      ``(delta errors, b errors, W errors, autodiff grads)``; the errors are stacked per layer.
    """
    act, out, c = resolve(activation, cost)
    _, cache = forward(params, x, activation=act, output=out, unit_masks=unit_masks)
    weights = batch_weights(x, None)
    masks = {} if unit_masks is None else {"unit_masks": unit_masks}
    manual = grad(params, cache, y, activation=act, cost=c, weights=weights, **masks)
    auto_deltas = autodiff_output_errors(params, x, y, activation=activation, cost=cost, **masks)
    auto_grads = autodiff_grads(params, x, y, activation=activation, cost=cost, **masks)
    # The size of the summands of each batch mean (BP3, BP4), from autodiff's δ so that a planted bug
    # in the manual δ cannot inflate the scale it is judged against.
    scales = [
        _sum_scale(weights, delta, a_prev) for delta, a_prev in zip(auto_deltas, cache.activations[:-1])
    ]
    delta_errs = jnp.stack([agreement(m, a).rel_err for m, a in zip(manual.deltas, auto_deltas)])
    b_errs = jnp.stack(
        [_rel_err(m[1], a[1], scale[1]) for m, a, scale in zip(manual.grads, auto_grads, scales)]
    )
    W_errs = jnp.stack(
        [_rel_err(m[0], a[0], scale[0]) for m, a, scale in zip(manual.grads, auto_grads, scales)]
    )
    return delta_errs, b_errs, W_errs, auto_grads


@functools.partial(jax.jit, static_argnames=("activation", "cost", "grad"))
def population_errors(params_K, x, y, *, activation: str, cost: str, grad: Callable, unit_masks_K):
    """:func:`manual_vs_autodiff`'s errors for K padded nets at once on one batch (a population's
    members: params and unit masks stacked on a leading axis): ``(delta, b, W)``, each ``(K, L)``."""

    def errors(params, unit_masks):
        return manual_vs_autodiff(
            params, x, y, activation=activation, cost=cost, grad=grad, unit_masks=unit_masks
        )[:3]

    return jax.vmap(errors)(params_K, unit_masks_K)


def _sum_scale(weights, delta, a_prev):
    """``(Σ_i w_i |δ_i| |a_i|ᵀ, Σ_i w_i |δ_i|)``: the magnitude of BP4's and BP3's summands."""
    abs_delta = weights[:, None] * jnp.abs(delta)
    return abs_delta.T @ jnp.abs(a_prev), jnp.sum(abs_delta, axis=0)


def _rel_err(manual, auto, scale):
    """``‖manual − auto‖ / max(‖manual‖, ‖auto‖, ‖scale‖)`` (0 when all three are zero)."""
    denom = jnp.maximum(jnp.maximum(jnp.linalg.norm(manual), jnp.linalg.norm(auto)), jnp.linalg.norm(scale))
    return jnp.where(denom > 0, jnp.linalg.norm(manual - auto) / jnp.where(denom > 0, denom, 1), 0)


@functools.partial(jax.jit, static_argnames=("activation", "cost"))
def _central_differences(params, x, y, coords, eps, *, activation: str, cost: str, unit_masks=None) -> list:
    """``(C(θ + εe_i) − C(θ − εe_i)) / 2ε`` for the coordinates ``coords[k]`` of every leaf ``k``."""
    leaves, treedef = jax.tree.flatten(params)

    def cost_with(k, bump):
        bumped = [leaf + bump if j == k else leaf for j, leaf in enumerate(leaves)]
        bumped = jax.tree.unflatten(treedef, bumped)
        return batch_cost(bumped, x, y, activation=activation, cost=cost, unit_masks=unit_masks)

    out = []
    for k, (leaf, leaf_coords) in enumerate(zip(leaves, coords)):

        def one(c, k=k, leaf=leaf):
            bump = jnp.zeros(leaf.size, leaf.dtype).at[c].set(eps).reshape(leaf.shape)
            return (cost_with(k, bump) - cost_with(k, -bump)) / (2 * eps)

        out.append(jax.vmap(one)(leaf_coords))
    return out


def fd_rel_errs(
    params, x, y, auto_grads, *, activation: str, cost: str, eps: float, key, unit_masks=None
) -> list[tuple]:
    """Per layer ``(W rel err, b rel err)`` of autodiff vs central differences on sampled coordinates
    (``unit_masks``: of a padded net, as in :func:`manual_vs_autodiff`)."""
    leaves = jax.tree.leaves(params)
    keys = jax.random.split(key, len(leaves))
    coords = [
        jax.random.choice(k, leaf.size, (min(FD_COORDS, leaf.size),), replace=False)
        for k, leaf in zip(keys, leaves)
    ]
    eps = jnp.asarray(eps, leaves[0].dtype)
    fd = _central_differences(
        params, x, y, coords, eps, activation=activation, cost=cost, unit_masks=unit_masks
    )
    grads = jax.tree.leaves(auto_grads)
    errs = [float(agreement(f, jnp.ravel(g)[c]).rel_err) for f, g, c in zip(fd, grads, coords)]
    return [(errs[2 * l], errs[2 * l + 1]) for l in range(len(params))]
