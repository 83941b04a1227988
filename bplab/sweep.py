"""``bplab sweep`` and ``bplab worker``: run the library's sweep and show it as it goes.

The opening line, the live panel (or one line per finished trial), the final report, and the one
line on stderr that says how to resume after an interrupt.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bplab.display import Display, final_report, status_line
from experiments import tracking
from experiments.compile_cache import enable_compilation_cache
from sweeps.progress import Snapshot
from sweeps.result import Ending, Opened, SweepResult
from sweeps.sweep import run_sweep, run_worker


class Terminal:
    """A sweep's events drawn on ``out``: the opening line, then the live display while trials run.

    Args:
      out: where to draw; joined: ``True`` for ``bplab worker`` (says which process joined).
    """

    def __init__(self, out: TextIO, *, joined: bool = False) -> None:
        self.out, self.joined = out, joined
        self._study: Opened | None = None
        self._display: Display | None = None

    def opened(self, study: Opened) -> None:
        self._study = study
        if self.joined:
            line = f"worker {os.getpid()} joined study {study.study!r} on {study.storage}"
        else:
            line = (
                f"study {study.study!r} on {study.storage}: {study.budget} trials; "
                f"parent run {study.parent_run_id}"
            )
        print(line, file=self.out, flush=True)

    def trials_changed(self, snapshot: Snapshot) -> None:
        if self._display is None:
            s = self._study
            self._display = Display(
                budget=s.budget,
                metric=s.metric,
                direction=s.direction,
                stream=self.out,
                max_epochs=s.max_epochs,
            )
            self._display.__enter__()
        self._display.update(snapshot)

    def closed(self) -> None:
        if self._display is not None:
            self._display.__exit__(None, None, None)


def report(result: SweepResult, out: TextIO) -> int:
    """Prints how the sweep ended (the final report when it wrote the results); returns the exit code."""
    if result.lost_workers:
        names = ", ".join(result.lost_workers)
        print(f"bplab: warning: {names} ended abnormally; their trials were re-queued", file=sys.stderr)
    if result.ending == Ending.STORAGE_LOST:
        print(f"bplab: error: {result.reason}; its trial in flight is retried on resume", file=sys.stderr)
    elif result.ending == Ending.NOTHING_TO_DO:
        print(f"study {result.study!r} is complete ({result.budget} trials); nothing to do", file=out)
    elif result.ending == Ending.OTHERS_RUNNING:
        print(status_line(result.progress, result.metric), file=out)
        print("other workers are still running trials; the last one to finish writes the results", file=out)
    elif result.ending in (Ending.DONE, Ending.TIMED_OUT):
        final_report(result, stream=out)
        if result.ending == Ending.TIMED_OUT:
            print(
                f"stopped by the time limit; run the same command to continue to {result.budget} trials",
                file=out,
            )
        print("browse every trial: bplab ui", file=out)
    return result.exit_code


def sweep_command(
    config: Path,
    overrides: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    register: str | None = None,
    **options: Any,
) -> int:
    """``bplab sweep``: runs or resumes the sweep of ``config``; returns the exit code.

    ``options`` are :func:`sweeps.sweep.run_sweep`'s (``n_trials``, ``workers``, ``study``, ``storage``,
    ``timeout``, ``heartbeat``, and ``grad``, which tests use to plant a bug; the command line has no
    such option). ``register``: a Model Registry name for the best trial's model, alias ``champion``.
    """
    out = out or sys.stdout
    enable_compilation_cache()
    result = run_sweep(config, overrides, observer=Terminal(out), **options)
    if result.ending == Ending.READY:
        where = "" if options.get("storage") is None else f" --storage '{result.storage}'"
        print(f"ready: join with `bplab worker --study {result.study}{where}` on each machine", file=out)
    elif result.ending == Ending.INTERRUPTED:
        if result.progress is not None:
            print(status_line(result.progress, result.metric), file=out)
        print(
            "bplab: interrupted; the running trials were failed and queued again. "
            "Run the same command to resume under the same parent run.",
            file=sys.stderr,
        )
    rc = report(result, out)
    finished = result.ending in (Ending.DONE, Ending.TIMED_OUT)
    if register and finished and result.parent_run_id:
        reg = tracking.register_best(result.parent_run_id, register)
        print(f"registered {reg.uri} (version {reg.version}, run {reg.run_id})", file=out)
    return rc


def worker_command(study: str, *, out: TextIO | None = None, **options: Any) -> int:
    """``bplab worker``: joins an existing study; returns the exit code.

    ``options`` are :func:`sweeps.sweep.run_worker`'s (``storage``, ``n_trials``, ``heartbeat``,
    ``population``).
    """
    out = out or sys.stdout
    enable_compilation_cache()
    result = run_worker(study, observer=Terminal(out, joined=True), **options)
    if result.ending == Ending.INTERRUPTED:
        print("bplab: worker interrupted; its trial was failed and queued again", file=sys.stderr)
    return report(result, out)
