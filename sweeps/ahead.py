"""Compiling the other depths' programs while the first trial trains.

A first sweep (empty compilation cache) compiles a depth's programs (the padded initialiser, the
epoch, evaluation, the gradient check: ~3 s of CPU on 2 cores) when its first trial starts, while
the second core idles: ``--workers 1`` trains in one thread. So when the first trial starts, a
thread trains one untracked epoch of a net of each *other* depth the space offers, padded as that
depth's trials are (:mod:`sweeps.padding`). A later trial of that depth then finds its programs
compiled (or in the persistent cache). The net has the padded widths themselves and the base
config's other values: a trial that searches a static value (batch size, activation) may still
compile its own. A failure in the thread only costs the trial its own compile, as before. Then the
thread imports what the sweep's plots need (:func:`sweeps.plots.import_plotting`): a warm 30-trial
digits sweep took 17.3 -> 16.8 s (mean of 3 runs each, 2 cores); leaving scikit-learn out of that
import (~0.6 s instead of 1.8 s) then took a warm sweep from 14.1 to 13.4 s (medians of 7
alternated runs each); and it builds the package map that logging the best trial's model needs
(~0.5 s, :func:`experiments.tracking.prepare_model_logging`).

A sweep of populations (``--population`` > 1) trains vmapped programs that these single-trial ones
would not serve, so its thread only imports the plotting modules (1.4 s of a host-bound 64-trial
population sweep waited for them at its end, in a profile).

The sweep waits for the depth being compiled when it ends: Ctrl-C during the first trial of a cold
sweep then takes a few seconds (4.3 s against 1.3 s measured on 2 cores), since a thread still in
XLA when the interpreter shuts down can abort the process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from functools import partial

from experiments import tracking
from experiments.config import RunConfig
from experiments.errors import BadInput
from experiments.run import compile_programs
from sweeps.padding import pad_for, space_depths, space_max_widths
from sweeps.plots import import_plotting
from sweeps.space import SearchSpace

log = logging.getLogger(__name__)
JOIN_S = 10.0  # at most one depth's compile (~3 s on 2 cores) is left when the sweep ends


def depth_configs(base: RunConfig, space: SearchSpace, skip: int) -> list[tuple[RunConfig, tuple[int, ...]]]:
    """A config and its padded widths for each padded depth of ``space`` other than ``skip``."""
    out = []
    for depth in space_depths(space):
        if depth == skip:
            continue
        try:
            cfg = base.with_values({"model.hidden": list(space_max_widths(space, depth))})
        except BadInput:  # a base the widest net does not suit: its trials say why
            continue
        pad = pad_for(cfg, space)
        if pad is not None:
            out.append((cfg, pad))
    return out


class CompileAhead:
    """Starts compiling the other depths when the first trial starts (:meth:`trial_starts`);
    with ``depths=False`` (a population sweep), only the plots' imports."""

    def __init__(
        self, base: RunConfig, space: SearchSpace, grad: Callable | None = None, *, depths: bool = True
    ):
        self._base, self._space, self._grad, self._depths = base, space, grad, depths
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def trial_starts(self, cfg: RunConfig) -> None:
        """A trial of ``cfg`` is about to train: the first call starts the thread for the other depths."""
        if self._thread is not None:
            return
        others = depth_configs(self._base, self._space, skip=len(cfg.model.hidden)) if self._depths else []
        steps = [
            (
                f"compiling ahead for {other.model.hidden}",
                partial(compile_programs, other, grad=self._grad, pad_to=pad),
            )
            for other, pad in others
        ]
        # the sweep's end draws its plots and logs the best trial's model: neither's preparation
        # need wait for it
        steps.append(("importing the plotting modules", import_plotting))
        steps.append(("preparing the model logging", tracking.prepare_model_logging))
        self._thread = threading.Thread(target=self._run, args=(steps,), name="compile-ahead", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        """Waits until every depth is compiled and the plotting modules imported (or failed)."""
        if self._thread is not None:
            self._thread.join()

    def close(self) -> None:
        """Stops after the depth being compiled; waits for it at most :data:`JOIN_S`."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)

    def _run(self, steps: Sequence[tuple[str, Callable[[], object]]]) -> None:
        for what, step in steps:
            if self._stop.is_set():
                return
            try:
                step()
            except Exception as e:  # the sweep does it again itself when it needs it, and says what fails
                log.debug("%s failed: %s", what, e)
