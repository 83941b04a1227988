"""A finished run's artifacts: config, weights and gradient-check table; plots and model when full.

``light`` (a sweep's trials) skips the PNG plots and the pyfunc model, which cost more than training
a small net (~0.8 s a run here); every metric is logged either way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from experiments import plots, tracking
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.run.loop import Trained


def log_artifacts(run_id: str, cfg: RunConfig, ds: Dataset, trained: Trained, *, full: bool) -> None:
    """Config, weights and ``gradcheck.json`` (also as a table); with ``full``, the plots and the model."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        toml = cfg.to_toml()
        tracking.log_text(run_id, toml, "config.toml")
        weights = tracking.save_weights(
            tmp / "params.npz", trained.params, x_shift=ds.x_shift, x_scale=ds.x_scale
        )
        tracking.log_artifact(run_id, weights)
        table = trained.gradcheck.table(stage=f"epoch {cfg.train.epochs}")
        tracking.log_dict(run_id, table, "gradcheck.json")
        tracking.log_table(run_id, table, "gradcheck_table.json")
        if not full:
            return
        plots_dir = tmp / "plots"
        plots_dir.mkdir()
        plots.loss_curves(trained.history, plots_dir / "loss.png", title=cfg.experiment.name)
        plots.grad_norms(trained.history, plots_dir / "grad_norms.png", title=cfg.experiment.name)
        tracking.log_artifacts(run_id, plots_dir, "plots")
        tracking.log_pyfunc_model(
            run_id, weights=weights, config_toml=toml, input_example=ds.x_test[:5] * ds.x_scale + ds.x_shift
        )
