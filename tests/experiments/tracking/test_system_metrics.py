"""System metrics of runs opened by id: on request, or by MLflow's variable; even a short run gets them."""

from __future__ import annotations

from experiments import tracking


def _system_metrics(run_id: str) -> set[str]:
    return {k for k in tracking.get_run(run_id).data.metrics if k.startswith("system/")}


def test_a_monitored_run_logs_cpu_and_memory(experiment):
    run_id = tracking.start_run(experiment, log_system_metrics=True)
    tracking.end_run(run_id)
    expected = {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"}
    assert expected <= _system_metrics(run_id)


def test_mlflow_variable_switches_it_on_and_off_is_the_default(experiment, monkeypatch):
    monkeypatch.delenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", raising=False)
    quiet = tracking.start_run(experiment)
    tracking.end_run(quiet)
    assert _system_metrics(quiet) == set()
    monkeypatch.setenv("MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING", "true")
    loud = tracking.start_run(experiment)
    tracking.end_run(loud, "FAILED")
    assert "system/cpu_utilization_percentage" in _system_metrics(loud)


def test_a_resumed_run_goes_on_from_its_last_sample(experiment):
    run_id = tracking.start_run(experiment, log_system_metrics=True)
    tracking.end_run(run_id)
    tracking.resume_run(run_id, log_system_metrics=True)
    tracking.end_run(run_id)
    steps = [step for step, _ in tracking.metric_history(run_id, "system/cpu_utilization_percentage")]
    assert steps == sorted(set(steps)) and len(steps) >= 2
