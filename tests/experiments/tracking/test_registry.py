"""A trial that kept only its weights gets its model when asked; a sweep's best model is registered
under a name with the ``champion`` alias."""

from __future__ import annotations

import jax
import mlflow
import numpy as np
import pytest

from backprop_core import init_params
from experiments import tracking
from experiments.errors import BadInput

CONFIG = '[model]\nactivation = "sigmoid"\ncost = "quadratic"\n\n[train]\nepochs = 2\n'


def _trial(experiment, parent, number, tmp_path, seed):
    params = init_params(jax.random.key(seed), (2, 3, 1))
    run_id = tracking.start_run(
        experiment, parent_run_id=parent, run_name=f"trial-{number}", tags={"optuna.trial": number}
    )
    tracking.save_weights(tmp_path / "params.npz", params, x_shift=np.zeros(2), x_scale=np.ones(2))
    tracking.log_artifact(run_id, tmp_path / "params.npz")
    tracking.log_text(run_id, CONFIG, "config.toml")
    tracking.log_metrics(run_id, {"val_loss": 0.1 * (number + 1)}, step=2)
    tracking.end_run(run_id)
    return run_id


def test_a_trial_gets_its_model_from_its_weights_once(experiment, tmp_path):
    run_id = _trial(experiment, None, 0, tmp_path, 0)
    assert tracking.logged_model_id(run_id) is None
    model_id = tracking.log_model_for(run_id)
    assert tracking.log_model_for(run_id) == model_id  # found again, not logged twice
    logged = tracking.client().get_logged_model(model_id)
    assert logged.source_run_id == run_id and [(m.key, m.step) for m in logged.metrics] == [("val_loss", 2)]
    assert mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(np.ones((1, 2))).shape == (1, 1)


def test_a_run_without_weights_has_no_model_to_make(experiment):
    run_id = tracking.start_run(experiment)
    with pytest.raises(BadInput, match=r"no params\.npz"):
        tracking.log_model_for(run_id)


def test_the_best_trial_is_registered_as_champion(experiment, tmp_path):
    parent = tracking.start_run(experiment, tags={"bplab.kind": "sweep"})
    trials = [_trial(experiment, parent, n, tmp_path, n) for n in range(3)]
    tracking.set_tags(parent, {"best.trial": 1})
    tracking.end_run(parent)
    name = f"{experiment}-model"
    first = tracking.register_best(parent, name)
    assert (first.run_id, first.version, first.alias) == (trials[1], "1", "champion")
    loaded = mlflow.pyfunc.load_model(first.uri)
    assert loaded.metadata.model_id == first.model_id
    again = tracking.register_best(trials[2], name)  # any run with weights; the alias moves
    version = tracking.client().get_model_version_by_alias(name, "champion")
    assert (again.version, str(version.version), version.run_id) == ("2", "2", trials[2])


def test_a_sweep_that_has_not_ended_has_no_best(experiment):
    parent = tracking.start_run(experiment, tags={"bplab.kind": "sweep"})
    with pytest.raises(BadInput, match="no best trial"):
        tracking.register_best(parent, f"{experiment}-model")
