"""What a gradcheck or throughput case measures, as plain numbers the rules can judge.

- ``gradcheck``: manual vs ``jax.grad`` on every tensor (``δ^l``, ``∂C/∂b^l``, ``∂C/∂W^l``) at
  initialisation and after ``epochs`` epochs, and ``jax.grad`` vs central differences at
  initialisation: ``max_rel_err`` and ``fd_rel_err``.
- ``throughput``: one epoch with the manual backward pass against the same epoch with ``jax.grad``,
  timed alternately in this process after a warm-up; ``throughput_ratio`` is manual over autodiff
  samples per second, the median of per-pair ratios. A ratio against a reference measured in the
  same run, not an absolute time: the reference shares the machine's noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp

from backprop_core import precision, train_epoch
from experiments.data import Dataset
from experiments.gradcheck.stages import check_stages
from experiments.regression.suite import Case
from experiments.run.initial import initial_params
from experiments.timing import interleaved


def _finite_max(values: Iterable[float]) -> float:
    """The largest value; ``inf`` when any is NaN (a NaN error is the worst error, not a missing one)."""
    values = [float(v) for v in values]
    return math.inf if any(math.isnan(v) for v in values) else max(values)


def measure_gradcheck(
    case: Case, ds: Dataset, *, grad: Callable | None = None
) -> tuple[dict[str, float], list[dict], str]:
    """Manual vs autodiff (every tensor) and autodiff vs finite differences, at init and after training.

    Args:
      grad: the manual backward pass to check (``None``: ``backprop_core.backward``).

    Returns:
      ``({"max_rel_err", "fd_rel_err"}, table rows, the first failure's one-line description or "")``.
    """
    # Central differences once, at init: they judge jax.grad itself, and each costs a compile.
    stages = check_stages(case.config, ds, epochs=case.epochs, grad=grad, finite_differences="init")
    rows = [r for s in stages for r in s.result.rows]
    fd = [r.fd_rel_err for r in stages[0].result.rows if r.equation in ("BP3", "BP4")]
    measured = {"max_rel_err": _finite_max(r.rel_err for r in rows), "fd_rel_err": _finite_max(fd)}
    failure = next((f"{s.result.describe_failure()} at {s.name}" for s in stages if not s.result.ok), "")
    table = [row for s in stages for row in s.result.table(stage=s.name)]
    return measured, table, failure


def measure_throughput(case: Case, ds: Dataset, *, grad: Callable | None = None) -> dict[str, float]:
    """Manual vs ``jax.grad`` epochs, timed alternately after a warm-up; medians.

    Args:
      grad: the manual backward pass to time (``None``: ``backprop_core.backward``).
    """
    cfg = case.config
    tr, model = cfg.train, cfg.model
    with precision(tr.dtype) as dtype:
        init_key, key = jax.random.split(jax.random.key(tr.seed))
        params = initial_params(cfg, ds, init_key, dtype=dtype)
        x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
        lr = jnp.asarray(tr.lr, dtype)

        def epoch(mode):
            return lambda: train_epoch(
                params, x, y, key, lr=lr, batch_size=tr.batch_size,
                activation=model.activation, cost=model.cost, grad=mode,
            )  # fmt: skip

        runners = {"manual": epoch(grad if grad is not None else "manual"), "autodiff": epoch("autodiff")}
        timings = interleaved(runners, repeats=case.repeats, warmup=1)
    n = ds.n_train
    return {
        "throughput_ratio": timings.ratio("autodiff", "manual"),
        "manual_samples_per_sec": n / timings.median("manual"),
        "autodiff_samples_per_sec": n / timings.median("autodiff"),
    }
