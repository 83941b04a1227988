"""CPU, memory, disk, network (and GPU where NVIDIA's library is present) as ``system/*`` metrics.

MLflow's own monitor does the sampling; ``mlflow.start_run`` would start it, runs opened by id
start it here. It samples every second (``MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL`` overrides),
since a small net trains in seconds, and a run that ends before the first sample is published
still gets one, so every monitored run shows its system metrics.
"""

from __future__ import annotations

import logging
import os
import threading

from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

from experiments.tracking.store import tracking_uri

ENABLE_ENV = "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"  # MLflow's switch, honoured for our runs too
SAMPLING_INTERVAL_S = 1.0

_monitors: dict[str, tuple[SystemMetricsMonitor, int]] = {}  # run id -> (monitor, its first step)
_lock = threading.Lock()


def enabled_by_env() -> bool:
    """Whether ``MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING`` asks for system metrics."""
    return os.environ.get(ENABLE_ENV, "").strip().lower() in ("1", "true", "yes")


def start(run_id: str, *, resume: bool = False) -> None:
    """Starts sampling for ``run_id`` (once; a second call does nothing); ``resume`` continues the
    steps of a resumed run's earlier samples."""
    with _lock:
        if run_id in _monitors:
            return
        # The monitor logs "Started monitoring system metrics." at INFO; the CLI's output stays quiet.
        logging.getLogger("mlflow.system_metrics").setLevel(logging.WARNING)
        monitor = SystemMetricsMonitor(
            run_id, sampling_interval=SAMPLING_INTERVAL_S, resume_logging=resume, tracking_uri=tracking_uri()
        )
        monitor.start()
        _monitors[run_id] = (monitor, monitor._logging_step)


def stop(run_id: str) -> None:
    """Stops sampling for ``run_id`` (if it was started) and writes what is left, before the run ends."""
    with _lock:
        monitor, first_step = _monitors.pop(run_id, (None, 0))
    if monitor is None:
        return
    monitor.finish()
    if monitor._logging_step == first_step:  # ended before the first sample was published
        monitor.collect_metrics()
        monitor.publish_metrics(monitor.aggregate_metrics())
        monitor.mlflow_logger.flush()
