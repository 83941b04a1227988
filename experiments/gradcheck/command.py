"""``bplab gradcheck`` as a library call: run the check stages, log them to MLflow, raise on a mismatch.

Nothing is printed here; :class:`GradcheckFailed` carries the result so the CLI can still show the
table before the one-line failure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from experiments import names, tracking
from experiments.config import RunConfig, load_config
from experiments.errors import BadInput, CheckFailed
from experiments.gradcheck.check import check_batch
from experiments.gradcheck.metrics import gradcheck_metrics
from experiments.gradcheck.numerics import FD_COORDS
from experiments.gradcheck.stages import Stage, check_stages
from experiments.run.ending import end_unfinished
from experiments.run.preflight import prepare
from experiments.signals import terminate_as_interrupt


@dataclass(frozen=True)
class GradcheckResult:
    """The stages of one ``bplab gradcheck``.

    Attributes:
      config: the resolved config (``--x64`` applied).
      batch: rows in the checked batch.
      stages: ``init`` and, with epochs, the second check.
      run_id: the MLflow run (``None`` untracked).
    """

    config: RunConfig
    batch: int
    stages: list[Stage]
    run_id: str | None

    @property
    def failed(self) -> Stage | None:
        """The first stage whose check disagrees, or ``None``."""
        return next((s for s in self.stages if not s.result.ok), None)

    @property
    def tolerance(self) -> float:
        return self.stages[-1].result.tolerance


class GradcheckFailed(CheckFailed):
    """Some tensor exceeds the tolerance; the message names the equation, ``result`` has the table."""

    def __init__(self, message: str, result: GradcheckResult):
        super().__init__(message)
        self.result = result


def run_gradcheck(
    path,
    overrides: Sequence[str] = (),
    *,
    x64: bool = False,
    epochs: int = 3,
    track: bool = True,
    grad: Callable | None = None,
) -> GradcheckResult:
    """Checks the manual gradients of a config at initialisation and after ``epochs`` epochs.

    Args:
      path, overrides: the config file and its ``--set`` overrides.
      x64: check in float64 (tolerance 1e-10) instead of the config's dtype.
      epochs: epochs trained with ``jax.grad`` between the two checks (≥ 0).
      track: log the run (``bplab.kind=gradcheck``), its metrics and ``gradcheck.json`` to MLflow.
      grad: the backward pass to check (``None``: :func:`backprop_core.backward`); given, the run is
        tagged ``bplab.fault=<grad.__name__>``.

    Returns:
      The :class:`GradcheckResult` when every tensor agrees.

    Raises:
      BadInput: bad config or data, unreachable store (nothing is logged).
      GradcheckFailed: a tensor exceeds the tolerance (exit 1); the run ends FAILED.
    """
    if epochs < 0:
        raise BadInput(f"--epochs {epochs}: must be ≥ 0")
    cfg = load_config(path, overrides)
    if x64:
        cfg = cfg.with_values({"train.dtype": "float64"})
    ds = prepare(cfg, track=track)
    run_id = None
    if track:
        tags = {names.TAG_KIND: "gradcheck", names.TAG_GRAD: "manual"}
        if grad is not None:
            tags[names.TAG_FAULT] = grad.__name__
        run_id = tracking.start_run(
            cfg.experiment.name, run_name=f"{tracking.run_name(cfg)}-gradcheck", tags=tags
        )
    try:
        with terminate_as_interrupt():
            stages = check_stages(cfg, ds, epochs=epochs, grad=grad, finite_differences="all")
        batch = len(check_batch(ds.x_train, ds.y_train, cfg.train.batch_size)[0])
        result = GradcheckResult(cfg, batch, stages, run_id)
        if run_id:
            _log(run_id, result)
    except BaseException as e:
        end_unfinished(run_id, e)
        raise
    failed = result.failed
    if failed is not None:
        raise GradcheckFailed(f"{failed.result.describe_failure()} at {failed.name} on {cfg.source}", result)
    return result


def _log(run_id: str, result: GradcheckResult) -> None:
    """Params, one metrics step per stage, the table; ends the run FINISHED or FAILED (located)."""
    cfg, stages = result.config, result.stages
    tol = stages[0].result.tolerance
    tracking.log_params(run_id, {**cfg.flat(), "gradcheck.tolerance": tol, "gradcheck.fd_coords": FD_COORDS})
    for stage in stages:
        tracking.log_metrics(run_id, gradcheck_metrics(stage.result), step=stage.epochs, synchronous=True)
    table = [row for stage in stages for row in stage.result.table(stage=stage.name)]
    tracking.log_dict(run_id, table, "gradcheck.json")
    tracking.log_table(run_id, table, "gradcheck_table.json")
    tracking.log_text(run_id, cfg.to_toml(), "config.toml")
    failed = result.failed
    if failed is None:
        tracking.end_run(run_id, "FINISHED")
        return
    culprit = failed.result.culprit
    tracking.set_tags(
        run_id,
        {
            names.TAG_FAILURE: names.GRADIENT_MISMATCH,
            names.TAG_FAILURE_REASON: f"{failed.result.describe_failure()} at {failed.name}",
            names.TAG_GRADCHECK_EQUATION: culprit.equation,
            names.TAG_GRADCHECK_TENSOR: culprit.tensor,
        },
    )
    tracking.end_run(run_id, "FAILED")
