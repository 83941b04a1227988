"""A run's progress on the terminal: a rich bar on a TTY, one plain line per epoch otherwise.

Given to :func:`experiments.run.train_run` as ``on_metrics``, so it shows every epoch, the one that
fails the run too. Used as a context manager so the bar is taken down however the run ends; the bar
appears with the first epoch, so input refused before any run opens leaves no empty bar behind.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

SHOWN = ("train_loss", "val_loss", "val_accuracy")


class EpochProgress:
    """Shows ``epoch/total`` and the losses after each epoch.

    Args:
      total: the number of epochs.
      label: the bar's description (the experiment name).
    """

    def __init__(self, total: int, label: str):
        self.total = total
        self.bar = None
        if sys.stdout.isatty():
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
            )
            self.task = self.bar.add_task(label, total=total, info="")

    def __enter__(self) -> EpochProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> None:
        """The ``on_metrics`` callback."""
        info = "  ".join(f"{k}={metrics[k]:.4g}" for k in SHOWN if k in metrics)
        if self.bar is not None:
            self.bar.start()  # idempotent
            self.bar.update(self.task, completed=epoch, info=info)
        else:
            print(f"epoch {epoch}/{self.total}  {info}", flush=True)
