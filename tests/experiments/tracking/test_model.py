"""The pyfunc model: weights in a plain ``.npz``, predictions equal to the core's, an MLflow 3 logged
model of its run that takes float32, float64, integer arrays and DataFrames, and loads with nothing
of the project but ``backprop_core`` (what a serving environment has)."""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import mlflow
import numpy as np
import pandas as pd
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
    assert [c["type"] for c in model.metadata.signature.inputs.to_dict()] == ["any", "any"]


def test_it_is_a_logged_model_of_its_run_with_the_runs_metrics(experiment, weights):
    path, _ = weights
    run_id = tracking.start_run(experiment)
    tracking.log_params(run_id, {"train.lr": 0.5})
    tracking.log_metrics(run_id, {"val_loss": 0.25}, step=3)
    tracking.log_pyfunc_model(run_id, weights=path, config_toml=CONFIG, step=3)
    found = mlflow.search_logged_models(experiment_ids=[tracking.experiment_of(run_id)], output_format="list")
    assert [(m.name, m.source_run_id) for m in found] == [("model", run_id)]
    assert found[0].params["train.lr"] == "0.5"
    assert [(m.key, m.value, m.step) for m in found[0].metrics] == [("val_loss", 0.25, 3)]
    assert tracking.logged_model_id(run_id) == found[0].model_id
    outputs = tracking.get_run(run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [found[0].model_id]


# What users pass: every kind is converted to float64 columns of the input width before predict.
INPUT_KINDS = {
    "float64": "np.array([[0.5, 1.0], [2.0, -1.0]])",
    "float32": "np.array([[0.5, 1.0], [2.0, -1.0]], dtype=np.float32)",
    "int64": "np.array([[1, 2], [0, -1]])",
    "int32": "np.array([[1, 2], [0, -1]], dtype=np.int32)",
    "dataframe": "pd.DataFrame({'a': [0.5, 2.0], 'b': [1, -1]})",
}


@pytest.mark.parametrize("kind", INPUT_KINDS)
def test_every_input_kind_predicts(logged, kind):
    uri, path = logged
    X = eval(INPUT_KINDS[kind], {"np": np, "pd": pd})
    expected = tracking.predict_outputs(path, np.asarray(X, dtype=np.float64))
    np.testing.assert_allclose(mlflow.pyfunc.load_model(uri).predict(X), expected, rtol=1e-6)


def test_too_few_columns_are_refused(logged):
    uri, _ = logged
    with pytest.raises(mlflow.exceptions.MlflowException, match="missing inputs"):
        mlflow.pyfunc.load_model(uri).predict(np.ones((2, 1)))


@pytest.mark.integration
def test_a_fresh_process_without_the_project_loads_it(logged, store, tmp_path):
    uri, path = logged
    local = mlflow.artifacts.download_artifacts(uri, dst_path=str(tmp_path / "model"))
    kinds = "{" + ", ".join(f"{k!r}: {v}" for k, v in INPUT_KINDS.items()) + "}"
    load = f"{{k: m.predict(x).tolist() for k, x in {kinds}.items()}}"
    code = (
        f"{BLOCK_PROJECT}\nimport json, mlflow, numpy as np, pandas as pd\n"
        f"m = mlflow.pyfunc.load_model({local!r})\nprint(json.dumps({load}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert sorted(got) == sorted(INPUT_KINDS)
    for kind, text in INPUT_KINDS.items():
        X = np.asarray(eval(text, {"np": np, "pd": pd}), dtype=np.float64)
        expected = tracking.predict_outputs(path, X)
        np.testing.assert_allclose(got[kind], expected, rtol=1e-6, err_msg=kind)
