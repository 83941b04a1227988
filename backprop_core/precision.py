"""float32 by default, float64 on request, without switching the whole process to 64-bit."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax
import jax.numpy as jnp

DTYPES = {"float32": jnp.float32, "float64": jnp.float64}


@contextlib.contextmanager
def precision(dtype: str = "float32") -> Iterator[jnp.dtype]:
    """Context in which arrays of ``dtype`` can be made and computed with.

    float64 is enabled with ``jax.enable_x64`` for the extent of the ``with`` block only, so a
    float64 gradient check and a float32 training run can share one process. Yields the dtype.

    Example::

        with precision("float64") as dtype:
            params = init_params(key, (2, 2, 1), dtype=dtype)
            grads = manual_grads(params, x.astype(dtype), y.astype(dtype))
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if dtype == "float64":
        with jax.enable_x64(True):
            yield DTYPES[dtype]
    else:
        yield DTYPES[dtype]
