"""One trial: Optuna's suggestions → a frozen run config → a tracked training run → a trial state.

The trial's Optuna state and its MLflow child run always agree:

=========================  ===========================  ==========================================
Optuna state               MLflow status                tags on the child run
=========================  ===========================  ==========================================
COMPLETE                   FINISHED                     ``optuna.state=COMPLETE``
PRUNED                     KILLED                       ``optuna.state=PRUNED``, ``bplab.pruned_at``
FAIL (diverged)            FAILED                       ``bplab.failure=diverged``
FAIL (gradient bug)        FAILED                       ``bplab.failure=gradient_mismatch``
FAIL (other error)         FAILED                       ``bplab.failure=…``
FAIL (interrupted)         KILLED                       ``bplab.failure=interrupted`` (re-queued)
FAIL (worker lost)         FAILED                       ``bplab.failure=worker_lost`` (re-queued)
=========================  ===========================  ==========================================

A divergent trial (NaN/inf loss) is failed, not pruned: its learning rate is a bad hyperparameter and
the sampler should not learn from a loss it never really had. A gradient mismatch is a bug in the
backward pass, not a bad hyperparameter, and the sweep summary counts it separately.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from experiments.config import RunConfig
from experiments.errors import BadInput, RunFailed, StopRun
from experiments.names import (
    ATTR_TEST_ACCURACY,
    TAG_KIND,
    TAG_PRUNED_AT,
    TAG_RETRY_OF,
    TAG_STUDY,
    TAG_TRIAL,
    TAG_TRIAL_STATE,
)
from experiments.process import process_identity
from experiments.run import RunResult, train_run
from sweeps.space import SearchSpace, SweepSpec

BAD_CONFIG = "bad_config"  # the sampled point is not a valid config (e.g. a batch larger than the data)
NO_METRIC = "no_metric"  # the run finished without the metric the study optimises


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Asks the trial for one point of ``space``; returns Optuna's params (``lr``, ``width_1``, …).

    A retried trial already carries its params, and ``suggest_*`` hands them back unchanged, so a
    retry trains the same network with the same learning rate.
    """
    params: dict[str, Any] = {"lr": trial.suggest_float("lr", space.lr.low, space.lr.high, log=True)}
    n_layers = trial.suggest_int("n_layers", int(space.n_layers.low), int(space.n_layers.high))
    params["n_layers"] = n_layers
    for l in range(1, n_layers + 1):
        params[f"width_{l}"] = trial.suggest_int(
            f"width_{l}",
            int(space.width.low),
            int(space.width.high),
            step=space.width.step,
            log=space.width.log,
        )
    if space.batch_size:
        params["batch_size"] = trial.suggest_categorical("batch_size", list(space.batch_size))
    if space.activation:
        params["activation"] = trial.suggest_categorical("activation", list(space.activation))
    if space.init:
        params["init"] = trial.suggest_categorical("init", list(space.init))
    if space.epochs:
        params["epochs"] = trial.suggest_int("epochs", int(space.epochs.low), int(space.epochs.high))
    return params


def config_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """Optuna's params → the dotted config keys of ``RunConfig.with_values``.

    ``{"lr": 0.5, "n_layers": 2, "width_1": 30, "width_2": 20}`` →
    ``{"train.lr": 0.5, "model.hidden": [30, 20]}``.
    """
    values: dict[str, Any] = {"train.lr": float(params["lr"])}
    n_layers = int(params["n_layers"])
    values["model.hidden"] = [int(params[f"width_{l}"]) for l in range(1, n_layers + 1)]
    choices = (("batch_size", "train.batch_size"), ("activation", "model.activation"), ("init", "model.init"))
    for name, key in choices:
        if name in params:
            values[key] = params[name]
    if "epochs" in params:
        values["train.epochs"] = int(params["epochs"])
    return values


def trial_config(base: RunConfig, params: Mapping[str, Any]) -> RunConfig:
    """The frozen run config of one trial (validated again, like a file)."""
    return base.with_values(config_values(params))


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
    """

    base: RunConfig
    spec: SweepSpec
    study_name: str
    parent_run_id: str
    grad: Callable | None = None


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
    metric = ctx.spec.metric
    for key, value in process_identity().items():
        trial.set_user_attr(key, value)
    try:
        cfg = trial_config(ctx.base, suggest(trial, ctx.spec.space))
    except BadInput as e:
        return Outcome(TrialState.FAIL, failure=BAD_CONFIG, reason=str(e))

    def on_epoch(epoch: int, metrics: Mapping[str, float]) -> None:
        value = metrics.get(metric)
        if value is None or not math.isfinite(value):
            return  # a non-finite loss is the runner's to fail (Diverged), not the pruner's
        trial.report(float(value), epoch)
        if trial.should_prune():
            raise StopRun(
                status="KILLED",
                tags={TAG_TRIAL_STATE: "PRUNED", TAG_PRUNED_AT: str(epoch)},
                reason=f"pruned at epoch {epoch}: {metric}={value:.4g} is behind the other trials",
            )

    try:
        result = train_run(
            cfg,
            parent_run_id=ctx.parent_run_id,
            tags=run_tags(ctx, trial, retry_of),
            run_name=f"trial-{trial.number}",
            on_epoch=on_epoch,
            artifacts="light",  # every metric, config, weights; `bplab train best_config.toml` for the rest
            grad=ctx.grad,
        )
    except StopRun as e:
        return Outcome(
            TrialState.PRUNED, run_id=getattr(e, "run_id", None), reason=getattr(e, "reason", None)
        )
    except RunFailed as e:
        return Outcome(TrialState.FAIL, run_id=e.run_id, failure=e.kind, reason=e.message)
    except BadInput as e:  # e.g. a sampled batch size larger than this dataset's training split
        return Outcome(TrialState.FAIL, failure=BAD_CONFIG, reason=str(e))
    value = _objective_value(result, metric)
    if value is None:
        return Outcome(TrialState.FAIL, run_id=result.run_id, failure=NO_METRIC, reason=f"no {metric}")
    test_acc = result.final.get("test_accuracy") if isinstance(result.final, Mapping) else None
    if test_acc is not None:
        trial.set_user_attr(ATTR_TEST_ACCURACY, float(test_acc))
    return Outcome(TrialState.COMPLETE, value=value, run_id=result.run_id)


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
