"""A run's dataset inputs: one per split, with name, digest, source, shape and context."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy.orm
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.dbmodels.models import SqlDataset

from experiments import tracking
from experiments.data import Dataset
from experiments.tracking.lineage import dataset_inputs


def _dataset(name="digits", rows=(8, 2, 2)):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in zip(("train", "val", "test"), rows, strict=True):
        arrays[f"x_{split}"] = rng.normal(size=(n, 4))
        arrays[f"y_{split}"] = rng.normal(size=(n, 3))
    return SimpleNamespace(name=name, **arrays)


def _inputs(run_id):
    return {d.tags[0].value: d.dataset for d in tracking.get_run(run_id).inputs.dataset_inputs}


def test_three_splits_with_their_context_source_and_shape(experiment):
    run_id = tracking.start_run(experiment)
    tracking.log_dataset(run_id, _dataset(), SimpleNamespace(dataset="digits", path=""))
    inputs = _inputs(run_id)
    assert sorted(inputs) == ["test", "training", "validation"]
    assert {d.name for d in inputs.values()} == {"digits"}
    assert json.loads(inputs["training"].source) == {"tags": {"loader": "sklearn.datasets.load_digits"}}
    assert json.loads(inputs["training"].profile)["features_shape"] == [8, 4]
    assert json.loads(inputs["validation"].profile)["targets_shape"] == [2, 3]
    assert len({d.digest for d in inputs.values()}) == 3


def test_same_data_same_digest_and_a_file_is_its_path(experiment, tmp_path):
    first, second = tracking.start_run(experiment), tracking.start_run(experiment)
    data = SimpleNamespace(dataset="file", path=str(tmp_path / "houses.csv"))
    tracking.log_dataset(first, _dataset("houses.csv"), data)
    tracking.log_dataset(second, _dataset("houses.csv"), data)
    a, b = _inputs(first)["training"], _inputs(second)["training"]
    assert a.digest == b.digest and a.source_type == "local"
    assert json.loads(a.source) == {"uri": str(tmp_path / "houses.csv")}


def test_a_process_hashes_its_dataset_once():
    ns = _dataset()
    ds = Dataset(**vars(ns), is_classification=False, x_shift=np.zeros(4), x_scale=np.ones(4))
    digits = SimpleNamespace(dataset="digits", path="")
    first = dataset_inputs(ds, digits)
    assert dataset_inputs(ds, digits) is first  # a sweep's trials share it
    assert dataset_inputs(ds, SimpleNamespace(dataset="iris", path="")) is not first


def miss_the_next_dataset_lookup(monkeypatch) -> list[int]:
    """MLflow's next look-up of an experiment's datasets finds none, as when another run created the
    dataset between that look-up and the insert that follows it; returns a list that counts misses."""
    misses = []
    real_all = sqlalchemy.orm.Query.all

    def all_(query):
        rows = real_all(query)
        if not misses and query.column_descriptions[0]["entity"] is SqlDataset:
            misses.append(len(rows))
            return []
        return rows

    monkeypatch.setattr(sqlalchemy.orm.Query, "all", all_)
    return misses


def test_a_dataset_created_by_another_run_meanwhile_is_linked_not_failed(experiment, monkeypatch):
    data = SimpleNamespace(dataset="digits", path="")
    first, second = tracking.start_run(experiment), tracking.start_run(experiment)
    tracking.log_dataset(first, _dataset(), data)
    misses = miss_the_next_dataset_lookup(monkeypatch)
    tracking.log_dataset(second, _dataset(), data)  # its insert breaks the unique key; once more links
    assert misses == [3]  # the three splits were there, and the look-up missed them
    digests = {run: {c: d.digest for c, d in _inputs(run).items()} for run in (first, second)}
    assert digests[second] == digests[first] and len(digests[second]) == 3


def test_any_other_store_error_is_raised(experiment):
    with pytest.raises(MlflowException):
        tracking.log_dataset("0" * 32, _dataset(), SimpleNamespace(dataset="digits", path=""))
