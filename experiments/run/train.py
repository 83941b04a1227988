"""One tracked training run: preflight, open the MLflow run, train, log artifacts, close honestly.

A run ends with the status that happened: FINISHED; FAILED with ``bplab.failure`` =
``diverged`` | ``gradient_mismatch`` | ``oom`` | ``tracking_unavailable`` | ``exception`` and
``bplab.failure_reason``; KILLED on SIGINT/SIGTERM, or with the status an ``on_epoch`` callback asks
for through :class:`StopRun`.
Nothing here prints: callers show progress through ``on_metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from experiments import names, tracking
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.errors import RunFailed, StopRun
from experiments.gradcheck.check import CheckResult
from experiments.run.artifacts import log_artifacts
from experiments.run.ending import end_unfinished, run_failed
from experiments.run.loop import OnEpoch, Trained, train_epochs
from experiments.run.preflight import prepare
from experiments.signals import terminate_as_interrupt


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
      run_id: the MLflow run id (``None`` with ``track=False``).
      config: the resolved config.
      history: one dict of metrics per epoch (epoch 1 first).
      final: ``train_loss``, ``val_loss``, ``test_loss`` (and the accuracies for classes).
      params: the trained ``((W, b), …)`` as numpy arrays.
      gradcheck: the last manual-vs-autodiff check (the one logged as ``gradcheck.json``).
    """

    run_id: str | None
    config: RunConfig
    history: list[dict[str, float]] = field(default_factory=list)
    final: dict[str, float] = field(default_factory=dict)
    params: tuple = ()
    gradcheck: CheckResult | None = None


def train_run(
    cfg: RunConfig,
    *,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    on_epoch: OnEpoch | None = None,
    track: bool = True,
    artifacts: str = "full",
    grad: Callable | None = None,
    on_metrics: OnEpoch | None = None,
    pad_to: Sequence[int] | None = None,
) -> RunResult:
    """Trains ``cfg`` and records it in MLflow.

    Args:
      cfg: a validated config.
      parent_run_id: nest the run under this one (a sweep's parent run).
      tags: extra tags; they override the defaults (``bplab.kind=run``, ``bplab.grad``).
      run_name: the MLflow run name (default :func:`experiments.tracking.run_name`: ``digits-h30-lr3-9f2c``).
      on_epoch: called as ``on_epoch(epoch, metrics)`` after each epoch's metrics are logged and
        checked; may raise :class:`StopRun`.
      track: ``False`` trains the same way without touching MLflow (``run_id`` is ``None``).
      artifacts: ``"full"`` logs the config, weights, gradient-check table, PNG plots and the pyfunc
        model; ``"light"`` skips the plots and the model.
      grad: a replacement for :func:`backprop_core.backward` with its signature (``None``: the real
        one). Given, the run is tagged ``bplab.fault=<grad.__name__>`` so nobody trusts it.
      on_metrics: called as ``on_metrics(epoch, metrics)`` as soon as an epoch's metrics are logged,
        also for the epoch that then fails the run: where a progress display goes.
      pad_to: train the net padded to these hidden widths under unit masks, so that nets of any
        widths up to them share one set of compiled programs (training, evaluation, the gradient
        check). The numbers are the unpadded net's up to float rounding (relative ``1e-5`` in
        float32, ``1e-12`` in float64, per epoch); the logged weights are the unpadded net's.
        ``None``: unpadded.

    Returns:
      The :class:`RunResult`.

    Raises:
      BadInput: preflight problems (no run is opened).
      Diverged, GradientMismatch: the run ended FAILED for that reason (``run_id`` set on them).
      OutOfMemory, TrackingUnavailable: the run ran out of memory, or the MLflow server stopped
        answering (raised from the original exception; ``run_id`` set on them).
      StopRun: re-raised from ``on_epoch`` after ending the run with its status.
      KeyboardInterrupt: SIGINT/SIGTERM; the run ended KILLED.
    """
    ds = prepare(cfg, track=track)
    run_id = (
        open_run(cfg, parent_run_id=parent_run_id, tags=tags, run_name=run_name, grad=grad) if track else None
    )
    try:
        with terminate_as_interrupt():
            trained = train_epochs(
                cfg, ds, run_id=run_id, grad=grad, on_epoch=on_epoch, on_metrics=on_metrics, pad_to=pad_to
            )
            return close_run(run_id, cfg, ds, trained, artifacts=artifacts)
    except BaseException as e:
        close_unfinished(run_id, e)
        failed = run_failed(e, run_id)
        if failed is e:
            raise
        raise failed from e


def compile_programs(
    cfg: RunConfig, *, grad: Callable | None = None, pad_to: Sequence[int] | None = None
) -> None:
    """Compiles the programs a run of ``cfg`` uses (initialiser, epoch, evaluation, gradient check)
    by training it for one untracked epoch. It touches neither MLflow nor signal handlers, so it can
    run in a background thread; ``grad`` and ``pad_to`` as in :func:`train_run`.

    Raises:
      BadInput: as :func:`~experiments.run.preflight.prepare`; and whatever the epoch raises.
    """
    one = cfg.with_values({"train.epochs": 1, "train.gradcheck_every": 0})
    train_epochs(one, prepare(one, track=False), run_id=None, grad=grad, on_epoch=None, pad_to=pad_to)


def open_run(
    cfg: RunConfig,
    *,
    parent_run_id: str | None,
    tags: Mapping[str, Any] | None,
    run_name: str | None,
    grad: Callable | None,
) -> str:
    """Opens the run's MLflow run with the default tags (``bplab.kind=run``, ``bplab.grad``, and
    ``bplab.fault`` with a replacement ``grad``) updated by ``tags``; returns its id."""
    all_tags = {names.TAG_KIND: "run", names.TAG_GRAD: cfg.train.grad}
    if grad is not None:
        all_tags[names.TAG_FAULT] = grad.__name__
    all_tags.update(tags or {})
    return tracking.start_run(
        cfg.experiment.name,
        run_name=run_name or tracking.run_name(cfg),
        parent_run_id=parent_run_id,
        tags=all_tags,
        description=cfg.experiment.description,
    )


def close_run(
    run_id: str | None, cfg: RunConfig, ds: Dataset, trained: Trained, *, artifacts: str
) -> RunResult:
    """Logs a trained run's artifacts and ends it FINISHED (when tracked); returns its result."""
    if run_id is not None:
        log_artifacts(run_id, cfg, ds, trained, full=artifacts == "full")
        # Waits for the run's queued writes: a trial tells Optuna COMPLETE right after this, and a
        # worker killed in between must not leave a COMPLETE trial beside a RUNNING (then FAILED) run.
        tracking.end_run(run_id, "FINISHED")
    return RunResult(run_id, cfg, trained.history, trained.final, trained.params, trained.gradcheck)


def close_unfinished(run_id: str | None, error: BaseException) -> None:
    """Ends a run that ``error`` stopped with the status that happened, and names the run on the error."""
    if isinstance(error, RunFailed | StopRun):
        error.run_id = run_id
    end_unfinished(run_id, error)
