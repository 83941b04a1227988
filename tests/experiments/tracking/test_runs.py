"""A run's life in a real sqlite store: open, nest, end with a status, resume, read back."""

from __future__ import annotations

import pytest

from experiments import tracking
from experiments.errors import BadInput


def test_a_new_experiment_keeps_artifacts_beside_the_database(experiment, store):
    exp_id = tracking.experiment_id(experiment)
    assert tracking.experiment_id(experiment) == exp_id  # found again, not created twice
    exp = tracking.client().get_experiment(exp_id)
    assert exp.artifact_location == f"{(store.parent / 'mlartifacts').as_uri()}/{experiment}"
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_odd_experiment_names_make_safe_folders(store):
    exp = tracking.client().get_experiment(tracking.experiment_id("a b/../c"))
    assert exp.artifact_location.endswith("/mlartifacts/a_b_.._c")  # no separator left


def test_start_run_tags_name_note_and_parent(experiment):
    parent = tracking.start_run(experiment, run_name="sweep")
    child = tracking.start_run(
        experiment,
        run_name="trial-0",
        parent_run_id=parent,
        tags={"bplab.kind": "trial", "n": 3},
        description="hi",
    )
    run = tracking.get_run(child)
    assert run.info.status == "RUNNING" and run.info.run_name == "trial-0"
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["mlflow.note.content"] == "hi"
    assert run.data.tags["n"] == "3"
    assert tracking.experiment_of(child) == tracking.experiment_id(experiment)


def test_children_of_one_parent_read_its_experiment_once(experiment, monkeypatch):
    parent = tracking.start_run(experiment, run_name="sweep")
    reads = []
    get_run = tracking.client().get_run
    monkeypatch.setattr(tracking.client(), "get_run", lambda run_id: reads.append(run_id) or get_run(run_id))
    children = [tracking.start_run(experiment, parent_run_id=parent) for _ in range(3)]
    assert reads.count(parent) <= 1
    assert {tracking.experiment_of(c) for c in children} == {tracking.experiment_id(experiment)}


@pytest.mark.parametrize("status", tracking.STATUSES)
def test_a_run_ends_with_the_status_that_happened(experiment, status):
    run_id = tracking.start_run(experiment)
    tracking.end_run(run_id, status)
    assert tracking.run_status(run_id) == status


def test_an_unknown_status_is_refused(experiment):
    run_id = tracking.start_run(experiment)
    with pytest.raises(ValueError, match="unknown status 'DONE'"):
        tracking.end_run(run_id, "DONE")
    assert tracking.run_status(run_id) == "RUNNING"


def test_ending_writes_the_queued_metrics_first(experiment):
    run_id = tracking.start_run(experiment)
    for step in (1, 2, 3):
        tracking.log_metrics(run_id, {"train_loss": 1.0 / step}, step)
    tracking.end_run(run_id)
    assert tracking.metric_history(run_id, "train_loss") == [(1, 1.0), (2, 0.5), (3, 1 / 3)]


def test_resume_and_children(experiment):
    parent = tracking.start_run(experiment)
    children = {tracking.start_run(experiment, parent_run_id=parent) for _ in range(3)}
    tracking.start_run(experiment)  # not a child
    tracking.end_run(parent, "KILLED")
    tracking.resume_run(parent)
    assert tracking.run_status(parent) == "RUNNING"
    found = tracking.child_runs(parent)
    assert {c["run_id"] for c in found} == children
    assert all(c["status"] == "RUNNING" and c["tags"]["mlflow.parentRunId"] == parent for c in found)


def test_run_record_and_history(experiment):
    run_id = tracking.start_run(experiment)
    tracking.log_params(run_id, {"train.lr": 0.5})
    tracking.set_tags(run_id, {"bplab.kind": "run"})
    tracking.log_metrics(run_id, {"val_loss": 2.0}, 1, synchronous=True)
    tracking.log_metrics(run_id, {"val_loss": 1.5}, 1, synchronous=True)  # the last write of a step wins
    tracking.log_metrics(run_id, {"val_loss": 1.0}, 2, synchronous=True)
    record = tracking.run_record(run_id)
    assert record["status"] == "RUNNING" and record["run_id"] == run_id
    assert record["params"] == {"train.lr": "0.5"}
    assert record["tags"]["bplab.kind"] == "run"
    assert record["metrics"] == {"val_loss": 1.0}
    assert tracking.metric_history(run_id, "val_loss") == [(1, 1.5), (2, 1.0)]
    assert tracking.metric_history(run_id, "absent") == []


def test_an_unknown_run_is_bad_input(store):
    with pytest.raises(BadInput, match="run 'nope' not found in sqlite:///"):
        tracking.run_record("nope")
