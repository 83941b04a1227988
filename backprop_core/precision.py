"""float32 by default, float64 on request, without switching the whole process to 64-bit; either way,
products at the dtype's own precision."""

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

    Matrix products traced in the block run at full precision (``jax.default_matmul_precision``
    "highest"). On Ampere and later GPUs XLA otherwise runs float32 products on TF32 tensor cores,
    with a 10-bit mantissa: on an H200 the manual and ``jax.grad`` gradients of a digits net then
    differed by 1e-4 to 5e-4 relative, and every trial of a sweep failed its float32 gradient check
    (tolerance 1e-4). XLA:CPU computes float32 products in full either way, so on a CPU the numbers
    do not change.

    Example::

        with precision("float64") as dtype:
            params = init_params(key, (2, 2, 1), dtype=dtype)
            grads = manual_grads(params, x.astype(dtype), y.astype(dtype))
    """
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    with contextlib.ExitStack() as stack:
        stack.enter_context(jax.default_matmul_precision("highest"))
        if dtype == "float64":
            stack.enter_context(jax.enable_x64(True))
        yield DTYPES[dtype]
