"""Two processes that create a new MLflow store's schema at the same moment both go on: bplab
processes take turns (a lock on the folder), and a failed first query is retried."""

from __future__ import annotations

import subprocess

import pytest
from mlflow.tracking import MlflowClient

from tests.support.processes import BPLAB, CONFIGS, clean_env

pytestmark = pytest.mark.integration


def test_two_trains_in_a_fresh_folder_both_succeed(tmp_path):
    argv = [
        BPLAB,
        "train",
        str(CONFIGS / "xor.toml"),
        "--set",
        "train.epochs=2",
        "--set",
        "train.gradcheck_every=0",
    ]
    procs = [
        subprocess.Popen(
            argv, cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("xor").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlartifacts", "mlflow.db"]  # no lock file left
