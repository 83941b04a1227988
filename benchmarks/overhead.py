"""Tracking overhead: the same training with and without MLflow, alternated in one process.

Run it in an empty folder (it writes ``mlflow.db`` and ``mlartifacts/`` there), with the repository
(``$REPO``) on the path::

    cd "$(mktemp -d)"
    PYTHONPATH=$REPO python -m benchmarks.overhead $REPO/experiments/configs/digits.toml --repeats 5

Two numbers per mode, medians over the repeats (after one warm-up of each mode, so compilation
is not counted):
  - ``loop``: seconds from the end of epoch 1 to the end of the last epoch, measured with the
    ``on_epoch`` callback: the epochs' compute plus, when tracked, their ``log_batch`` calls.
  - ``total``: the whole ``train_run`` call, which with tracking also opens the run, logs params
    and writes the artifacts and the pyfunc model at the end.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

from experiments.config import load_config
from experiments.run import train_run


def time_run(cfg, *, track: bool) -> tuple[float, float]:
    """``(loop seconds, total seconds)`` of one run."""
    stamps: list[float] = []
    t0 = time.perf_counter()
    train_run(cfg, track=track, on_epoch=lambda epoch, m: stamps.append(time.perf_counter()))
    total = time.perf_counter() - t0
    return stamps[-1] - stamps[0], total


def measure(path: str, overrides: Sequence[str] = (), repeats: int = 5) -> dict[str, float]:
    """Medians of loop and total time, tracked and untracked, and the overheads in percent."""
    cfg = load_config(path, overrides)
    time_run(cfg, track=False)  # warm-up: compile the epoch and evaluation
    time_run(cfg, track=True)  # warm-up: create the store and the experiment
    samples: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(repeats):
        for track in (False, True):  # alternate, so drifting machine load hits both alike
            samples[track].append(time_run(cfg, track=track))
    med = {
        f"{'tracked' if track else 'untracked'}_{name}": statistics.median(s[i] for s in samples[track])
        for track in (False, True)
        for i, name in enumerate(("loop_s", "total_s"))
    }
    med["loop_overhead_pct"] = 100 * (med["tracked_loop_s"] / med["untracked_loop_s"] - 1)
    med["total_overhead_pct"] = 100 * (med["tracked_total_s"] / med["untracked_total_s"] - 1)
    return med


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.overhead CONFIG [--set k=v] [--repeats N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    for key, value in measure(args.config, args.overrides, args.repeats).items():
        print(f"{key:22s} {value:10.3f}")


if __name__ == "__main__":
    main()
