"""A population's Optuna reports on a journal: one append per report against one per epoch.

    python -m benchmarks.journal_reports                 # 4 populations of 16 trials × 30 epochs
    python -m benchmarks.journal_reports --repeats 5

Each side reports every epoch of every trial and asks the pruner (``trial.report`` then
``trial.should_prune``, as a population sweep does) on a fresh journal made by
:func:`sweeps.study.journal.journal_storage`; the batched side does each epoch's reports of a
population inside :func:`sweeps.study.journal.batched_reports`. The sides alternate; each row prints
its seconds and the ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from sweeps.study.journal import batched_reports, journal_storage


def report_all(*, batched: bool, populations: int, size: int, epochs: int) -> float:
    """Seconds to report ``epochs`` values for ``populations`` × ``size`` trials, then tell them."""
    with tempfile.TemporaryDirectory() as folder:
        storage = journal_storage(Path(folder) / "optuna.journal")
        study = optuna.create_study(storage=storage, study_name="reports")
        scope = batched_reports(storage) if batched else contextlib.nullcontext
        start = time.perf_counter()
        for _ in range(populations):
            trials = [study.ask() for _ in range(size)]
            for epoch in range(1, epochs + 1):
                with scope():
                    for trial in trials:
                        trial.report(0.5, epoch)
                        trial.should_prune()
            for trial in trials:
                study.tell(trial, 0.5)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--populations", type=int, default=4)
    parser.add_argument("--size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    shape = dict(populations=args.populations, size=args.size, epochs=args.epochs)
    reports = args.populations * args.size * args.epochs
    print(f"{reports} reports: {args.populations} populations of {args.size} trials x {args.epochs} epochs")
    print(f"{'repeat':>6} {'one append each s':>18} {'one per epoch s':>16} {'ratio':>6}")
    ratios = []
    for r in range(1, args.repeats + 1):
        each, batched = report_all(batched=False, **shape), report_all(batched=True, **shape)
        ratios.append(each / batched)
        print(f"{r:>6} {each:>18.2f} {batched:>16.2f} {each / batched:>5.1f}x")
    print(f"median ratio {statistics.median(ratios):.1f}x")


if __name__ == "__main__":
    main()
