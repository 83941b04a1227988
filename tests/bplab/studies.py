"""A bplab sweep study written straight into a journal, without training: what `best` and `dashboard` read."""

from __future__ import annotations

from pathlib import Path

import optuna

from experiments.config import RunConfig
from experiments.names import ATTR_CONFIG, ATTR_RUN_ID, ATTR_SOURCE, ATTR_TRACKING
from sweeps.study.journal import journal_storage

SWEEP = {
    "n_trials": 2,
    "metric": "val_accuracy",
    "space": {"lr": [0.5, 5.0], "model.hidden": {"choices": [[3], [4, 2]]}},
}


def finished_study(folder: Path, *, name: str = "tiny", run_id: str | None = None) -> Path:
    """A study ``name`` in ``folder/optuna.journal`` with two complete trials; returns the journal."""
    journal = folder / "optuna.journal"
    base = RunConfig.from_dict(
        {"experiment": {"name": name}, "data": {"dataset": "xor"}, "sweep": SWEEP}, "t"
    )
    study = optuna.create_study(study_name=name, storage=journal_storage(journal), direction="maximize")
    study.set_user_attr(ATTR_CONFIG, base.to_dict())
    study.set_user_attr(ATTR_SOURCE, "tiny.toml")
    study.set_user_attr(ATTR_TRACKING, f"sqlite:///{folder / 'mlflow.db'}")
    lr = optuna.distributions.FloatDistribution(0.5, 5.0, log=True)
    hidden = optuna.distributions.CategoricalDistribution(["[3]", "[4, 2]"])
    for value, params in (
        (0.5, {"lr": 1.0, "model.hidden": "[3]"}),
        (0.75, {"lr": 2.5, "model.hidden": "[4, 2]"}),
    ):
        attrs = {ATTR_RUN_ID: run_id} if run_id else {}
        study.add_trial(
            optuna.trial.create_trial(
                params=params, distributions={"lr": lr, "model.hidden": hidden}, value=value, user_attrs=attrs
            )
        )
    return journal
