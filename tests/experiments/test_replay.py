"""`bplab replay`: a logged run re-run from its recorded config and seeds, matched or not.

Everything runs in-process: the run is logged by ``main(["train", …])`` on a temporary embedded
store, and the planted bug enters the replay through its ``grad=`` seam.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from bplab import replay as replay_verb
from bplab.app import main
from experiments import replay
from experiments.errors import BadInput
from tests.conftest import REPO
from tests.mutants import bp4_double

# --- comparisons, pure ----------------------------------------------------------------------------


def test_exact_on_the_recorded_machine_kind_tolerance_elsewhere():
    env = {"backend": "cpu", "device_kind": "cpu", "jax_version": "0.10.2"}
    assert replay.tolerance_for(env, dict(env), None) == 0.0
    assert replay.tolerance_for(env, {**env, "backend": "gpu"}, None) == replay.CROSS_BACKEND_RTOL
    assert replay.tolerance_for(env, {**env, "jax_version": "0.11.0"}, None) == replay.CROSS_BACKEND_RTOL
    assert replay.tolerance_for(env, dict(env), 1e-6) == 1e-6


def test_compare_curve_finds_the_first_differing_epoch():
    recorded = [(1, 0.5), (2, 0.25), (3, 0.125)]
    same = replay.compare_curve("train_loss", recorded, {1: 0.5, 2: 0.25, 3: 0.125}, 0.0)
    assert same.matched and same.max_rel_diff == 0.0
    off = replay.compare_curve("train_loss", recorded, {1: 0.5, 2: 0.25 + 1e-12, 3: 0.2}, 0.0)
    assert not off.matched and off.first_mismatch == 2 and off.recorded == 0.25
    assert replay.compare_curve("train_loss", recorded, {1: 0.5, 2: 0.25 + 1e-12, 3: 0.125}, 1e-9).matched
    short = replay.compare_curve("train_loss", recorded, {1: 0.5}, 0.0)
    assert not short.matched and "stopped before epoch 2" in short.note
    assert replay.rel_diff(math.nan, math.nan) == 0.0 and replay.rel_diff(1.0, math.nan) == math.inf


def test_compare_arrays_exact_or_normwise():
    a = np.arange(6.0).reshape(2, 3)
    assert replay.compare_arrays("W1", a, a.copy(), 0.0).matched
    b = a.copy()
    b[0, 1] += 1e-9
    assert not replay.compare_arrays("W1", a, b, 0.0).matched
    assert replay.compare_arrays("W1", a, b, 1e-6).matched
    assert not replay.compare_arrays("W1", a, a[:1], 1.0).matched


# --- bplab replay, end to end (in-process) -------------------------------------------------------


def _main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    return exit_.value.code


@pytest.fixture
def logged_run(tmp_path, monkeypatch, capsys):
    """A short XOR `bplab train` run on an embedded store; yields its run id."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = REPO / "experiments" / "configs" / "xor.toml"
    args = ["train", str(config), "--set", "train.epochs=40", "--set", "train.gradcheck_every=20"]
    assert _main(args) == 0, capsys.readouterr()
    capsys.readouterr()
    client = MlflowClient()
    (run,) = client.search_runs([client.get_experiment_by_name("xor").experiment_id])
    return run.info.run_id


@pytest.mark.integration  # an embedded MLflow store and a tracked run: about 20 s on 2 busy cores
def test_replay_matches_exactly_then_a_planted_bug_does_not(logged_run, monkeypatch, capsys):
    run_id = logged_run
    assert _main(["replay", run_id]) == 0
    out = capsys.readouterr().out
    assert f"replay of run {run_id} matches" in out and "exact: same backend cpu" in out
    for name in ("train_loss", "val_loss", "grad_norm/W1", "grad_norm/b2", "W1", "b2"):
        assert name in out

    # ∂C/∂W^l doubled in the replay: the curves part from the first epoch's update on
    monkeypatch.setattr(replay_verb, "replay", functools.partial(replay.replay, grad=bp4_double))
    assert _main(["replay", run_id]) == 1
    captured = capsys.readouterr()
    assert "MISMATCH" in captured.out  # the table is printed before the exit
    assert captured.err.startswith(f"bplab: check failed: replay of run {run_id} differs")
    assert "train_loss from epoch" in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    client = MlflowClient()
    assert len(client.search_runs([client.get_experiment_by_name("xor").experiment_id])) == 1  # wrote nothing


def test_a_negative_tolerance_is_bad_input_before_any_store_is_read():
    with pytest.raises(BadInput, match=r"--rtol -1\.0: must be ≥ 0"):
        replay.replay("no-such-run", rtol=-1.0)
    assert _main(["replay", "no-such-run", "--rtol", "-1"]) == 2
