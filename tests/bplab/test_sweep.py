"""``bplab sweep`` as a person reads it, in-process with a planted backward-pass bug."""

from __future__ import annotations

import io

from optuna.trial import TrialState

from bplab.sweep import sweep_command
from tests.mutants import bp2_no_sigma_prime
from tests.sweeps.conftest import journal_study, mlflow_runs, write_config
from tests.sweeps.inprocess import use_tmp_stores


def test_a_gradient_bug_is_labelled_apart_from_bad_hyperparameters(tmp_path, monkeypatch):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="bug", n_trials=2, epochs=2, sweep_extra='pruner = "none"')
    out = io.StringIO()

    rc = sweep_command(cfg, ["train.gradcheck_every=1"], out=out, grad=bp2_no_sigma_prime)

    text = out.getvalue()
    assert rc == 1, text  # a check failed
    assert text.startswith("study 'bug' on ") and "trial 0 FAIL: failed (gradient_mismatch)" in text
    assert "GRADIENT BUG: 2 trial(s)" in text and "bplab gradcheck" in text
    assert text.rstrip().endswith("browse every trial: bplab ui")
    study = journal_study(tmp_path, "bug")
    assert [t.user_attrs.get("bplab.failure") for t in study.trials] == ["gradient_mismatch"] * 2
    assert all(t.state == TrialState.FAIL for t in study.trials)
    runs = mlflow_runs(uri)
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert {(c.info.status, c.data.tags["bplab.failure"]) for c in children} == {
        ("FAILED", "gradient_mismatch")
    }
    parent = next(r for r in runs if r.data.tags.get("bplab.kind") == "sweep")
    assert parent.data.tags["sweep.gradient_bugs"] == "2"


def test_register_puts_the_best_trials_model_in_the_registry_with_the_champion_alias(tmp_path, monkeypatch):
    import mlflow

    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="reg", n_trials=2, epochs=2, sweep_extra='pruner = "none"')
    out = io.StringIO()

    rc = sweep_command(cfg, [], out=out, register="reg-mlp")

    assert rc == 0, out.getvalue()
    assert "registered models:/reg-mlp@champion (version 1" in out.getvalue()
    study = journal_study(tmp_path, "reg")
    version = mlflow.MlflowClient(uri).get_model_version_by_alias("reg-mlp", "champion")
    best_run = study.best_trial.user_attrs["bplab.run_id"]
    assert version.run_id == best_run
