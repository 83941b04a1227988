"""`bplab sweep` on the embedded default stores: an Optuna journal and MLflow's sqlite, both in cwd.

One two-worker sweep (module-scoped, the `bplab` binary), each worker training populations of two,
serves several tests: the budget exact with several workers reserving batches on one journal and one
sqlite, every trial's Optuna state agreeing with its MLflow run under one parent, the parent's
results, and the best config training again.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna.trial import TrialState

from bplab.sweep import sweep_command
from tests.support.processes import clean_env
from tests.sweeps.conftest import bplab, journal_study, mlflow_runs, write_config
from tests.sweeps.inprocess import bplab_main, use_tmp_stores

pytestmark = pytest.mark.integration

BUDGET = 6  # enough for two workers to race for the last trials
WORKERS = 2
POPULATION = 2


@dataclass
class Swept:
    folder: Path
    stdout: str
    stderr: str
    study: optuna.Study
    runs: list

    @property
    def parent(self):
        (parent,) = [r for r in self.runs if r.data.tags.get("bplab.kind") == "sweep"]
        return parent

    @property
    def children(self) -> list:
        return [r for r in self.runs if r.data.tags.get("bplab.kind") == "trial"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, jax_cache) -> Swept:
    folder = tmp_path_factory.mktemp("embedded")
    cfg = write_config(folder, name="multi", n_trials=BUDGET, epochs=2)
    r = bplab(
        ["sweep", cfg.name, "--workers", str(WORKERS), "--population", str(POPULATION)],
        cwd=folder, env=clean_env(jax_cache), timeout=420,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    runs = mlflow_runs(f"sqlite:///{folder / 'mlflow.db'}")
    return Swept(folder, r.stdout, r.stderr, journal_study(folder, "multi"), runs)


def test_several_workers_share_the_budget_exactly_on_the_journal(swept):
    assert "database is locked" not in swept.stdout + swept.stderr
    assert "parent run: http://127.0.0.1:5000/#/experiments/" in swept.stdout
    assert "best trials by val_loss" in swept.stdout
    trials = swept.study.trials
    assert len(trials) == BUDGET
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}, [t.state for t in trials]
    assert len({t.user_attrs["bplab.pid"] for t in trials}) >= 2  # really several processes
    assert len(swept.children) == BUDGET


def test_each_worker_trains_its_trials_in_populations(swept):
    """A population's runs are all open while it trains; one-by-one trials' runs never overlap."""
    by_pid: dict[str, list] = {}
    for run in swept.children:
        by_pid.setdefault(run.data.tags["bplab.pid"], []).append(run.info)
    assert len(by_pid) == WORKERS
    for runs in by_pid.values():
        runs.sort(key=lambda r: r.start_time)
        overlapping = [a for a, b in itertools.pairwise(runs) if b.start_time < a.end_time]
        assert overlapping, [(r.start_time, r.end_time) for r in runs]


def test_every_trial_is_one_child_run_that_agrees_with_it(swept):
    parent = swept.parent
    assert parent.info.status == "FINISHED"
    assert swept.study.user_attrs["bplab.parent_run_id"] == parent.info.run_id
    by_trial = {int(c.data.tags["optuna.trial"]): c for c in swept.children}
    assert sorted(by_trial) == list(range(BUDGET))

    client = MlflowClient(f"sqlite:///{swept.folder / 'mlflow.db'}")
    for t in swept.study.trials:
        run = by_trial[t.number]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["optuna.study"] == "multi"
        assert run.data.tags["optuna.state"] == t.state.name
        expected = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}[t.state.name]
        assert run.info.status == expected
        epochs = len(t.intermediate_values)
        for metric in ("train_loss", "val_loss", "val_accuracy", "grad_norm/W1", "saturation/layer1"):
            history = client.get_metric_history(run.info.run_id, metric)
            assert [m.step for m in history] == list(range(1, epochs + 1)), metric
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(client.get_metric_history(run.info.run_id, "val_loss")[-1].value)
            # a trial's light artifacts: enough to re-run it and to trust its gradients
            names = {a.path for a in client.list_artifacts(run.info.run_id)}
            assert {"config.toml", "params.npz", "gradcheck.json"} <= names


def test_the_parent_holds_the_results_and_the_best_config_trains_again(swept, tmp_path, monkeypatch, capsys):
    parent, study = swept.parent, swept.study
    assert parent.data.tags["best.trial"] == str(study.best_trial.number)
    assert float(parent.data.tags["best.value"]) == pytest.approx(study.best_value)
    art = swept.folder / "mlartifacts"
    root = next(art.rglob(f"{parent.info.run_id}/artifacts"))
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"trials.csv", "best_params.json", "best_config.toml"} <= names
    assert "plots/study.html" in names  # one self-contained page (plotly embedded once)
    page = (root / "plots" / "study.html").read_text()
    assert all(f'id="{n}"' in page for n in ("optimization_history", "slice", "param_importances"))
    rows = list(csv.DictReader((root / "trials.csv").read_text().splitlines()))
    assert len(rows) == BUDGET and {row["run_id"] for row in rows} == {c.info.run_id for c in swept.children}
    best = json.loads((root / "best_params.json").read_text())
    assert best["params"] == study.best_params

    # the best config runs again with `bplab train` (in-process, in a folder of its own)
    shutil.copy(root / "best_config.toml", tmp_path / "best.toml")
    use_tmp_stores(monkeypatch, tmp_path)
    rc, _out, err = bplab_main(["train", "best.toml"], capsys)
    assert rc == 0, err


def sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_resume_after_sigint_continues_under_the_same_parent(tmp_path, env, procs, monkeypatch):
    from tests.sweeps.conftest import wait_for

    cfg = write_config(tmp_path, name="resume", n_trials=3, epochs=40)
    # Ctrl-C as in a terminal: a suite started in the background (`make test &`) ignores SIGINT, and
    # its children would inherit that (test_sweep_signals covers such a sweep, stopped by SIGTERM).
    p = procs.start(["sweep", cfg.name], cwd=tmp_path, env=env, preexec_fn=sigint_as_in_a_terminal)

    def a_trial_is_training():
        if not (tmp_path / "optuna.journal").exists():
            return False
        try:
            study = journal_study(tmp_path, "resume")
        except KeyError:
            return False
        done = [t for t in study.trials if t.state == TrialState.COMPLETE]
        running = [t for t in study.trials if t.state == TrialState.RUNNING and t.intermediate_values]
        return len(done) >= 1 and running

    wait_for(a_trial_is_training, timeout=120, interval=0.1, what="a trial mid-training")
    p.send_signal(2)  # SIGINT
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "resume" in err

    study = journal_study(tmp_path, "resume")
    interrupted = [t for t in study.trials if t.user_attrs.get("bplab.failure") == "interrupted"]
    assert len(interrupted) == 1 and interrupted[0].state == TrialState.FAIL
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    parents = [r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "KILLED"

    use_tmp_stores(monkeypatch, tmp_path)  # the resume in-process, on the same stores
    out = io.StringIO()
    assert sweep_command(cfg, [], out=out) == 0, out.getvalue()
    study = journal_study(tmp_path, "resume")
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == interrupted[0].number]
    assert len(retries) == 1 and retries[0].params == interrupted[0].params  # same params, run again
    assert len([t for t in study.trials if "failed_trial" not in t.system_attrs]) == 3  # the budget
    runs = mlflow_runs(uri)
    parents = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # resumed, not duplicated
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert len(children) == len(study.trials) == 4
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    killed = [c for c in children if c.data.tags["optuna.trial"] == str(interrupted[0].number)]
    assert killed[0].info.status == "KILLED" and killed[0].data.tags["optuna.state"] == "FAIL"
    assert not [c for c in children if c.info.status == "RUNNING"]
