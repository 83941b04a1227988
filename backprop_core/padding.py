"""Padding hidden layers to a common width, so nets of different widths share one compiled program.

A net of sizes ``(n_0, n_1, …, n_{L−1}, n_L)`` is embedded in a wider one of sizes
``(n_0, n'_1, …, n'_{L−1}, n_L)``, ``n'_l ≥ n_l``: the true weights fill the top-left corner of each
``W^l`` (shape ``(n'_l, n'_{l−1})``) and everything else is 0. The unit mask ``m^l`` (1 on the
first ``n_l`` units, 0 after) makes the padded units output ``a = 0`` and carry ``δ = 0`` (see
:mod:`backprop_core.network`), so the padded net has the small net's cost, its gradients in the
corner and exactly 0 elsewhere: SGD never moves a padded weight off 0. The input and output layers
are never padded.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from backprop_core.network import UnitMasks
from backprop_core.params import INITS, Params, init_params, layer_sizes

Array = jax.Array


def _check(true_hidden: Sequence[int], padded_hidden: Sequence[int]) -> None:
    if len(true_hidden) != len(padded_hidden):
        raise ValueError(f"{len(true_hidden)} hidden layers cannot be padded to {len(padded_hidden)}")
    if any(n < 1 or p < n for n, p in zip(true_hidden, padded_hidden)):
        raise ValueError(f"hidden widths {tuple(true_hidden)} do not fit in {tuple(padded_hidden)}")


def pad_params(params: Params, widths: Sequence[int]) -> Params:
    """Embeds ``params`` in a net whose hidden layers are ``widths`` wide, padding with zeros.

    Args:
      params: ``((W^1, b^1), …, (W^L, b^L))`` of the true net.
      widths: the padded hidden widths ``(n'_1, …, n'_{L−1})``, each at least the true width.

    Returns:
      Params of sizes ``(n_0, *widths, n_L)`` whose corners are ``params`` and the rest 0.
    """
    sizes = layer_sizes(params)
    widths = tuple(int(w) for w in widths)
    _check(sizes[1:-1], widths)
    return _pad(params, (sizes[0], *widths, sizes[-1]))


# One compiled program per (true, padded) shape rather than one eager ``jnp.pad`` per tensor: a
# sweep pads every trial once, and on a 2-core CPU each eager compile costs ~0.1 s.
@partial(jax.jit, static_argnames="padded")
def _pad(params: Params, padded: tuple[int, ...]) -> Params:
    return tuple(
        (
            jnp.pad(W, ((0, n_out - W.shape[0]), (0, n_in - W.shape[1]))),
            jnp.pad(b, (0, n_out - b.shape[0])),
        )
        for (W, b), n_in, n_out in zip(params, padded[:-1], padded[1:])
    )


def unpad_params(params: Params, sizes: Sequence[int]) -> Params:
    """The true net's params, cut out of padded ``params``: the inverse of :func:`pad_params`.

    Args:
      params: padded params.
      sizes: the true layer sizes ``(n_0, n_1, …, n_L)`` as given to ``init_params``.
    """
    sizes = tuple(int(n) for n in sizes)
    padded = layer_sizes(params)
    if len(sizes) != len(padded) or (sizes[0], sizes[-1]) != (padded[0], padded[-1]):
        raise ValueError(f"sizes {sizes} are not a net padded to {padded}")
    _check(sizes[1:-1], padded[1:-1])
    return tuple((W[:n_out, :n_in], b[:n_out]) for (W, b), n_in, n_out in zip(params, sizes[:-1], sizes[1:]))


def unit_masks(true_hidden: Sequence[int], padded_hidden: Sequence[int], dtype=jnp.float32) -> UnitMasks:
    """``(m^1, …, m^{L−1})`` with ``m^l = (1, …, 1, 0, …, 0)``: ``n_l`` ones, ``n'_l − n_l`` zeros.

    Args:
      true_hidden: the true hidden widths ``(n_1, …, n_{L−1})``.
      padded_hidden: the padded widths ``(n'_1, …, n'_{L−1})``.
      dtype: the masks' dtype, best that of the params.
    """
    _check(true_hidden, padded_hidden)
    return tuple((jnp.arange(p) < n).astype(dtype) for n, p in zip(true_hidden, padded_hidden))


def init_padded_params(
    key: Array, sizes: Sequence[int], widths: Sequence[int], *, init: str = "normal", dtype=jnp.float32
) -> Params:
    """``pad_params(init_params(key, sizes, …), widths)`` bit for bit, one compiled program per depth.

    ``init_params`` draws at the true shapes, so every new width compiles its random draws anew
    (measured ~1 s of CPU per width on a 2-core machine: more than compiling the epoch). Here the
    draws are made at the padded shapes and the true layout gathered out of them. With JAX's
    partitionable threefry (the default) the bits of element ``i`` of a draw depend on its
    row-major index ``i`` only, not on the shape; so element ``(r, c)`` of the true ``W^l``, index
    ``r·n_{l−1} + c``, is element ``r·n_{l−1} + c`` of a flat draw of ``n'_l·n'_{l−1}`` normals.
    Where that does not hold (another PRNG, or ``jax_threefry_partitionable`` off) it falls back to
    ``pad_params(init_params(…))``. The true ``sizes`` are traced, only ``widths`` is static.

    Args:
      key, init, dtype: as in :func:`backprop_core.init_params`.
      sizes: the true layer sizes ``(n_0, n_1, …, n_L)``.
      widths: the padded hidden widths ``(n'_1, …, n'_{L−1})``.
    """
    sizes, widths = tuple(int(n) for n in sizes), tuple(int(w) for w in widths)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive widths, got {sizes}")
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    _check(sizes[1:-1], widths)
    if not (jax.config.jax_threefry_partitionable and str(jax.random.key_impl(key)) == "threefry2x32"):
        return pad_params(init_params(key, sizes, init=init, dtype=dtype), widths)
    padded = (sizes[0], *widths, sizes[-1])
    # 1/√n_{l−1} eagerly, exactly as init_params computes it: inside a jitted program XLA may turn
    # 1/sqrt into rsqrt, which is not correctly rounded. (Eager scalar ops compile per dtype only.)
    # "normal" scales by exactly 1 (w·1 = w in IEEE arithmetic), so both inits share one program.
    one = jnp.ones((), dtype)
    scales = jnp.stack([(1.0 / jnp.sqrt(n)).astype(dtype) if init == "scaled" else one for n in sizes[:-1]])
    sizes = jnp.asarray(sizes, jnp.int32)
    return _init_padded(key, sizes, scales, padded=padded, dtype=jnp.dtype(dtype))


@partial(jax.jit, static_argnames=("padded", "dtype"))
def _init_padded(key: Array, sizes: Array, scales: Array, *, padded: tuple[int, ...], dtype) -> Params:
    # Mirrors init_params draw for draw: the same key splits, the same normals, the same scaling.
    params = []
    for l, layer_key in enumerate(jax.random.split(key, len(padded) - 1)):
        w_key, b_key = jax.random.split(layer_key)
        n_in, n_out = sizes[l], sizes[l + 1]
        r, c = jnp.arange(padded[l + 1])[:, None], jnp.arange(padded[l])[None, :]
        inside = (r < n_out) & (c < n_in)
        flat = jax.random.normal(w_key, (padded[l + 1] * padded[l],), dtype)
        W = scales[l] * jnp.where(inside, flat[jnp.where(inside, r * n_in + c, 0)], 0)
        rows = jnp.arange(padded[l + 1]) < n_out
        b = jnp.where(rows, jax.random.normal(b_key, (padded[l + 1],), dtype), 0)
        params.append((W.astype(dtype), b))
    return tuple(params)
