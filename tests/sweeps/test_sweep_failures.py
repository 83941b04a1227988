"""Sweeps that meet trouble: divergent learning rates, a worker SIGKILLed on the journal (the reaper),
and bad input (exit 2, one line, nothing opened). A planted gradient bug: tests/bplab/test_sweep.py.

Only what needs a process runs the ``bplab`` binary (the SIGKILL, one bad input's exit code); the
rest runs in-process, which spares each case a process start (~5 CPU-s of imports)."""

from __future__ import annotations

import io
import signal

import pytest
from optuna.trial import TrialState

from bplab.sweep import sweep_command
from tests.sweeps.conftest import bplab, journal_study, mlflow_runs, wait_for, write_config
from tests.sweeps.inprocess import bplab_main, use_tmp_stores

pytestmark = pytest.mark.integration

# Iris, standardised inputs, relu + cross-entropy: lr = 1000 makes the loss non-finite within an epoch.
DIVERGENT = """
[experiment]
name = "div"
[data]
dataset = "iris"
scale = "standard"
[model]
hidden = [8]
activation = "relu"
cost = "cross_entropy"
[train]
lr = 1.0
batch_size = 16
epochs = 2
gradcheck_every = 0
[sweep]
n_trials = 3
sampler = "grid"
pruner = "none"
[sweep.space]
lr = [0.1, 1000.0]
n_layers = [1, 1]
width = [8, 8]
"""


def test_divergent_trials_are_failed_and_labelled_and_the_sweep_completes(tmp_path, monkeypatch):
    use_tmp_stores(monkeypatch, tmp_path)
    (tmp_path / "div.toml").write_text(DIVERGENT)
    out = io.StringIO()
    assert sweep_command(tmp_path / "div.toml", [], out=out) == 0, out.getvalue()
    assert "diverged" in out.getvalue()
    study = journal_study(tmp_path, "div")
    by_lr = {round(t.params["lr"], 6): t for t in study.trials}
    assert set(by_lr) == {0.1, 10.0, 1000.0}  # the grid: log-spaced, ends included
    top = by_lr[1000.0]
    assert top.state == TrialState.FAIL and top.user_attrs["bplab.failure"] == "diverged"
    assert "learning rate" in top.user_attrs["bplab.reason"]
    assert by_lr[0.1].state == TrialState.COMPLETE
    runs = {r.data.tags.get("optuna.trial"): r for r in mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")}
    run = runs[str(top.number)]
    assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "diverged"
    parent = next(r for r in runs.values() if r.data.tags.get("bplab.kind") == "sweep")
    assert parent.info.status == "FINISHED" and int(parent.data.tags["sweep.diverged"]) >= 1


def test_the_reaper_fails_and_requeues_the_trial_of_a_killed_journal_worker(
    tmp_path, env, procs, monkeypatch
):
    cfg = write_config(tmp_path, name="reap", n_trials=2, epochs=60)
    p = procs.start(["sweep", cfg.name], cwd=tmp_path, env=env)

    def mid_trial():
        try:
            study = journal_study(tmp_path, "reap")
        except (KeyError, FileNotFoundError):
            return None
        running = [t for t in study.trials if t.state == TrialState.RUNNING and t.intermediate_values]
        return running[0] if running else None

    wait_for(mid_trial, timeout=120, what="a trial mid-training")
    p.send_signal(signal.SIGKILL)  # no handler runs: the trials and their MLflow runs stay RUNNING
    p.wait()
    # every trial in flight (two, where the sweep trained two side by side)
    doomed = [t for t in journal_study(tmp_path, "reap").trials if t.state == TrialState.RUNNING]
    use_tmp_stores(monkeypatch, tmp_path)  # the resume (and its reaper) in-process, on the same stores
    out = io.StringIO()
    assert sweep_command(cfg, [], out=out) == 0, out.getvalue()
    study = journal_study(tmp_path, "reap")
    runs = mlflow_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    for gone in doomed:
        assert study.trials[gone.number].state == TrialState.FAIL
        retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == gone.number]
        assert len(retry) == 1 and retry[0].params == gone.params and retry[0].state.is_finished()
        lost = [r for r in runs if r.data.tags.get("optuna.trial") == str(gone.number)]
        assert [(r.info.status, r.data.tags["bplab.failure"]) for r in lost] == [("FAILED", "worker_lost")]
    assert len(study.trials) == 2 + len(doomed) and all(t.state.is_finished() for t in study.trials)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    assert len([r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]) == 1


BAD_INPUTS = [
    ([], {"sweep_extra": 'sampler = "bayes"'}, "sweep.sampler must be one of"),
    ([], {"space_extra": "depth = [1, 2]"}, "unknown key sweep.space.depth"),
    (["--set", "sweep.space.lr=[2.0, 1.0]"], {}, "sweep.space.lr must be [low, high] with low < high"),
    (["--set", "sweep.n_trials=0"], {}, "sweep.n_trials must be an integer ≥ 1"),
    (["--storage", "mysql://nowhere/db"], {}, "--storage 'mysql://nowhere/db'"),
    (["--storage", "postgresql://nobody@127.0.0.1:1/none"], {}, "cannot reach the database"),
    (["--n-trials", "0"], {}, "--n-trials"),
]


def check_refused(folder, args, rc, stderr, needle) -> None:
    """Exit 2, the needle on stderr, no traceback, one line (ours), and no store opened."""
    assert rc == 2, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert needle in stderr and "Traceback" not in stderr
    assert len(lines) == 1, stderr  # click's usage errors too (bplab.app.usage_error)
    assert not (folder / "mlflow.db").exists() and not (folder / "optuna.journal").exists()


def test_the_bplab_binary_exits_2_with_one_line_on_bad_sweep_input(tmp_path, env):
    args, extra, needle = BAD_INPUTS[0]
    cfg = write_config(tmp_path, name="bad", **extra)
    r = bplab(["sweep", cfg.name, *args], cwd=tmp_path, env=env, timeout=60)
    check_refused(tmp_path, args, r.returncode, r.stderr, needle)


@pytest.mark.parametrize(("args", "extra", "needle"), BAD_INPUTS)
def test_bad_sweep_input_exits_2_with_one_line_before_anything_opens(
    tmp_path, monkeypatch, capsys, args, extra, needle
):
    use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="bad", **extra)
    rc, _out, err = bplab_main(["sweep", cfg.name, *args], capsys)
    check_refused(tmp_path, args, rc, err, needle)


def test_worker_on_a_missing_study_exits_2(tmp_path, monkeypatch, capsys):
    use_tmp_stores(monkeypatch, tmp_path)
    rc, _out, err = bplab_main(["worker", "--study", "nope"], capsys)
    assert rc == 2 and "no such study" in err and len(err.strip().splitlines()) == 1
