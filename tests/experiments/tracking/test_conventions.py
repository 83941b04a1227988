"""MLflow's metadata conventions on runs opened by id: source tags, unique names, the experiment."""

from __future__ import annotations

import re

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_SOURCE_NAME, MLFLOW_USER

from experiments import tracking
from experiments.config import RunConfig
from experiments.environment import git_commit
from experiments.tracking.conventions import source_name


def test_run_names_say_what_was_trained_and_differ():
    cfg = RunConfig.from_dict({"model": {"hidden": [64, 32]}, "train": {"lr": 0.5}}, "t")
    names = {tracking.run_name(cfg) for _ in range(20)}
    assert len(names) > 15  # 4 random hex digits: a collision in 20 is rare
    assert all(re.fullmatch(r"digits-h64x32-lr0\.5-[0-9a-f]{4}", n) for n in names)
    classic = RunConfig.from_dict({"train": {"lr": 3.0}}, "t")
    assert re.fullmatch(r"digits-h30-lr3-[0-9a-f]{4}", tracking.run_name(classic))


def test_a_user_file_is_named_by_its_stem():
    cfg = RunConfig.from_dict({"data": {"dataset": "file", "path": "data/houses.csv"}}, "t")
    assert tracking.run_name(cfg).startswith("houses-h30-")


def test_source_name_is_the_verb():
    assert source_name(["/venv/bin/bplab", "train", "x.toml"]) == "bplab train"
    assert source_name(["/venv/bin/bplab", "--help"]) == "bplab"
    assert source_name(["/tmp/script.py"]) == "script.py"


def test_runs_carry_user_source_and_commit(experiment):
    tags = tracking.get_run(tracking.start_run(experiment)).data.tags
    assert tags[MLFLOW_USER] and tags[MLFLOW_SOURCE_NAME]
    assert tags.get(MLFLOW_GIT_COMMIT) == git_commit()  # this checkout's commit (absent outside git)
    assert tags["mlflow.runName"].startswith(f"{experiment}-")


def test_given_tags_win(experiment):
    run_id = tracking.start_run(experiment, tags={MLFLOW_SOURCE_NAME: "bplab sweep"})
    assert tracking.get_run(run_id).data.tags[MLFLOW_SOURCE_NAME] == "bplab sweep"


def test_mlflow_experiment_name_applies_when_the_config_names_none(store, experiment, monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", experiment)
    assert tracking.experiment_name("default") == experiment
    assert tracking.experiment_name(None) == experiment
    assert tracking.experiment_name("digits") == "digits"  # a named experiment stays where it is
    run_id = tracking.start_run("default")
    assert tracking.experiment_of(run_id) == tracking.experiment_id(experiment)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME")
    assert tracking.experiment_name("default") == "default"


def test_a_child_run_goes_where_its_parent_is(experiment, monkeypatch):
    parent = tracking.start_run(experiment)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", f"{experiment}-other")  # a worker with another setting
    child = tracking.start_run("default", parent_run_id=parent, run_name="trial-0")
    assert tracking.experiment_of(child) == tracking.experiment_of(parent)
