"""The one interleaved timing loop: side-by-side medians that a noisy, shared machine cannot bias.

Each repeat times every runner once, alternating the order (A B, B A, …), so a burst of load from
another process lands on both sides of a comparison instead of on one. Compilation is kept out by a
warm-up, and every timed block ends with ``jax.block_until_ready``: JAX dispatches asynchronously, and
a timer stopped before the device is done measures the dispatch, not the work.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import jax

Runner = Callable[[], object]


@dataclass(frozen=True)
class Timings:
    """Seconds per call of several runners, one sample per repeat, taken side by side.

    Attributes:
      samples: runner name → seconds per call in each repeat (all lists have one entry per repeat).
      calls: runner name → calls per timed block.
    """

    samples: dict[str, list[float]]
    calls: dict[str, int]

    @property
    def repeats(self) -> int:
        """How many repeats were taken."""
        return len(next(iter(self.samples.values())))

    def median(self, name: str) -> float:
        """Median seconds per call of ``name``."""
        return statistics.median(self.samples[name])

    def ratio(self, a: str, b: str) -> float:
        """Median over repeats of ``time(a) / time(b)`` within each repeat.

        Pairing the two sides repeat by repeat cancels load that drifts on the scale of a repeat,
        which a ratio of the two medians would not.
        """
        return statistics.median(self.ratios(a, b))

    def spread(self, a: str, b: str) -> tuple[float, float]:
        """The quartiles of the per-repeat ratios ``time(a) / time(b)``: how noisy the pairs were."""
        q1, _, q3 = statistics.quantiles(self.ratios(a, b), n=4)
        return q1, q3

    def ratios(self, a: str, b: str) -> list[float]:
        """The per-repeat ratios ``time(a) / time(b)``."""
        return [ta / tb for ta, tb in zip(self.samples[a], self.samples[b], strict=True)]


def interleaved(
    runners: Mapping[str, Runner],
    *,
    repeats: int,
    warmup: int = 1,
    budget_s: float = 0.0,
    max_repeats: int | None = None,
    block_s: float | None = None,
    same_calls: Collection[str] = (),
    clock: Callable[[], float] = time.perf_counter,
) -> Timings:
    """Times every runner once per repeat, in alternating order, after warm-up.

    ``interleaved({"manual": f, "autodiff": g}, repeats=5)`` calls ``f`` then ``g`` in repeats 0, 2, 4
    and ``g`` then ``f`` in repeats 1, 3. A runner is a zero-argument callable that dispatches one unit
    of work and returns its result (anything ``jax.block_until_ready`` accepts); stateful work such as
    chained SGD steps keeps its state in the runner's closure.

    Args:
      runners: name → runner, in the order of the even repeats.
      repeats: the fewest repeats; the medians are taken over them.
      warmup: untimed calls of each runner before anything is timed (compilation, first touch).
      budget_s: keep repeating past ``repeats`` until this many seconds have passed since the first
        repeat began (at most ``max_repeats``): many short pairs average out a shared machine's load.
      max_repeats: the most repeats (default: ``repeats``, so ``budget_s`` alone adds nothing).
      block_s: target seconds of one timed block. When given, three more single calls of each runner
        (after the warm-up) choose how many calls a block makes, so that the timer's resolution and
        the final sync do not dominate fast calls. ``None``: one call per block.
      same_calls: runners doing the same work get the same (the smallest) calls per block, so the
        per-block fixed costs weigh the same on either side of their ratio.
      clock: seconds, monotonic (a parameter so tests can count instead of sleep).

    Returns:
      :class:`Timings`: seconds per call of every runner in every repeat, and the calls per block.
    """
    limit = repeats if max_repeats is None else max(max_repeats, repeats)
    calls: dict[str, int] = {}
    for name, run in runners.items():
        for _ in range(warmup):
            jax.block_until_ready(run())
        if block_s is None:
            calls[name] = 1
        else:
            once = [_time_block(run, 1, clock) for _ in range(3)]
            calls[name] = max(1, round(block_s / max(statistics.median(once), 1e-7)))
    if same_calls:
        k = min(calls[name] for name in same_calls)
        calls.update(dict.fromkeys(same_calls, k))
    samples: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    start = clock()
    r = 0
    while r < repeats or (r < limit and clock() - start < budget_s):
        for name in names if r % 2 == 0 else reversed(names):
            samples[name].append(_time_block(runners[name], calls[name], clock) / calls[name])
        r += 1
    return Timings(samples=samples, calls=calls)


def _time_block(run: Runner, k: int, clock: Callable[[], float]) -> float:
    """Seconds for ``k`` calls of ``run``, until every result is ready.

    All ``k`` results are waited for, not just the last: independent calls may finish out of order.
    """
    t0 = clock()
    jax.block_until_ready([run() for _ in range(k)])
    return clock() - t0
