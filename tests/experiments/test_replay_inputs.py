"""What ``bplab replay`` reads back is checked: a bad ``params.npz`` is one line (exit 2), and a run
stopped before its ``config.toml`` was written is replayed from the params it logged at its start."""

from __future__ import annotations

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from bplab.app import main
from experiments import replay, tracking
from experiments.config import load_config
from experiments.errors import BadInput
from experiments.replay.recorded import config_from_params, weights_from_npz
from experiments.run import train_run
from tests.conftest import REPO

XOR = REPO / "experiments" / "configs" / "xor.toml"


def test_a_truncated_or_pickled_npz_is_bad_input(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, W1=np.ones((2, 2)), b1=np.zeros(2))
    assert set(weights_from_npz(good, "w")) == {"W1", "b1"}
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:100])
    with pytest.raises(BadInput, match=r"^run x params\.npz: cannot read as \.npz: "):
        weights_from_npz(cut, "run x params.npz")
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, W1=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(BadInput, match=r"cannot read as \.npz: .*allow_pickle"):
        weights_from_npz(pickled, "w")
    strings = tmp_path / "str.npz"
    np.savez(strings, W1=np.array(["a", "b"]))
    with pytest.raises(BadInput, match="W1 must be numeric, got dtype <U1"):
        weights_from_npz(strings, "w")


def test_the_config_comes_back_from_its_logged_params():
    cfg = load_config(XOR, ["model.hidden=[3, 2]", "train.lr=0.1234567890123", "data.val_fraction=0.2"])
    params = {k: str(v) for k, v in cfg.flat().items()} | {"data.n_train": "4", "backend": "cpu"}
    back = config_from_params(params, "run r params")
    assert back.to_dict() == cfg.to_dict()
    del params["train.seed"]
    assert config_from_params(params, "run r params") is None


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def _replay(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["replay", *argv])
    return exit_.value.code


@pytest.mark.integration  # an embedded MLflow store and two trainings: about 20 s on 2 busy cores
def test_a_killed_run_is_replayed_from_its_params(store, capsys):
    cfg = load_config(XOR, ["train.epochs=50", "train.gradcheck_every=0"])
    seen = []

    def stop_at_4(epoch, metrics):
        seen.append(epoch)
        if epoch == 4:
            raise KeyboardInterrupt  # what SIGINT/SIGTERM raise in a run

    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, on_epoch=stop_at_4)
    (run,) = MlflowClient().search_runs([MlflowClient().get_experiment_by_name("xor").experiment_id])
    assert run.info.status == "KILLED"
    assert "config.toml" not in {a.path for a in MlflowClient().list_artifacts(run.info.run_id)}

    result = replay.replay(run.info.run_id)
    assert not result.mismatches
    assert {c.name: c.compared for c in result.comparisons}["train_loss"] == 4

    bad = store / "params.npz"
    bad.write_bytes(b"PK\x03\x04 cut")
    tracking.log_artifact(run.info.run_id, bad)
    capsys.readouterr()
    assert _replay([run.info.run_id]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"bplab: error: run {run.info.run_id} params.npz: cannot read as .npz: ")
