"""Per-step rows: manual backward pass vs ``jax.grad``, and the big net's fraction of matmul peak.

The peak row's matmul is interleaved with the big net's steps, so the fraction of peak is measured
side by side too. The big net's GFLOP/s count ``6 × params × batch`` flops per step (2 forward,
4 backward) against the matmul's ``2 n³``.
"""

from __future__ import annotations

import itertools

from experiments.bench.problems import matmul_runner, random_problem, step_runner
from experiments.bench.row import Row, compared
from experiments.bench.settings import BIG, MATMUL_N, STEP_SHAPES, Settings, shape_name, timed
from experiments.timing import Timings


def bench_steps(settings: Settings) -> list[Row]:
    """Manual vs ``jax.grad`` per step on every shape; the big shape also times the matmul peak.

    Returns:
      One row per shape, then the big net's fraction of the matmul peak.
    """
    rows = []
    for i, (sizes, batch) in enumerate(STEP_SHAPES):
        params, x, y = random_problem(10 + i, sizes, batch)
        runners = {grad: step_runner(params, x, y, grad) for grad in ("manual", "autodiff")}
        if (sizes, batch) == BIG:
            runners["matmul"] = matmul_runner(MATMUL_N)
        t = timed(runners, settings, same_calls=("manual", "autodiff"))
        rows.append(
            compared(
                t, "manual", "autodiff", kind="step", name=f"step {shape_name(sizes, batch)}",
                value=(t.median("manual") * 1e6, "manual"), baseline=(t.median("autodiff") * 1e6, "jax.grad"),
                unit="µs/step", target="0.95–1.05", meets=lambda ratio: 0.95 <= ratio <= 1.05,
            )
        )  # fmt: skip
        if (sizes, batch) == BIG:
            rows.append(peak_row(t, sizes, batch))
    return rows


def peak_row(t: Timings, sizes: tuple[int, ...], batch: int) -> Row:
    """The big net's manual step in GFLOP/s over the matmul's, from timings holding both."""
    n_params = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))
    step_flops, matmul_flops = 6 * n_params * batch, 2 * MATMUL_N**3
    fraction = step_flops / matmul_flops * t.ratio("matmul", "manual")
    q1, q3 = t.spread("matmul", "manual")
    return Row(
        kind="peak",
        name=f"big net {shape_name(sizes, batch)} vs matmul {MATMUL_N}³",
        value=step_flops / t.median("manual") / 1e9,
        value_label="manual step",
        baseline=matmul_flops / t.median("matmul") / 1e9,
        baseline_label="f32 matmul",
        unit="GFLOP/s",
        ratio=fraction,
        spread=(step_flops / matmul_flops * q1, step_flops / matmul_flops * q3),
        repeats=t.repeats,
        target="≥ 0.80",
        met=fraction >= 0.80,
    )
