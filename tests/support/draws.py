"""Random nets and data drawn in numpy, for tests where the values only need to be generic.

Eager JAX compiles its sampler anew for every shape and dtype (about 0.2 s of CPU each); a test
file that draws a dozen architectures that way spends seconds before it checks anything. numpy
draws cost nothing, and every JAX op a test then runs is an op it means to test. ``init_params``
itself (its distributions and keys) is tested on its own in ``tests/core/test_train.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np


def draw_params(rng: np.random.Generator, sizes: Sequence[int], *, init: str = "normal", dtype=jnp.float32):
    """Params with ``init_params``' distributions: N(0, 1), and ``W^l`` from N(0, 1/n_{l−1}) when scaled."""
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        W = rng.standard_normal((n_out, n_in)) / (1.0 if init == "normal" else np.sqrt(n_in))
        params.append((jnp.asarray(W, dtype), jnp.asarray(rng.standard_normal(n_out), dtype)))
    return tuple(params)


def draw_data(rng: np.random.Generator, n_in: int, n_out: int, *, batch: int, cost: str, dtype=jnp.float32):
    """Inputs from N(0, 1) and targets of the right kind for ``cost`` (one-hot for softmax)."""
    x = jnp.asarray(rng.standard_normal((batch, n_in)), dtype)
    if cost == "softmax_cross_entropy":
        y = np.eye(n_out)[rng.integers(0, n_out, batch)]
    else:
        y = rng.uniform(size=(batch, n_out))
    return x, jnp.asarray(y, dtype)


def draw_problem(
    seed: int, sizes: Sequence[int], *, batch: int, cost: str, init: str = "normal", dtype=jnp.float32
):
    """:func:`draw_params` and :func:`draw_data` from one ``seed``."""
    rng = np.random.default_rng(seed)
    params = draw_params(rng, sizes, init=init, dtype=dtype)
    return (params, *draw_data(rng, sizes[0], sizes[-1], batch=batch, cost=cost, dtype=dtype))
