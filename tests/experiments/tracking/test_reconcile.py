"""Runs left RUNNING by a gone process are ended; a run whose process lives is never touched."""

from __future__ import annotations

import os
import socket

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

from experiments import tracking
from experiments.errors import BadInput
from experiments.names import TAG_FAILURE, TAG_HOST, TAG_KIND, TAG_PID, TAG_PID_START, WORKER_LOST
from experiments.process import pid_start_time, process_tags
from experiments.tracking import reconcile
from experiments.tracking.reconcile import reconcile_runs

HOST = socket.gethostname()


def _run(experiment: str, **tags: str) -> str:
    run_id = tracking.start_run(experiment)
    if tags:
        tracking.set_tags(run_id, tags)
    return run_id


def _dead_here() -> dict[str, str]:
    """This pid with another start time: the pid was reused, the recorded process is gone."""
    return {TAG_HOST: HOST, TAG_PID: str(os.getpid()), TAG_PID_START: str(pid_start_time(os.getpid()) + 1)}


def test_every_run_records_its_process(store, experiment):
    run = tracking.get_run(tracking.start_run(experiment))
    assert {k: run.data.tags[k] for k in process_tags()} == process_tags()
    assert run.data.tags[TAG_PID] == str(os.getpid())


def test_a_gone_process_is_ended_failed_and_a_live_one_untouched(store, experiment):
    live = _run(experiment)  # opened by this process: alive
    dead = _run(experiment, **_dead_here())
    seen = []
    ended = reconcile_runs(on_ended=seen.append)
    mine = [e for e in ended if e.run_id in (live, dead)]
    assert [e.run_id for e in mine] == [dead] and seen[-1] in ended
    assert tracking.run_status(live) == "RUNNING"
    run = tracking.get_run(dead)
    assert run.info.status == "FAILED" and run.data.tags[TAG_FAILURE] == WORKER_LOST
    assert "is gone" in run.data.tags["bplab.failure_reason"]
    assert dead not in [e.run_id for e in reconcile_runs()]  # once


def test_dry_run_changes_nothing(store, experiment):
    dead = _run(experiment, **_dead_here())
    assert dead in [e.run_id for e in reconcile_runs(dry_run=True)]
    assert tracking.run_status(dead) == "RUNNING"
    reconcile_runs()


def test_other_hosts_and_unknown_processes_wait_for_a_stale_threshold(store, experiment):
    other = _run(experiment, **{TAG_HOST: "elsewhere", TAG_PID: "1", TAG_PID_START: "1"})
    unknown = tracking.start_run(experiment)
    tracking.client().delete_tag(unknown, TAG_PID)  # a run from before processes were recorded
    tracking.client().delete_tag(unknown, TAG_HOST)
    assert not {other, unknown} & {e.run_id for e in reconcile_runs()}
    assert not {other, unknown} & {e.run_id for e in reconcile_runs(stale_after=3600)}
    ended = {e.run_id: e for e in reconcile_runs(stale_after=0)}
    assert {other, unknown} <= set(ended)
    assert "on elsewhere" in ended[other].reason and "no process recorded" in ended[unknown].reason
    assert tracking.run_status(other) == "FAILED"


def test_a_sweep_parent_belongs_to_its_study(store, experiment):
    parent = _run(experiment, **{**_dead_here(), TAG_KIND: "sweep"})
    assert parent not in [e.run_id for e in reconcile_runs(stale_after=0)]
    assert tracking.run_status(parent) == "RUNNING"
    tracking.end_run(parent)


def test_a_run_being_stopped_ends_killed(store, experiment):
    run_id = _run(experiment, **{**_dead_here(), "bplab.stop_reason": "SIGTERM"})
    (item,) = [e for e in reconcile_runs() if e.run_id == run_id]
    assert item.status == "KILLED" and tracking.run_status(run_id) == "KILLED"


def test_a_store_that_refuses_the_ending_is_one_line(store, experiment):
    dead = _run(experiment, **_dead_here())

    def refuse(run_id, tags):
        raise MlflowException("Permission denied for bob", error_code=PERMISSION_DENIED)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reconcile, "set_tags", refuse)
        with pytest.raises(BadInput, match=r"^run \w+: MLflow refused to end it: Permission denied for bob$"):
            reconcile_runs()
    assert tracking.run_status(dead) == "RUNNING"
    reconcile_runs()
    assert tracking.run_status(dead) == "FAILED"
