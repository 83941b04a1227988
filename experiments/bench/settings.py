"""How hard ``bplab bench`` measures, and the shapes it measures on."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from experiments.timing import Runner, Timings, interleaved

LR = 0.1

# (sizes, batch) of the per-step comparison, smallest first.
STEP_SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((64, 30, 10), 10),
    ((784, 30, 10), 10),
    ((784, 100, 10), 128),
    ((784, 1024, 1024, 10), 256),
)
BIG = STEP_SHAPES[-1]
DIGITS = ((64, 30, 10), 10, 1_200)  # sizes, batch, training samples (sklearn digits' train split)
MNIST = ((784, 30, 10), 10, 60_000)
MATMUL_N = 2048


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes:
      repeats: the fewest interleaved repeats per comparison (the median is taken over them).
      budget_s: a comparison keeps repeating until it has ``repeats`` and has run this long (at
        most ``max_repeats``): short blocks and many pairs average out a shared machine's load.
      max_repeats: the most repeats per comparison.
      block_s: target duration of one timed block; fast calls are repeated inside a block so that
        the timer's resolution does not dominate.
      mnist_samples: training samples of the [784,30,10] epoch (60,000 in a full run).
      numpy_samples: samples the numpy reference trains on per repeat.
    """

    repeats: int
    budget_s: float
    max_repeats: int
    block_s: float
    mnist_samples: int
    numpy_samples: int


FULL = Settings(
    repeats=21, budget_s=6.0, max_repeats=301, block_s=0.03, mnist_samples=MNIST[2], numpy_samples=3_000
)
QUICK = Settings(repeats=5, budget_s=0.0, max_repeats=5, block_s=0.02, mnist_samples=3_000, numpy_samples=500)


def timed(runners: Mapping[str, Runner], settings: Settings, *, same_calls: Collection[str] = ()) -> Timings:
    """:func:`experiments.timing.interleaved` with one warm-up call and the settings' budget and blocks."""
    return interleaved(
        runners,
        repeats=settings.repeats,
        warmup=1,
        budget_s=settings.budget_s,
        max_repeats=settings.max_repeats,
        block_s=settings.block_s,
        same_calls=same_calls,
    )


def shape_name(sizes: tuple[int, ...], batch: int) -> str:
    """``[784,30,10] b10``: a net's layer sizes and its batch, as the table names them."""
    return f"[{','.join(map(str, sizes))}] b{batch}"
