"""Trials side by side: a batch of reserved trials trained at once, each in its own thread.

On a CPU a sweep's small nets train best on one XLA thread each (:mod:`experiments.cpu_threads`), which
leaves the other cores to the trial loop's Python. So a one-process sweep with ``BPLAB_LANES=N``
reserves ``N`` trials at a time (:func:`sweeps.population.work_batch`: reserved and sampled in order,
told in order, as a population is) and trains each in its own thread, on a pool of one XLA thread
per lane. JAX lets go of the GIL while a program runs, so the trials' epochs run on separate cores
while their loops take turns at the interpreter. Measured on 2 cores, warm digits sweeps with the
random sampler (the same trials either way) and no pruning, one at a time against two at a time:
30 trials 20.20 → 19.16 s and 21.15 → 16.13 s, 100 trials 53.84 → 40.54 s. With TPE the two
schedules sample different trials (below), whose cost differs more than this (whole TPE sweeps
measured no faster), so side by side is opt-in: see docs/PERFORMANCE.md.

Each trial trains exactly as it would alone (:func:`sweeps.objective.train_sampled`): its own run,
metrics, tags, pruning and state, the same numbers. Optuna's pruners read only finished trials, and
those change only between batches, so what is pruned does not depend on which lane ran ahead. The
schedule differs from one at a time: a batch's second trial is sampled before its first is told
(TPE runs with ``constant_liar``), so past its random start-up trials a sweep samples other points
than it did one at a time (the default, ``BPLAB_LANES`` unset or 1).

Signals reach only the main thread, which trains the batch's first trial. When a stop interrupts it,
the other lanes are told to stop too: each raises ``KeyboardInterrupt`` from its next epoch's callback,
which ends its run KILLED as an interrupted run; the main thread waits for them and raises, and
:func:`~sweeps.population.work_batch` re-queues every trial not told yet.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Sequence

import optuna

from experiments.config import RunConfig
from experiments.signals import raise_if_stop_requested
from sweeps.objective import Outcome, TrialContext, kept_inside, train_sampled

Batch = Sequence[tuple[optuna.Trial, int | None, dict, RunConfig | Outcome]]


def train_side_by_side(
    batch: Batch, ctx: TrialContext, *, scope: Callable[[], contextlib.AbstractContextManager]
) -> list[Outcome]:
    """The outcome of each ``(trial, retry_of, params, config or outcome)`` of ``batch``, the configs
    trained at once, one thread each (the first in this one); ``scope`` is the block each trial's
    reports are written in (:func:`sweeps.study.batched_reports`, per thread).

    Raises:
      KeyboardInterrupt: a stop, once every lane's run has ended.
    """
    outcomes: list[Outcome | None] = [cfg if isinstance(cfg, Outcome) else None for *_, cfg in batch]
    todo = [i for i, done in enumerate(outcomes) if done is None]
    if ctx.before_train is not None:  # here, in order: it starts the compile-ahead thread once
        for i in todo:
            ctx.before_train(batch[i][-1])
    stop = threading.Event()
    interrupted: list[BaseException] = []
    main_ctx = dataclasses.replace(ctx, before_train=None)
    lane_ctx = dataclasses.replace(ctx, before_train=None, after_epoch=_stop_check(stop))  # no redraws

    def lane(i: int) -> None:
        try:
            outcomes[i] = _train(batch[i], lane_ctx, scope)
        except BaseException as e:  # a stop (its run ended KILLED): the main thread raises it
            interrupted.append(e)

    threads = [
        threading.Thread(target=lane, args=(i,), name=f"trial-{batch[i][0].number}", daemon=True)
        for i in todo[1:]
    ]
    for t in threads:
        t.start()
    try:
        if todo:
            outcomes[todo[0]] = _train(batch[todo[0]], main_ctx, scope)
        for t in threads:
            t.join()
    except BaseException:
        stop.set()
        _join(threads)
        raise
    if interrupted:  # a stop the main thread's trial did not meet (it had ended)
        raise interrupted[0]
    return outcomes


def _train(item, ctx: TrialContext, scope) -> Outcome:
    """One trial of the batch, as :func:`sweeps.worker.work` trains it alone: nothing it raises
    escapes but an interrupt."""
    trial, retry, params, cfg = item
    return kept_inside(lambda: train_sampled(trial, ctx, params, cfg, retry_of=retry), scope)


def _stop_check(stop: threading.Event) -> Callable[[], None]:
    """A lane's ``after_epoch``: raises ``KeyboardInterrupt`` once the sweep is stopping."""

    def check() -> None:
        if stop.is_set():
            raise KeyboardInterrupt("the sweep is stopping")
        raise_if_stop_requested()

    return check


def _join(threads: Sequence[threading.Thread]) -> None:
    """Waits for every lane to end its run, through further interrupts (a lane stops at its next
    epoch, milliseconds away once it trains)."""
    for t in threads:
        while t.is_alive():
            with contextlib.suppress(KeyboardInterrupt):
                t.join()
