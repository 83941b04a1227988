"""One trial: Optuna's suggestions → a frozen run config → a tracked training run → a trial state.

The trial's Optuna state and its MLflow child run always agree:

=========================  ===========================  ==========================================
Optuna state               MLflow status                tags on the child run
=========================  ===========================  ==========================================
COMPLETE                   FINISHED                     ``optuna.state=COMPLETE``
PRUNED                     KILLED                       ``optuna.state=PRUNED``, ``bplab.pruned_at``
FAIL (diverged)            FAILED                       ``bplab.failure=diverged``
FAIL (gradient bug)        FAILED                       ``bplab.failure=gradient_mismatch``
FAIL (out of memory)       FAILED                       ``bplab.failure=oom`` (queued once more)
FAIL (other error)         FAILED                       ``bplab.failure=exception`` (queued once more)
FAIL (invalid point)       FAILED                       ``bplab.failure=bad_config`` (queued once more)
FAIL (a store is down)     FAILED                       ``bplab.failure=tracking_unavailable`` …
FAIL (interrupted)         KILLED                       ``bplab.failure=interrupted`` (re-queued)
FAIL (worker lost)         FAILED                       ``bplab.failure=worker_lost`` (re-queued)
=========================  ===========================  ==========================================

A divergent trial (NaN/inf loss) is failed, not pruned: its learning rate is a bad hyperparameter and
the sampler should not learn from a loss it never really had. A gradient mismatch is a bug in the
backward pass, not a bad hyperparameter, and the sweep summary counts it separately. Any other
exception is kept inside the trial: it is classified (:func:`sweeps.failure.classify`) and the
worker goes on. A point that is not a valid config still gets its (FAILED) run, so every trial has one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import optuna
from optuna.trial import TrialState

from experiments import tracking
from experiments.config import RunConfig
from experiments.errors import BadInput, RunFailed, StopRun, failure_reason, failure_tags
from experiments.names import (
    ATTR_TEST_ACCURACY,
    BAD_CONFIG,
    TAG_KIND,
    TAG_PRUNED_AT,
    TAG_RETRY_OF,
    TAG_STUDY,
    TAG_TRIAL,
    TAG_TRIAL_STATE,
)
from experiments.process import process_identity
from experiments.run import RunResult, train_run
from sweeps.failure import classify
from sweeps.padding import pad_for
from sweeps.space import SweepSpec
from sweeps.suggest import config_values, suggest

NO_METRIC = "no_metric"  # the run finished without the metric the study optimises


def trial_config(base: RunConfig, params: Mapping[str, Any], spec: SweepSpec | None = None) -> RunConfig:
    """The frozen run config of one trial (validated again, like a file).

    With ``spec``, its ``[sweep]`` table is the sweep's effective settings (:func:`sweep_settings`)
    instead of the base file's, so a trial's run records the budget and sampler it ran under.
    """
    cfg = base.with_values(config_values(params))
    return cfg if spec is None else dataclasses.replace(cfg, sweep=MappingProxyType(sweep_settings(spec)))


def sweep_settings(spec: SweepSpec) -> dict[str, Any]:
    """What a trial records of its sweep: the settings in force (``--n-trials`` applied), without the
    space, whose sampled values are the trial's own config keys."""
    settings = {"n_trials": spec.n_trials, "sampler": spec.sampler, "pruner": spec.pruner}
    settings |= {"metric": spec.metric, "direction": spec.direction}
    return settings | {k: v for k, v in (("seed", spec.seed), ("timeout", spec.timeout)) if v is not None}


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as Optuna and MLflow both record it.

    Attributes:
      state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
      value: the objective (``COMPLETE`` only).
      run_id: the MLflow child run, when one was opened.
      failure: the ``bplab.failure`` label of a failed trial (``diverged``, ``gradient_mismatch`` …).
      reason: one line for people.
    """

    state: TrialState
    value: float | None = None
    run_id: str | None = None
    failure: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TrialContext:
    """What every trial of a study shares.

    Attributes:
      base: the study's base config; spec: its validated ``[sweep]``.
      study_name: the Optuna study; parent_run_id: the MLflow parent run.
      grad: a replacement backward pass for every trial (``None``: the real one), as ``train_run``'s.
      after_epoch: called after each epoch is reported to Optuna (a live view redraws then).
      before_train: called with the trial's config just before it trains.
    """

    base: RunConfig
    spec: SweepSpec
    study_name: str
    parent_run_id: str
    grad: Callable | None = None
    after_epoch: Callable[[], None] | None = None
    before_train: Callable[[RunConfig], None] | None = None


def run_tags(ctx: TrialContext, trial: optuna.Trial, retry_of: int | None) -> dict[str, str]:
    """The child run's tags, set when the run opens."""
    tags = {TAG_KIND: "trial", TAG_STUDY: ctx.study_name, TAG_TRIAL: str(trial.number)}
    if retry_of is not None:
        tags[TAG_RETRY_OF] = str(retry_of)
    return tags


def run_trial(trial: optuna.Trial, ctx: TrialContext, *, retry_of: int | None = None) -> Outcome:
    """Trains one trial as a child run and says how it ended (the caller tells Optuna).

    Each epoch the chosen metric is reported to Optuna; when the pruner says stop, the runner ends
    the child run KILLED with ``optuna.state=PRUNED``. ``KeyboardInterrupt`` (SIGINT, or SIGTERM
    under :func:`experiments.signals.terminate_as_interrupt`) propagates: the caller fails the trial,
    re-queues its params and stops.
    """
    params, cfg = sample(trial, ctx, retry_of=retry_of)
    return train_sampled(trial, ctx, params, cfg, retry_of=retry_of)


def train_sampled(
    trial: optuna.Trial,
    ctx: TrialContext,
    params: Mapping[str, Any],
    cfg: RunConfig | Outcome,
    *,
    retry_of: int | None = None,
) -> Outcome:
    """:func:`run_trial` after :func:`sample`: trains the sampled ``cfg`` (an outcome already, a
    point that is no config, is returned as it is)."""
    if isinstance(cfg, Outcome):
        return cfg
    if ctx.before_train is not None:
        ctx.before_train(cfg)
    try:
        result = train_run(
            cfg,
            parent_run_id=ctx.parent_run_id,
            tags=run_tags(ctx, trial, retry_of),
            run_name=f"trial-{trial.number}",
            on_epoch=pruning(trial, ctx.spec.metric, ctx.after_epoch),
            artifacts="light",  # every metric, config, weights; `bplab train best_config.toml` for the rest
            grad=ctx.grad,
            pad_to=pad_for(cfg, ctx.spec.space),
        )
    except Exception as e:  # kept inside the trial (see outcome)
        return outcome(ctx, trial, retry_of, params, e)
    return outcome(ctx, trial, retry_of, params, result)


def kept_inside(
    train: Callable[[], Outcome], scope: Callable[[], contextlib.AbstractContextManager]
) -> Outcome:
    """``train()`` in a ``scope()`` block (a trial's batched reports); an exception raised outside
    the run itself (recording the trial's process, writing its reports) becomes the trial's FAIL
    outcome. An interrupt escapes."""
    try:
        with scope():
            return train()
    except Exception as e:
        return Outcome(TrialState.FAIL, failure=classify(e), reason=failure_reason(e))


def sample(
    trial: optuna.Trial, ctx: TrialContext, *, retry_of: int | None
) -> tuple[dict[str, Any], RunConfig | Outcome]:
    """The trial's params and its run config, or the FAILED outcome of a point that is no config."""
    for key, value in process_identity().items():
        trial.set_user_attr(key, value)
    params = suggest(trial, ctx.spec.space)
    try:
        return params, trial_config(ctx.base, params, ctx.spec)
    except BadInput as e:
        return params, _bad_config(ctx, trial, retry_of, params, str(e))


def pruning(
    trial: optuna.Trial, metric: str, after: Callable[[], None] | None = None
) -> Callable[[int, Mapping[str, float]], None]:
    """The trial's ``on_epoch``: reports ``metric`` to Optuna each epoch (then calls ``after``) and
    raises :class:`StopRun` (KILLED, ``optuna.state=PRUNED``, ``bplab.pruned_at``) when the pruner
    says stop."""

    def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
        value = metrics.get(metric)
        if value is None or not math.isfinite(value):
            return  # a non-finite loss is the runner's to fail (Diverged), not the pruner's
        trial.report(float(value), epoch)
        if after is not None:
            after()
        if trial.should_prune():
            raise StopRun(
                status="KILLED",
                tags={TAG_TRIAL_STATE: "PRUNED", TAG_PRUNED_AT: str(epoch)},
                reason=f"pruned at epoch {epoch}: {metric}={value:.4g} is behind the other trials",
            )

    return on_epoch


def outcome(
    ctx: TrialContext,
    trial: optuna.Trial,
    retry_of: int | None,
    params: Mapping[str, Any],
    result: RunResult | Exception,
) -> Outcome:
    """How a trial's run ended: its result, or the exception that ended it."""
    if isinstance(result, StopRun):
        return Outcome(
            TrialState.PRUNED, run_id=getattr(result, "run_id", None), reason=getattr(result, "reason", None)
        )
    if isinstance(result, RunFailed):
        return Outcome(TrialState.FAIL, run_id=result.run_id, failure=result.kind, reason=result.message)
    if isinstance(result, BadInput):  # e.g. a sampled batch size larger than this dataset's training split
        return _bad_config(ctx, trial, retry_of, params, str(result))
    if isinstance(result, Exception):  # out of memory, a store down, a bug …
        return Outcome(TrialState.FAIL, failure=classify(result), reason=failure_reason(result))
    metric = ctx.spec.metric
    value = _objective_value(result, metric)
    if value is None:
        logged = sorted({*(result.history[-1] if result.history else {}), *result.final})
        reason = f"the run logged no {metric!r}; it logs {', '.join(logged)}"
        return Outcome(TrialState.FAIL, run_id=result.run_id, failure=NO_METRIC, reason=reason)
    test_acc = result.final.get("test_accuracy") if isinstance(result.final, Mapping) else None
    if test_acc is not None:
        trial.set_user_attr(ATTR_TEST_ACCURACY, float(test_acc))
    return Outcome(TrialState.COMPLETE, value=value, run_id=result.run_id)


def _bad_config(
    ctx: TrialContext, trial: optuna.Trial, retry_of: int | None, params: Mapping[str, Any], reason: str
) -> Outcome:
    """A sampled point that is not a valid config: a FAILED run that says why (no training)."""
    run_id = None
    try:
        run_id = tracking.start_run(
            ctx.base.experiment.name,
            run_name=f"trial-{trial.number}",
            parent_run_id=ctx.parent_run_id or None,
            tags={**run_tags(ctx, trial, retry_of), **failure_tags(BAD_CONFIG, reason)},
        )
        tracking.log_params(run_id, config_values(params))
        tracking.end_run(run_id, "FAILED")
    except Exception as e:  # the trial failed already; its run is a record, not a reason to stop
        return Outcome(TrialState.FAIL, run_id=run_id, failure=BAD_CONFIG, reason=f"{reason} ({e})")
    return Outcome(TrialState.FAIL, run_id=run_id, failure=BAD_CONFIG, reason=reason)


def _objective_value(result: RunResult, metric: str) -> float | None:
    """The metric at the last epoch: the trained network's value, the one the best config reproduces."""
    history = result.history
    last = None
    if isinstance(history, Mapping):  # {"val_loss": [..], ...}
        series = history.get(metric) or []
        last = series[-1] if series else None
    elif history:  # [{"val_loss": .., ...}, ...] one dict per epoch
        last = history[-1].get(metric)
    if last is None and isinstance(result.final, Mapping):
        last = result.final.get(metric)
    if last is None or not math.isfinite(float(last)):
        return None
    return float(last)
