"""What a sweep shows while it runs and when it ends.

On a terminal: a live panel (rich) with trials done/pruned/failed, the best value and its params,
elapsed time and an ETA. Otherwise (CI, a log file): one plain line per finished trial. At the end:
a table of the best trials and the parent run's MLflow URL.

The numbers come from :func:`sweeps.progress.progress`, so every view counts the way the parent
run's tags do.
"""

from __future__ import annotations

import sys
import time
from textwrap import shorten
from typing import Any, TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from sweeps.progress import Progress, Snapshot, TrialSummary, best_trials, progress
from sweeps.result import SweepResult

REASON_CHARS = 120  # of a failed trial's reason on its line; the run's tags hold it whole


def fmt_seconds(s: float | None) -> str:
    """``75`` → ``1m15s``; ``None`` → ``?``."""
    if s is None:
        return "?"
    s = round(s)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def fmt_params(params: dict[str, Any]) -> str:
    """``lr=0.51 hidden=[30, 20] …``: the widths gathered into the config's ``hidden`` list."""
    if not params:
        return "-"
    out = []
    if "lr" in params:
        out.append(f"lr={params['lr']:.4g}")
    n = params.get("n_layers")
    if n is not None:
        out.append("hidden=[" + ", ".join(str(params.get(f"width_{l}")) for l in range(1, n + 1)) + "]")
    out += [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in params.items()
        if k not in ("lr", "n_layers") and not k.startswith("width_")
    ]
    return " ".join(out)


def running_lines(snap: Snapshot, max_epochs: int | None, limit: int = 8) -> str:
    """``trial 4  epoch 3/30  lr=0.51 hidden=[30]`` per running trial (at most ``limit``), or ``-``."""
    running = sorted((t for t in snap.trials if t.state == "RUNNING"), key=lambda t: t.number)
    of = f"/{max_epochs}" if max_epochs else ""
    lines = [
        f"trial {t.number}  epoch {t.last_step or 0}{of}  {fmt_params(t.params)}" for t in running[:limit]
    ]
    if len(running) > limit:
        lines.append(f"… and {len(running) - limit} more")
    return "\n".join(lines) or "-"


def epoch_eta(snap: Snapshot, p: Progress, max_epochs: int | None) -> float | None:
    """Before any trial has finished: the seconds left at the epochs-per-second seen so far, as if
    every trial trains all ``max_epochs`` (pruning only makes it sooner)."""
    done = sum(t.last_step or 0 for t in snap.trials if t.state == "RUNNING")
    if not max_epochs or not done or p.elapsed <= 0:
        return None
    return p.elapsed / done * (p.budget * max_epochs - done)


def status_line(p: Progress, metric: str) -> str:
    """One line: counts, best, time."""
    if p.best_value is None:
        best = "no complete trial yet"
    else:
        best = f"best {metric}={p.best_value:.4g} (trial {p.best_number}: {fmt_params(p.best_params)})"
    poison = f", {p.poison} poison" if p.poison else ""
    return (
        f"{p.done}/{p.budget} done ({p.complete} complete, {p.pruned} pruned, {p.failed} failed{poison}, "
        f"{p.running} running) | {best} | elapsed {fmt_seconds(p.elapsed)} eta {fmt_seconds(p.eta)}"
    )


def trial_line(t: TrialSummary, metric: str) -> str:
    """One finished trial."""
    if t.state == "COMPLETE":
        what = f"{metric}={t.value:.4g}"
    elif t.state == "PRUNED":
        what = "pruned" if t.last_step is None else f"pruned at epoch {t.last_step}"
    else:
        what = f"failed ({'error' if t.failure is None else t.failure})"
        if t.reason:
            what += f": {shorten(t.reason, REASON_CHARS)}"
    return f"trial {t.number} {t.state}: {what} | {fmt_params(t.params)}"


class Display:
    """Live panel on a TTY, plain lines otherwise. Call :meth:`update` with the study's trials."""

    def __init__(
        self,
        *,
        budget: int,
        metric: str,
        direction: str,
        stream: TextIO | None = None,
        tty: bool | None = None,
        max_epochs: int | None = None,
    ) -> None:
        self.budget, self.metric, self.direction = budget, metric, direction
        self.max_epochs = max_epochs
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.start = time.monotonic()
        self._seen: set[int] = set()
        self._done_before: int | None = None
        self._live: Live | None = None

    def __enter__(self) -> Display:
        if self.tty:
            self._live = Live(console=Console(file=self.stream), refresh_per_second=2, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, snap: Snapshot) -> Progress:
        """Re-counts and redraws; prints a plain line for each newly finished trial."""
        if self._done_before is None:
            self._done_before = len(snap.counted)
            self._seen = {t.number for t in snap.trials if t.finished}
        p = progress(
            snap,
            budget=self.budget,
            direction=self.direction,
            elapsed=time.monotonic() - self.start,
            done_before=self._done_before,
        )
        fresh = [t for t in snap.trials if t.finished and t.number not in self._seen]
        self._seen.update(t.number for t in fresh)
        if self._live is not None:
            self._live.update(self._panel(p, snap))
        else:
            for t in fresh:
                print(trial_line(t, self.metric), file=self.stream, flush=True)
            if fresh:
                print(status_line(p, self.metric), file=self.stream, flush=True)
        return p

    def _panel(self, p: Progress, snap: Snapshot) -> Table:
        grid = Table.grid(padding=(0, 2))
        grid.add_row(
            "trials",
            f"{p.done}/{p.budget} done: [green]{p.complete} complete[/], "
            f"[yellow]{p.pruned} pruned[/], [red]{p.failed} failed[/], {p.running} running",
        )
        best = "-" if p.best_value is None else f"{p.best_value:.5g} (trial {p.best_number})"
        grid.add_row(f"best {self.metric}", best)
        grid.add_row("params", fmt_params(p.best_params))
        eta = p.eta if p.eta is not None else epoch_eta(snap, p, self.max_epochs)
        grid.add_row("time", f"elapsed {fmt_seconds(p.elapsed)}, eta {fmt_seconds(eta)}")
        grid.add_row("running", running_lines(snap, self.max_epochs))
        if p.gradient_bugs:
            grid.add_row("[red]gradient bug[/]", f"{p.gradient_bugs} trial(s): manual ≠ autodiff")
        if p.poison:
            grid.add_row("[red]poison[/]", f"{p.poison} param set(s) failed the same way twice")
        return grid


def final_report(result: SweepResult, *, stream: TextIO | None = None) -> None:
    """Prints the best trials, the counts, any divergence or gradient-bug warning and the parent
    run's URL."""
    stream = stream or sys.stdout
    console = Console(file=stream, width=120, force_terminal=False if not stream.isatty() else None)
    metric, direction, p = result.metric, result.direction, result.progress
    table = Table(title=f"best trials by {metric} ({direction})")
    for col in ("trial", metric, "test_accuracy", "params"):
        table.add_column(col)
    for t in best_trials(result.snapshot.trials, direction):
        acc = t.test_accuracy
        table.add_row(
            str(t.number), f"{t.value:.5g}", "-" if acc is None else f"{acc:.4f}", fmt_params(t.params)
        )
    console.print(table)
    console.print(status_line(p, metric), soft_wrap=True)
    if p.diverged:
        console.print(
            f"{p.diverged} trial(s) diverged (non-finite loss: learning rate too large); "
            "they are failed with bplab.failure=diverged",
            soft_wrap=True,
        )
    if p.gradient_bugs:
        console.print(
            f"GRADIENT BUG: {p.gradient_bugs} trial(s) stopped because the manual backward pass "
            "disagrees with autodiff (bplab.failure=gradient_mismatch) — a bug in the code, not a "
            "bad hyperparameter; run `bplab gradcheck` on the config",
            soft_wrap=True,
        )
    if p.poison:
        console.print(
            f"{p.poison} poison trial(s): their params failed the same way twice (out of memory or an "
            "error) and are not queued again; see bplab.failure and bplab.reason on their runs",
            soft_wrap=True,
        )
    if result.parent_url:
        console.print(f"parent run: {result.parent_url}", soft_wrap=True)
