"""Three `bplab worker` processes on one PostgreSQL study; one is SIGKILLed mid-trial.

The studies are created in-process (``bplab sweep --workers 0``'s library call): what needs real
processes here are the workers, the one killed and the one whose database is dropped."""

from __future__ import annotations

import io
import signal
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from bplab.sweep import sweep_command
from tests.sweeps.conftest import mlflow_runs, wait_for, write_config
from tests.sweeps.inprocess import use_tmp_stores

pytestmark = pytest.mark.integration
BUDGET = 5  # more trials than workers: the survivors share the rest and the retry
# Grace period 3 beats = 6 s. With 1 s beats (3 s grace) one full-suite run on 2 cores failed a
# second trial besides the killed one: most likely a survivor's beats stalled for 3 s under the load.
HEARTBEAT_S = 2


def create_study(cfg, study: str, storage: str, monkeypatch) -> str:
    """``bplab sweep CFG --study STUDY --workers 0 --storage STORAGE`` in-process; its MLflow URI."""
    uri = use_tmp_stores(monkeypatch, cfg.parent)
    out = io.StringIO()
    rc = sweep_command(cfg, [], out=out, study=study, workers=0, storage=storage, heartbeat=HEARTBEAT_S)
    assert rc == 0, out.getvalue()
    assert f"bplab worker --study {study}" in out.getvalue()
    return uri


def test_killed_worker_trial_is_failed_and_rerun_budget_exact(tmp_path, env, procs, pg_url, monkeypatch):
    cfg = write_config(tmp_path, name="pg", n_trials=BUDGET, epochs=60)
    uri = create_study(cfg, "pg", pg_url, monkeypatch)
    env = {**env, "MLFLOW_TRACKING_URI": uri}
    storage = ["--storage", pg_url, "--heartbeat", str(HEARTBEAT_S)]

    workers = [procs.start(["worker", "--study", "pg", *storage], cwd=tmp_path, env=env) for _ in range(3)]
    study = optuna.load_study(study_name="pg", storage=pg_url)
    victim = workers[0]

    def victim_mid_trial():
        for t in study.get_trials(states=(TrialState.RUNNING,)):
            if t.user_attrs.get("bplab.pid") == victim.pid and len(t.intermediate_values) >= 2:
                return t
        return None

    doomed = wait_for(victim_mid_trial, timeout=180, what="the victim worker mid-trial")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for w in workers[1:]:
        _out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err

    trials = study.get_trials()
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert [t.number for t in failed] == [doomed.number]  # the killed trial, failed by heartbeat
    assert failed[0].user_attrs["bplab.failure"] == "worker_lost"  # labelled like the journal reaper's
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == doomed.number]
    assert len(retries) == 1 and retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    assert retries[0].params == doomed.params  # re-run with the same params
    assert retries[0].user_attrs["bplab.pid"] != victim.pid  # by a survivor
    originals = [t for t in trials if "failed_trial" not in t.system_attrs]
    assert len(originals) == BUDGET  # budget exact: 5 trials + 1 retry, not 15
    assert len(trials) == BUDGET + 1
    assert all(t.state.is_finished() for t in trials)

    runs = mlflow_runs(uri)
    parents = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    per_trial = Counter(int(c.data.tags["optuna.trial"]) for c in children)
    assert per_trial == Counter({t.number: 1 for t in trials})  # one run per trial, no duplicates
    lost = next(c for c in children if c.data.tags["optuna.trial"] == str(doomed.number))
    assert lost.info.status == "FAILED" and lost.data.tags["bplab.failure"] == "worker_lost"
    assert not [c for c in children if c.info.status == "RUNNING"]
    assert study.user_attrs["bplab.parent_run_id"] == parents[0].info.run_id


def drop_database(pg_server, name: str) -> None:
    """``DROP DATABASE … WITH (FORCE)``: every session on it is cut, as when the server loses it."""
    conn = pg_server.connect()
    conn.autocommit = True  # DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        conn.close()


def test_a_worker_whose_database_is_dropped_mid_trial_exits_1_with_one_line(
    tmp_path, env, procs, pg_server, databases, monkeypatch
):
    name = databases.create("drop")
    url = pg_server.url(name)
    cfg = write_config(tmp_path, name="drop", n_trials=1, epochs=400, sweep_extra='pruner = "none"')
    uri = create_study(cfg, "drop", url, monkeypatch)
    env = {**env, "MLFLOW_TRACKING_URI": uri}
    storage = ["--storage", url, "--heartbeat", str(HEARTBEAT_S)]
    worker = procs.start(["worker", "--study", "drop", *storage], cwd=tmp_path, env=env)
    study = optuna.load_study(study_name="drop", storage=url)

    def mid_trial():
        return [t for t in study.get_trials(states=(TrialState.RUNNING,)) if t.intermediate_values]

    (doomed,) = wait_for(mid_trial, timeout=180, what="a trial mid-training", proc=worker)
    drop_database(pg_server, name)
    _out, err = worker.communicate(timeout=120)

    assert worker.returncode == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "stopped answering" in lines[0] and "Traceback" not in err, err
    (run,) = [r for r in mlflow_runs(uri) if r.data.tags.get("optuna.trial") == str(doomed.number)]
    assert run.info.status == "FAILED" and run.data.tags["bplab.failure"] == "storage_unavailable"
