"""The interleaved timing loop: order, counts and the arithmetic of its ratios, on a fake clock."""

from __future__ import annotations

import jax.numpy as jnp
import pytest

from experiments.timing import Timings, interleaved


class FakeClock:
    """A clock that only moves when a runner "works": each call of a runner adds its cost."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _runners(clock: FakeClock, costs: dict[str, float], log: list[str]):
    def make(name: str):
        def run() -> int:
            log.append(name)
            clock.now += costs[name]
            return 0

        return run

    return {name: make(name) for name in costs}


def test_each_repeat_times_every_runner_once_in_alternating_order():
    clock, log = FakeClock(), []
    t = interleaved(_runners(clock, {"a": 1.0, "b": 2.0}, log), repeats=4, warmup=2, clock=clock)

    assert log[:4] == ["a", "a", "b", "b"]  # warm-up first, untimed
    assert log[4:] == ["a", "b", "b", "a", "a", "b", "b", "a"]
    assert t.repeats == 4
    assert t.calls == {"a": 1, "b": 1}
    assert t.samples == {"a": [1.0] * 4, "b": [2.0] * 4}
    assert t.median("b") == 2.0
    assert t.ratio("a", "b") == 0.5


def test_block_length_sets_calls_per_block_and_samples_are_per_call():
    clock, log = FakeClock(), []
    t = interleaved(
        _runners(clock, {"fast": 0.001, "slow": 0.1}, log), repeats=3, warmup=1, block_s=0.01, clock=clock
    )

    assert t.calls == {"fast": 10, "slow": 1}
    assert log.count("fast") == 1 + 3 + 3 * 10  # warm-up, calibration, repeats
    assert log.count("slow") == 1 + 3 + 3 * 1
    assert t.samples["fast"] == pytest.approx([0.001] * 3)


def test_same_calls_gives_equal_blocks():
    clock = FakeClock()
    t = interleaved(
        _runners(clock, {"x": 0.001, "y": 0.002}, []),
        repeats=2,
        block_s=0.01,
        same_calls=("x", "y"),
        clock=clock,
    )

    assert t.calls == {"x": 5, "y": 5}


def test_budget_adds_repeats_up_to_the_maximum():
    clock = FakeClock()
    runners = _runners(clock, {"a": 1.0, "b": 1.0}, [])

    assert interleaved(runners, repeats=3, budget_s=10.0, max_repeats=100, clock=clock).repeats == 5
    assert interleaved(runners, repeats=3, budget_s=1e9, max_repeats=7, clock=clock).repeats == 7
    assert interleaved(runners, repeats=3, budget_s=1e9, clock=clock).repeats == 3  # no max: no extra


def test_ratios_pair_the_repeats():
    t = Timings(samples={"a": [1.0, 4.0, 3.0, 2.0, 10.0], "b": [1.0, 2.0, 1.0, 1.0, 1.0]}, calls={})

    assert t.ratios("a", "b") == [1.0, 2.0, 3.0, 2.0, 10.0]
    assert t.ratio("a", "b") == 2.0  # median of the ratios, not the ratio of the medians (3/1)
    q1, q3 = t.spread("a", "b")
    assert q1 <= t.ratio("a", "b") <= q3


def test_real_jax_runners_on_the_real_clock():
    x = jnp.ones((8, 8))
    t = interleaved({"mm": lambda: x @ x, "add": lambda: x + x}, repeats=3, block_s=0.001)

    assert t.repeats == 3
    assert all(s > 0 for samples in t.samples.values() for s in samples)
