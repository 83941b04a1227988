"""SIGTERM stops a multi-worker sweep as SIGINT does, even one started in the background by a script
(SIGINT ignored, and inherited so by its workers): trials re-queued, parent KILLED, nothing RUNNING;
the resume finishes the sweep and clears its stale ``sweep.stopped``."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import threading
import time

import pytest
from optuna.trial import TrialState

from backprop_core import backward
from bplab.sweep import sweep_command
from sweeps.result import Ending
from sweeps.spawn import STOP_GRACE_S
from sweeps.sweep import run_sweep
from tests.support.processes import BPLAB
from tests.sweeps.conftest import journal_study, mlflow_runs, wait_for, write_config
from tests.sweeps.inprocess import use_tmp_stores

pytestmark = pytest.mark.integration


def ignore_sigint() -> None:
    """What ``cmd &`` in a non-interactive shell does to the job it starts."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_sigterm_stops_a_background_multi_worker_sweep_and_the_resume_clears_stopped(
    tmp_path, env, monkeypatch
):
    cfg = write_config(tmp_path, name="sig", n_trials=4, epochs=20, sweep_extra='pruner = "none"')
    argv = [BPLAB, "sweep", cfg.name, "--workers", "2"]
    p = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ignore_sigint, start_new_session=True,
    )  # fmt: skip
    try:

        def a_trial_running():
            try:
                study = journal_study(tmp_path, "sig")
            except (KeyError, FileNotFoundError, ValueError):
                return None
            return [t for t in study.trials if t.state == TrialState.RUNNING and t.intermediate_values]

        wait_for(a_trial_running, timeout=180, what="a trial mid-training", proc=p)
        p.send_signal(signal.SIGTERM)  # to the watching process only: it must forward the stop
        signalled = time.monotonic()
        _out, err = p.communicate(timeout=120)
        stop_s = time.monotonic() - signalled
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err
    assert stop_s < STOP_GRACE_S / 2  # the workers stopped on the signal, not when their grace ran out
    assert "interrupted" in err and "Traceback" not in err

    trials = journal_study(tmp_path, "sig").trials
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    stopped = [t for t in trials if t.user_attrs.get("bplab.failure") == "interrupted"]
    assert stopped and all(t.state == TrialState.FAIL for t in stopped)
    for t in stopped:  # each one's params wait for the resume
        (retry,) = [r for r in trials if r.system_attrs.get("failed_trial") == t.number]
        assert retry.state == TrialState.WAITING and retry.params == t.params
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = mlflow_runs(uri)
    assert not [r for r in runs if r.info.status == "RUNNING"]
    (parent,) = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    assert parent.info.status == "KILLED" and parent.data.tags["sweep.stopped"] == "interrupted"
    done = len([t for t in trials if t.state.is_finished()]) - len(stopped)
    assert int(parent.data.tags["sweep.done"]) == done  # the counts so far, not a blank

    use_tmp_stores(monkeypatch, tmp_path)  # the resume in-process, on the same stores
    out = io.StringIO()
    assert sweep_command(cfg, [], out=out) == 0, out.getvalue()
    (parent,) = [r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "sweep"]
    assert parent.info.status == "FINISHED" and "sweep.stopped" not in parent.data.tags
    assert all(t.state.is_finished() for t in journal_study(tmp_path, "sig").trials)


def swallowing_a_stop(sent: list):
    """A backward pass that, on its first call in the main thread, receives SIGTERM and turns the
    interrupt into another error, as a library's failed cleanup does (Optuna's journal lock did)."""

    def backward_pass(*args, **kwargs):
        if threading.current_thread() is threading.main_thread() and not sent:
            sent.append(signal.SIGTERM)
            try:
                signal.raise_signal(signal.SIGTERM)
                time.sleep(5)  # the interrupt is raised here
            except KeyboardInterrupt:
                raise FileNotFoundError("a lock removed twice") from None
        return backward(*args, **kwargs)

    return backward_pass


@pytest.mark.parametrize("population", [1, 2])
def test_a_stop_that_a_library_turned_into_another_error_still_stops_the_sweep(
    tmp_path, monkeypatch, population
):
    uri = use_tmp_stores(monkeypatch, tmp_path)
    cfg = write_config(tmp_path, name="masked", n_trials=4, sweep_extra='pruner = "none"')
    sent = []

    result = run_sweep(cfg, grad=swallowing_a_stop(sent), population=population)

    assert sent and result.ending == Ending.INTERRUPTED and result.exit_code == 130
    trials = journal_study(tmp_path, "masked").trials
    stopped, retries = trials[:population], trials[population:]  # no trial started after the stop
    assert [t.state for t in stopped] == [TrialState.FAIL] * population
    assert {t.user_attrs["bplab.failure"] for t in stopped} == {"interrupted"}
    assert [t.state for t in retries] == [TrialState.WAITING] * population
    assert [t.system_attrs["failed_trial"] for t in retries] == [t.number for t in stopped]
    runs = [r for r in mlflow_runs(uri) if r.data.tags.get("bplab.kind") == "trial"]
    assert len(runs) == population
    assert {(r.info.status, r.data.tags["bplab.failure"]) for r in runs} == {("KILLED", "interrupted")}
    # tagged as any interrupted run: why it stopped, not the error the signal surfaced as
    assert {r.data.tags["bplab.stop_reason"] for r in runs} == {"interrupted (SIGINT or SIGTERM)"}
    assert not [r for r in runs if "bplab.failure_reason" in r.data.tags]
