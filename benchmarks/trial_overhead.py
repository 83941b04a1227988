"""Per-trial tracking overhead: milliseconds a sweep's trial spends beyond its own training compute.

Runs the same digits trial (a sweep's settings: ``artifacts="light"``, nested under one parent run)
``--trials`` times in a row with tracking and with ``track=False``, blocks alternated ``--rounds``
times in one process after a warm-up of each, and reports medians of the per-trial time. A tracked
block ends by draining what its background writers still hold, so work moved off the trial's
thread is still counted, as is its contention with the next trial: the difference is what tracking
costs a sweep per trial. A breakdown times each tracking call on the trial's thread (``start_run``,
``log_params``, the per-epoch ``log_metrics``, ``log_artifacts``, ``end_run``). In an empty folder::

    cd "$(mktemp -d)"
    PYTHONPATH=$REPO python -m benchmarks.trial_overhead $REPO/experiments/configs/digits.toml --trials 10
"""

from __future__ import annotations

import argparse
import collections
import functools
import statistics
import time
from collections.abc import Sequence

import experiments.run.train as run_train
from experiments import tracking
from experiments.config import load_config
from experiments.run import train_run
from experiments.tracking import writer

TIMED = ("start_run", "log_params", "log_metrics", "set_tags", "end_run")
_spent: dict[str, float] = collections.defaultdict(float)


def _timed(name: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _spent[name] += time.perf_counter() - t0

    return wrapper


def instrument() -> None:
    """Wraps the tracking calls a trial makes in the trial thread, to time each kind."""
    for name in TIMED:
        setattr(tracking, name, _timed(name, getattr(tracking, name)))
    run_train.log_artifacts = _timed("log_artifacts", run_train.log_artifacts)


def one_trial(cfg, *, parent: str | None) -> tuple[float, dict[str, float]]:
    """``(seconds, {call: seconds})`` of one trial; tracked when ``parent`` is given."""
    _spent.clear()
    t0 = time.perf_counter()
    train_run(cfg, track=parent is not None, parent_run_id=parent, artifacts="light", run_name="trial")
    return time.perf_counter() - t0, dict(_spent)


def block(cfg, *, parent: str | None, trials: int, parts) -> float:
    """Seconds per trial of ``trials`` trials in a row, the tracked ones' queued writes drained."""
    t0 = time.perf_counter()
    for _ in range(trials):
        spent = one_trial(cfg, parent=parent)[1]
        for name in (*TIMED, "log_artifacts"):
            parts[name].append(spent.get(name, 0.0))
    if parent is not None:
        getattr(writer, "drain", writer.flush)()  # what is still being written counts too
    return (time.perf_counter() - t0) / trials


def measure(path: str, overrides: Sequence[str] = (), trials: int = 10, rounds: int = 3) -> dict[str, float]:
    """Per-trial ms, untracked and tracked (blocks of ``trials`` alternated ``rounds`` times), their
    difference, and the median time of each tracking call on the trial's thread."""
    cfg = load_config(path, overrides)
    tracking.ensure_reachable()
    parent = tracking.start_run(cfg.experiment.name, run_name="overhead-parent", tags={"bplab.kind": "sweep"})
    instrument()
    one_trial(cfg, parent=None)  # warm-up: compile the epoch, evaluation and check
    one_trial(cfg, parent=parent)  # warm-up: the store's schema and experiment
    untracked, tracked, parts = [], [], collections.defaultdict(list)
    for _ in range(rounds):  # alternate: drifting machine load hits both alike
        untracked.append(block(cfg, parent=None, trials=trials, parts=collections.defaultdict(list)))
        tracked.append(block(cfg, parent=parent, trials=trials, parts=parts))
    tracking.end_run(parent, "FINISHED")
    ms = {"untracked_ms": 1e3 * statistics.median(untracked), "tracked_ms": 1e3 * statistics.median(tracked)}
    ms["overhead_ms"] = ms["tracked_ms"] - ms["untracked_ms"]
    ms.update({f"  {name}_ms": 1e3 * statistics.median(v) for name, v in parts.items()})
    return ms


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.trial_overhead CONFIG [--set k=v] [--trials N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    for key, value in measure(args.config, args.overrides, args.trials, args.rounds).items():
        print(f"{key:22s} {value:10.1f}")


if __name__ == "__main__":
    main()
