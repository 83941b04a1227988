"""The pyfunc model: weights in a plain ``.npz``, predictions equal to the core's, and a logged model
that loads with nothing of the project but ``backprop_core`` (what a serving environment has)."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import mlflow
import numpy as np
import pytest

from backprop_core import init_params, predict
from experiments import tracking

SIZES = (2, 3, 1)
CONFIG = '[model]\nactivation = "sigmoid"\ncost = "quadratic"\n'
# Imports of the project's other packages fail, as where only the logged model's code exists.
BLOCK_PROJECT = """
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("experiments", "sweeps", "bplab"):
            raise ImportError(f"{name} is not available where the model is served")
sys.meta_path.insert(0, Block())
"""


@pytest.fixture
def weights(tmp_path):
    params = init_params(jax.random.key(0), SIZES)
    path = tracking.save_weights(
        tmp_path / "params.npz", params, x_shift=np.zeros(2), x_scale=np.full(2, 2.0)
    )
    return path, params


def test_weights_round_trip_without_pickle(weights):
    path, params = weights
    loaded, x_shift, x_scale = tracking.load_weights(path)
    assert len(loaded) == len(params)
    for (W, b), (W0, b0) in zip(loaded, params, strict=True):
        np.testing.assert_array_equal(W, np.asarray(W0))
        np.testing.assert_array_equal(b, np.asarray(b0))
    np.testing.assert_array_equal(x_scale, [2.0, 2.0])
    assert x_shift.dtype != object
    with np.load(path, allow_pickle=False) as f:  # a plain archive: names and arrays only
        assert sorted(f.files) == ["W1", "W2", "b1", "b2", "x_scale", "x_shift"]


def test_predictions_scale_raw_inputs_then_run_the_core(weights):
    path, params = weights
    X = np.array([[2.0, 4.0], [0.0, -2.0]])
    expected = np.asarray(predict(params, jax.numpy.asarray(X / 2.0, dtype=jax.numpy.float32)))
    np.testing.assert_allclose(tracking.predict_outputs(path, X), expected, rtol=1e-6)


@pytest.fixture
def logged(experiment, weights):
    path, _ = weights
    run_id = tracking.start_run(experiment)
    uri = tracking.log_pyfunc_model(run_id, weights=path, config_toml=CONFIG, input_example=np.ones((3, 2)))
    tracking.end_run(run_id)
    return uri, path


def test_the_logged_model_predicts_like_its_weights(logged):
    uri, path = logged
    assert uri.startswith("runs:/") and uri.endswith("/model")
    model = mlflow.pyfunc.load_model(uri)
    X = np.array([[0.5, 1.0]])
    np.testing.assert_allclose(model.predict(X), tracking.predict_outputs(path, X), rtol=1e-6)
    assert list(model.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["shape"]) == [-1, 2]


@pytest.mark.integration
def test_a_fresh_process_without_the_project_loads_it(logged, store, tmp_path):
    uri, path = logged
    local = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model"))
    load = f"mlflow.pyfunc.load_model({local!r}).predict(np.zeros((2, 2))).tolist()"
    code = f"{BLOCK_PROJECT}\nimport json, mlflow, numpy as np\nprint(json.dumps({load}))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = tracking.predict_outputs(path, np.zeros((2, 2)))
    np.testing.assert_allclose(json.loads(proc.stdout.strip().splitlines()[-1]), expected, rtol=1e-6)
