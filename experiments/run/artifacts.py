"""A finished run's artifacts: config, weights and gradient-check table; plots and model when full.

The dataset inputs, config, weights and check table are queued to the run's background writer and
uploaded while the caller goes on (the run ends only once they are stored). ``light`` (a sweep's
trials) skips the PNG plots and the pyfunc model, which cost more than training a small net
(~0.8 s a run here); every metric is logged either way.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

from experiments import plots, tracking
from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.run.loop import Trained
from experiments.tracking.artifacts import log_files_later, table_json
from experiments.tracking.writer import submit

TABLE = "gradcheck_table.json"


def log_artifacts(run_id: str, cfg: RunConfig, ds: Dataset, trained: Trained, *, full: bool) -> None:
    """Config, weights and ``gradcheck.json`` (also as a table); with ``full``, the plots and the model."""
    # lineage: the three splits as dataset inputs, queued like the files (retried through an outage)
    submit(run_id, functools.partial(tracking.log_dataset, run_id, ds, cfg.data))
    toml = cfg.to_toml()
    table = trained.gradcheck.table(stage=f"epoch {cfg.train.epochs}")

    def write(folder: Path) -> None:
        (folder / "config.toml").write_text(toml, encoding="utf-8")
        tracking.save_weights(folder / "params.npz", trained.params, x_shift=ds.x_shift, x_scale=ds.x_scale)
        (folder / "gradcheck.json").write_text(json.dumps(table, indent=2), encoding="utf-8")
        (folder / TABLE).write_text(json.dumps(table_json(table)), encoding="utf-8")

    log_files_later(run_id, write, tables=[TABLE])
    if not full:
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plots_dir = tmp / "plots"
        plots_dir.mkdir()
        plots.loss_curves(trained.history, plots_dir / "loss.png", title=cfg.experiment.name)
        plots.grad_norms(trained.history, plots_dir / "grad_norms.png", title=cfg.experiment.name)
        tracking.log_artifacts(run_id, plots_dir, "plots")
        weights = tracking.save_weights(
            tmp / "params.npz", trained.params, x_shift=ds.x_shift, x_scale=ds.x_scale
        )
        tracking.log_pyfunc_model(
            run_id,
            weights=weights,
            config_toml=toml,
            step=cfg.train.epochs,
            input_example=ds.x_test[:5] * ds.x_scale + ds.x_shift,
        )
