"""Every printed link opens the training views of the UI where it is served (not MLflow 3's GenAI pages)."""

from __future__ import annotations

from experiments import tracking

QUERY = "?workflowType=machine_learning"


def test_run_url_opens_the_run_page_of_the_local_ui(experiment, monkeypatch):
    monkeypatch.delenv("BPLAB_UI_URL", raising=False)
    run_id = tracking.start_run(experiment)
    exp_id = tracking.experiment_id(experiment)
    assert tracking.run_url(run_id) == f"http://127.0.0.1:5000/#/experiments/{exp_id}/runs/{run_id}{QUERY}"


def test_bplab_ui_url_says_where_the_ui_serves(experiment, monkeypatch):
    monkeypatch.setenv("BPLAB_UI_URL", "http://127.0.0.1:5123/")
    run_id = tracking.start_run(experiment)
    assert tracking.run_url(run_id).startswith(
        f"http://127.0.0.1:5123/#/experiments/{tracking.experiment_id(experiment)}/"
    )


def test_a_tracking_server_serves_the_links(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:8080/")
    monkeypatch.setenv("BPLAB_UI_URL", "http://127.0.0.1:5123")  # the server's own UI wins
    assert tracking.run_link("3", "abc") == f"http://mlflow.example:8080/#/experiments/3/runs/abc{QUERY}"


def test_the_port_of_bplab_ui_wins_over_the_variable(monkeypatch):
    monkeypatch.setenv("BPLAB_UI_URL", "http://127.0.0.1:5123")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.ui_base(port=6001) == "http://127.0.0.1:6001"


def test_runs_table_experiments_list_and_model_page():
    base = "http://h:1"
    assert tracking.experiment_link("7", base=base) == f"http://h:1/#/experiments/7/runs{QUERY}"
    assert tracking.experiment_link(None, base=base) == f"http://h:1/#/experiments{QUERY}"
    assert tracking.model_link("7", "m-1", base=base) == f"http://h:1/#/experiments/7/models/m-1{QUERY}"
