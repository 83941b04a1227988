"""The sweep's parent MLflow run: opened once per study, resumed, and given the results at the end.

At the end the parent run holds:
  - tags ``best.trial``, ``best.value``, ``best.params.<name>``, the counts ``sweep.complete`` …, and
    ``sweep.gradient_bugs`` when the backward pass disagreed with autodiff;
  - the metric ``best_<metric>`` (step = trials done, so resumed sweeps show their progress);
  - artifacts ``best_params.json``, ``trials.csv``, ``best_config.toml`` (``bplab train`` runs it),
    and ``plots/study.html``: Optuna's history, importances, parallel coordinates, slice and contour
    on one page that renders offline (:mod:`sweeps.plots`), drawn once, when the sweep ends.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from experiments import tracking
from experiments.names import (
    ATTR_FAILURE,
    ATTR_FINALIZED,
    ATTR_PARENT,
    ATTR_REASON,
    ATTR_RUN_ID,
    ATTR_TEST_ACCURACY,
    TAG_BEST_TRIAL,
    TAG_KIND,
    TAG_STUDY,
    TAG_SWEEP_STOPPED,
)
from experiments.tracking.writer import drain
from sweeps.objective import trial_config
from sweeps.plots import write_plots
from sweeps.progress import Progress, best_trials, progress, snapshot
from sweeps.reconcile import reconcile_all
from sweeps.study import StudyHandle, study_lock


def open_parent(handle: StudyHandle) -> str:
    """The study's parent run: created on first use (under the study lock, so once), else resumed
    (set RUNNING again). Its id is stored in the study for every worker to nest under."""
    with study_lock(handle.url, handle.name):
        parent = handle.study.user_attrs.get(ATTR_PARENT)
        if parent is None:
            parent = tracking.start_run(
                handle.base.experiment.name,
                run_name=f"sweep-{handle.name}",
                tags={
                    TAG_KIND: "sweep",
                    TAG_STUDY: handle.name,
                    "optuna.storage": handle.url.redacted(),
                    "optuna.sampler": handle.spec.sampler,
                    "optuna.pruner": handle.spec.pruner,
                    "optuna.metric": handle.spec.metric,
                    "optuna.direction": handle.spec.direction,
                },
                description=f"Optuna study {handle.name}: {handle.budget} trials; children are its trials.",
                log_system_metrics=True,
            )
            tracking.log_params(parent, {f"base.{k}": v for k, v in handle.base.flat().items()})
            handle.study.set_user_attr(ATTR_PARENT, parent)
        elif tracking.run_status(parent) != "RUNNING":
            tracking.resume_run(parent, log_system_metrics=True)
        tracking.set_tags(parent, {"sweep.n_trials": handle.budget})
    handle.parent_run_id = parent
    return parent


def trials_rows(trials) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, params, failure, the MLflow run and retry links."""
    rows = []
    for t in trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name,
            "value": t.value,
            "test_accuracy": t.user_attrs.get(ATTR_TEST_ACCURACY),
            "failure": t.user_attrs.get(ATTR_FAILURE, ""),
            "reason": t.user_attrs.get(ATTR_REASON, ""),
            "retry_of": t.system_attrs.get("failed_trial", ""),
            "run_id": t.user_attrs.get(ATTR_RUN_ID, ""),
            "epochs_reported": len(t.intermediate_values),
            "duration_s": t.duration.total_seconds() if t.duration else None,
        }
        row.update({f"params_{k}": v for k, v in t.params.items()})
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """The trials table as CSV (columns: the union of the rows' keys, in first-seen order)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def finalize(handle: StudyHandle, *, elapsed: float = 0.0, stopped: str | None = None) -> Progress:
    """Reconciles orphaned child runs, then writes the results onto the parent run and ends it.

    Runs under the study lock and once per set of finished trials, so when several workers finish
    together only one writes. ``stopped`` (``timeout``) is tagged when the budget is not spent.
    """
    study, spec = handle.study, handle.spec
    parent = handle.parent_run_id
    drain()  # trials' runs still being written (ended without waiting) end before they are reconciled
    with study_lock(handle.url, handle.name):
        reconcile_all(study)
        trials = study.get_trials(deepcopy=False)
        snap = snapshot(trials)
        p = progress(snap, budget=handle.budget, direction=spec.direction, elapsed=elapsed)
        finished = len([t for t in trials if t.state.is_finished()])
        if study.user_attrs.get(ATTR_FINALIZED) == finished and tracking.run_status(parent) != "RUNNING":
            return p
        tags: dict[str, Any] = {
            "sweep.done": p.done,
            "sweep.complete": p.complete,
            "sweep.pruned": p.pruned,
            "sweep.failed": p.failed,
            "sweep.diverged": p.diverged,
            "sweep.gradient_bugs": p.gradient_bugs,
        }
        if stopped:
            tags[TAG_SWEEP_STOPPED] = stopped
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_csv(trials_rows(trials), folder / "trials.csv")
            best = best_trials(snap.trials, spec.direction, k=1)
            if best:
                b = best[0]
                tags.update({TAG_BEST_TRIAL: b.number, "best.value": b.value})
                tags.update({f"best.params.{k}": v for k, v in b.params.items()})
                (folder / "best_params.json").write_text(
                    json.dumps(
                        {
                            "trial": b.number,
                            "value": b.value,
                            "metric": spec.metric,
                            "params": b.params,
                            "test_accuracy": b.test_accuracy,
                            "run_id": b.run_id,
                        },
                        indent=2,
                    ),
                    encoding="utf-8",
                )
                (folder / "best_config.toml").write_text(
                    trial_config(handle.base, b.params).to_toml(), "utf-8"
                )
                tracking.log_metrics(parent, {f"best_{spec.metric}": b.value}, step=p.done, synchronous=True)
                if b.run_id:
                    tracking.log_model_for(b.run_id)  # trials log weights; the best one becomes a model
            skipped = write_plots(study, folder / "plots")
            if skipped:
                tags["sweep.plots_skipped"] = ", ".join(f"{k} ({v})" for k, v in skipped.items())[:5000]
            tracking.log_artifacts(parent, folder)
        tracking.set_tags(parent, tags)
        # The sweep itself ran to its end; a gradient bug is in the tags and the exit code (1).
        tracking.end_run(parent, "FINISHED")
        study.set_user_attr(ATTR_FINALIZED, finished)
    return p
