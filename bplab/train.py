"""``bplab train``: train one config with a progress display, then say where the run is and how it ended."""

from __future__ import annotations

import os
import sys

from bplab.progress import EpochProgress
from experiments import tracking
from experiments.compile_cache import enable_compilation_cache
from experiments.config import load_config
from experiments.errors import RunFailed, TrackingUnavailable
from experiments.run import RunResult, train_run
from experiments.tracking.system_metrics import ENABLE_ENV


def command(config, overrides=(), *, system_metrics: bool = False) -> RunResult:
    """Loads ``config`` with ``overrides``, trains it, prints the final metrics and the run's URL.

    Args:
      config, overrides: the TOML file and ``section.key=value`` overrides.
      system_metrics: also log CPU, memory (and GPU) use as ``system/*`` metrics.

    Raises:
      BadInput: bad config or data (exit 2).
      RunFailed: the run ended FAILED (exit 1); its URL is printed on stderr first.
    """
    cfg = load_config(config, overrides)
    enable_compilation_cache()
    if system_metrics:  # MLflow's own switch; the run opened below honours it
        os.environ[ENABLE_ENV] = "true"
    try:
        with EpochProgress(cfg.train.epochs, cfg.experiment.name) as progress:
            result = train_run(cfg, run_name=tracking.run_name(cfg), on_metrics=progress)
    except RunFailed as e:
        if e.run_id and not isinstance(e, TrackingUnavailable):  # a dead server has no URL to ask
            print(f"run {e.run_id} FAILED: {tracking.run_url(e.run_id)}", file=sys.stderr)
        raise
    finals = "  ".join(f"{k}={v:.4g}" for k, v in result.final.items())
    print(f"finished: {finals}")
    print(f"run {result.run_id} in {tracking.tracking_uri()}: {tracking.run_url(result.run_id)}")
    return result
