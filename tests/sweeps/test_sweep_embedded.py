"""`bplab sweep` on the embedded default stores: an Optuna journal and MLflow's sqlite, both in cwd."""

from __future__ import annotations

import csv
import json
import os

import pytest
from optuna.trial import TrialState

from tests.sweeps.conftest import bplab, journal_study, mlflow_runs, write_config

pytestmark = pytest.mark.integration


def test_ten_trials_one_parent_ten_children(tmp_path, env):
    cfg = write_config(tmp_path, name="ten", n_trials=10, epochs=3)
    r = bplab(["sweep", str(cfg.name)], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "database is locked" not in r.stderr
    assert "parent run: http://127.0.0.1:5000/#/experiments/" in r.stdout
    assert "best trials by val_loss" in r.stdout

    study = journal_study(tmp_path, "ten")
    finished = [
        t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    ]
    assert len(study.trials) == len(finished) == 10

    runs = mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    parents = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert len(parents) == 1 and len(children) == 10
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    assert study.user_attrs["bplab.parent_run_id"] == parent.info.run_id
    by_trial = {int(c.data.tags["optuna.trial"]): c for c in children}
    assert sorted(by_trial) == list(range(10))

    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for t in study.trials:
        run = by_trial[t.number]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["optuna.study"] == "ten"
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

    # the parent's results
    assert parent.data.tags["best.trial"] == str(study.best_trial.number)
    assert float(parent.data.tags["best.value"]) == pytest.approx(study.best_value)
    art = tmp_path / "mlartifacts"
    root = next(art.rglob(f"{parent.info.run_id}/artifacts"))
    names = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {"trials.csv", "best_params.json", "best_config.toml"} <= names
    assert "plots/study.html" in names  # one self-contained page (plotly embedded once)
    page = (root / "plots" / "study.html").read_text()
    assert all(f'id="{n}"' in page for n in ("optimization_history", "slice", "param_importances"))
    rows = list(csv.DictReader((root / "trials.csv").read_text().splitlines()))
    assert len(rows) == 10 and {row["run_id"] for row in rows} == {c.info.run_id for c in children}
    best = json.loads((root / "best_params.json").read_text())
    assert best["params"] == study.best_params

    # the best config runs again with `bplab train`
    os.rename(root / "best_config.toml", tmp_path / "best.toml")
    r = bplab(["train", "best.toml"], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr


def test_resume_after_sigint_continues_under_the_same_parent(tmp_path, env, procs):
    from tests.sweeps.conftest import wait_for

    cfg = write_config(tmp_path, name="resume", n_trials=5, epochs=40)
    p = procs.start(["sweep", cfg.name], cwd=tmp_path, env=env)

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

    r = bplab(["sweep", cfg.name], cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    study = journal_study(tmp_path, "resume")
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == interrupted[0].number]
    assert len(retries) == 1 and retries[0].params == interrupted[0].params  # same params, run again
    assert len([t for t in study.trials if "failed_trial" not in t.system_attrs]) == 5  # the budget
    runs = mlflow_runs(uri)
    parents = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"  # resumed, not duplicated
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert len(children) == len(study.trials) == 6
    assert all(c.data.tags["mlflow.parentRunId"] == parents[0].info.run_id for c in children)
    killed = [c for c in children if c.data.tags["optuna.trial"] == str(interrupted[0].number)]
    assert killed[0].info.status == "KILLED" and killed[0].data.tags["optuna.state"] == "FAIL"
    assert not [c for c in children if c.info.status == "RUNNING"]


def test_four_workers_forty_trials_on_the_journal(tmp_path, env):
    cfg = write_config(tmp_path, name="forty", n_trials=40, epochs=1, sweep_extra='pruner = "none"')
    r = bplab(["sweep", cfg.name, "--workers", "4"], cwd=tmp_path, env=env, timeout=420)
    assert r.returncode == 0, r.stderr
    assert "database is locked" not in r.stdout + r.stderr
    study = journal_study(tmp_path, "forty")
    assert len(study.trials) == 40
    assert all(t.state == TrialState.COMPLETE for t in study.trials), [t.state for t in study.trials]
    assert len({t.user_attrs["bplab.pid"] for t in study.trials}) >= 2  # really several processes
    runs = mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len([r for r in runs if r.data.tags.get("bplab.kind") == "trial"]) == 40
