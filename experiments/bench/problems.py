"""The work the bench times: random problems and the runners that train on them.

A runner is a zero-argument callable for :func:`experiments.timing.interleaved`: one call dispatches
one unit of work (a step, an epoch, a matmul) and returns its result. Chained work (each step needs the
last) keeps its parameters in the runner's closure.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

import backprop_core as bc
from experiments.bench.settings import LR
from experiments.timing import Runner


def random_problem(seed: int, sizes: tuple[int, ...], n: int) -> tuple[bc.Params, jax.Array, jax.Array]:
    """Scaled-init params and ``n`` random samples: inputs and targets uniform in [0, 1).

    Drawn with numpy and moved to the device: ``jax.random`` would compile a sampler per shape,
    seconds of a quick run that measure nothing.
    """
    rng = np.random.default_rng(seed)
    params = tuple(
        (
            jnp.asarray(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), jnp.float32),
            jnp.asarray(rng.normal(0, 1, n_out), jnp.float32),
        )
        for n_in, n_out in itertools.pairwise(sizes)
    )
    x = jnp.asarray(rng.random((n, sizes[0]), np.float32))
    y = jnp.asarray(rng.random((n, sizes[-1]), np.float32))
    return params, x, y


def step_runner(params: bc.Params, x: jax.Array, y: jax.Array, grad: str) -> Runner:
    """One jitted SGD step on one fixed batch per call, chained from the previous call's params."""
    state = {"params": params}

    def run() -> bc.Params:
        state["params"], _ = bc.sgd_step(state["params"], x, y, lr=LR, grad=grad)
        return state["params"]

    return run


def matmul_runner(n: int) -> Runner:
    """One float32 ``n × n`` matmul under ``jit`` per call."""
    rng = np.random.default_rng(1)
    a, b = (jnp.asarray(rng.standard_normal((n, n), np.float32)) for _ in range(2))
    matmul = jax.jit(jnp.matmul)
    return lambda: matmul(a, b)


def epoch_runners(
    params: bc.Params, x: jax.Array, y: jax.Array, *, batch: int, seed: int
) -> dict[str, Runner]:
    """Fused epoch (one ``train_epoch`` call) and the Python loop of ``sgd_step`` over the same batches."""
    n = x.shape[0]
    key = jax.random.key(seed)
    fused_state = {"params": params}
    loop_state = {"params": params}

    def fused() -> bc.Params:
        fused_state["params"], _ = bc.train_epoch(fused_state["params"], x, y, key, lr=LR, batch_size=batch)
        return fused_state["params"]

    def loop() -> bc.Params:
        p = loop_state["params"]
        # The same shuffle and padding mask the fused epoch draws; the batches are gathered in one
        # op and iterated as device arrays, the cheapest way a Python loop can feed its steps.
        indices, masks = bc.epoch_batches(key, n, batch)
        for xb, yb, mb in zip(x[indices], y[indices], masks):
            p, _ = bc.sgd_step(p, xb, yb, lr=LR, mask=mb)
        loop_state["params"] = p
        return p

    return {"fused": fused, "loop": loop}
