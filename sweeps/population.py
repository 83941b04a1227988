"""Trial populations: K trials asked at once, grouped by program, each group trained as one population.

``bplab sweep --population K`` reserves K trials, one after the other under the budget's lock
(:func:`sweeps.study.budget.reserve`: K asks never exceed what is left of the budget), each sampled as
soon as it is asked. The TPE sampler runs with ``constant_liar``, so each asked trial sees the ones
asked before it as running and proposes a different point. Trials whose configs share a program
(:func:`experiments.run.population.program`) train as one vmapped population padded to the space's
largest widths; each keeps its own child run, per-epoch metrics, tags, pruning (``trial.report`` and
``trial.should_prune`` every epoch; a pruned slot stops training) and Optuna state, made by the
single-trial code (:mod:`sweeps.objective`, :mod:`sweeps.tell`). On a journal, a population's reports
of one epoch are one append (:class:`sweeps.study.journal.BatchedReports`): one lock and one ``fsync``
for K members.

Default K per backend (:func:`default_population`): 1 on CPU, where on 2 cores a population of 16 at
width 256 trained slower than the same 16 trials one after the other (1.5 s against 1.0 s: the
vmapped products only add work there), and 16 on an accelerator, whose cores a single small trial
leaves idle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from experiments.config import RunConfig
from experiments.run.population import Member, program, train_population
from experiments.signals import raise_if_stop_requested
from sweeps.objective import Outcome, TrialContext, outcome, pruning, run_tags, sample
from sweeps.padding import space_max_widths
from sweeps.study import StudyHandle, batched_reports, reserve
from sweeps.tell import interrupted, retry_of, tell

DEFAULT_POPULATION = {"cpu": 1}
ACCELERATOR_POPULATION = 16


def default_population(backend: str) -> int:
    """K when ``--population`` is not given: 1 on ``cpu``, 16 on ``gpu`` and ``tpu``."""
    return DEFAULT_POPULATION.get(backend, ACCELERATOR_POPULATION)


def work_batch(
    handle: StudyHandle,
    first: optuna.Trial,
    ctx: TrialContext,
    *,
    size: int,
    storage: Callable[[Callable[[], Any]], Any],
    beat: Callable[[optuna.Trial], contextlib.AbstractContextManager],
    on_change: Callable[[], None] | None = None,
    train: Callable[[list, TrialContext], list[Outcome]] | None = None,
) -> int:
    """Reserves up to ``size − 1`` trials after the reserved ``first``, trains all of them as
    populations, tells each; returns how many it ran.

    Args:
      storage: runs a storage action with the worker's retries (``with_storage`` bound to the handle).
      beat: the worker's heartbeat context of one trial.
      train: trains the batch another way (``train(batch, ctx)`` → one outcome per trial, as
        :func:`train_batch`'s): side by side (:func:`sweeps.lanes.train_side_by_side`).

    Raises:
      KeyboardInterrupt: after failing and re-queueing every trial not told yet.
    """
    batch: list[tuple[optuna.Trial, int | None, dict, RunConfig | Outcome]] = []
    told: set[int] = set()
    try:
        # Each trial beats from the moment it is reserved: its grace period counts from there, and
        # reserving and sampling a large batch can outlast it.
        with contextlib.ExitStack() as stack:
            trial = first
            while trial is not None:
                stack.enter_context(beat(trial))
                retry = storage(lambda t=trial: retry_of(handle, t))
                batch.append((trial, retry, *sample(trial, ctx, retry_of=retry)))
                trial = storage(lambda: reserve(handle)) if len(batch) < size else None
            if train is None:
                outcomes = train_batch(
                    batch, ctx, size=size, epoch_scope=batched_reports(handle.study._storage)
                )
            else:
                outcomes = train(batch, ctx)
        for (trial, *_), result in zip(batch, outcomes):
            if result.state == TrialState.FAIL:
                raise_if_stop_requested()  # as in the worker: a failure while stopping is the stop
            storage(lambda t=trial, o=result: tell(handle, t, o))
            told.add(trial.number)
            if on_change:
                on_change()
    except KeyboardInterrupt:  # while training or telling: the trials not told yet are re-queued
        for trial, *_ in batch:
            if trial.number not in told:
                interrupted(handle, trial)
        raise
    return len(batch)


def train_batch(
    batch: Sequence[tuple],
    ctx: TrialContext,
    *,
    size: int,
    epoch_scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> list[Outcome]:
    """The outcome of each ``(trial, retry_of, params, config or outcome)``, the configs trained as
    one population of ``size`` slots per program (one compiled population, however they group);
    ``epoch_scope`` as in :func:`experiments.run.population.train_population`."""
    outcomes: list[Outcome | None] = [cfg if isinstance(cfg, Outcome) else None for *_, cfg in batch]
    groups: dict[tuple, list[int]] = {}
    for i, (*_, cfg) in enumerate(batch):
        if not isinstance(cfg, Outcome):
            groups.setdefault(program(cfg), []).append(i)
    for slots in groups.values():
        if ctx.before_train is not None:
            ctx.before_train(batch[slots[0]][-1])
        members = [
            Member(
                cfg,
                tags=run_tags(ctx, trial, retry),
                run_name=f"trial-{trial.number}",
                on_epoch=pruning(trial, ctx.spec.metric, ctx.after_epoch),
            )
            for trial, retry, _, cfg in (batch[i] for i in slots)
        ]
        try:
            results = train_population(
                members,
                pad_to=pad_to([m.cfg for m in members], ctx),
                parent_run_id=ctx.parent_run_id,
                artifacts="light",
                grad=ctx.grad,
                size=size,
                epoch_scope=epoch_scope,
            )
        except Exception as e:  # the group's own failure: each of its trials fails with it
            results = [e] * len(slots)
        for i, result in zip(slots, results):
            trial, retry, params, _ = batch[i]
            outcomes[i] = outcome(ctx, trial, retry, params, result)
    return outcomes


def pad_to(cfgs: Sequence[RunConfig], ctx: TrialContext) -> tuple[int, ...]:
    """The hidden widths a population of ``cfgs`` (one depth) is padded to: the space's largest,
    or wider where a config is (a retry of a trial from an older space)."""
    depth = len(cfgs[0].model.hidden)
    widest = space_max_widths(ctx.spec.space, depth)
    return tuple(max(w, *(c.model.hidden[l] for c in cfgs)) for l, w in enumerate(widest))
