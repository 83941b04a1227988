"""Real services: an ``mlflow server`` on a fresh PostgreSQL database, and the MLflow UI in a browser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from experiments.tracking.ui import stop_process_group, ui_env, wait_until_up
from tests.support.processes import BPLAB, CONFIGS, clean_env, free_port, run_bplab

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _start_mlflow_server(backend_uri: str, artifacts: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", backend_uri,
        "--artifacts-destination", str(artifacts),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=ui_env(), start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(url, proc, timeout_s=180):
        stop_process_group(proc)
        pytest.fail(f"mlflow server did not start:\n{log.read_text()[-3000:]}")
    return proc, url


@pytest.fixture
def mlflow_server_on_postgres(pg_server, databases, tmp_path):
    dbname = databases.create("mlflow")
    backend = pg_server.url(dbname)  # psycopg2 named: SQLAlchemy 2.1 would pick psycopg 3 for a bare URL
    proc, url = _start_mlflow_server(backend, tmp_path / "server-artifacts", tmp_path / "server.log")
    try:
        yield url, dbname
    finally:
        stop_process_group(proc)


def test_bplab_train_over_http_into_postgres(mlflow_server_on_postgres, pg_server, tmp_path):
    url, dbname = mlflow_server_on_postgres
    work = tmp_path / "client"
    work.mkdir()
    proc = run_bplab(
        ["train", CONFIGS / "xor.toml", "--set", "train.epochs=4", "--set", "train.gradcheck_every=2"],
        work,
        MLFLOW_TRACKING_URI=url,
    )
    assert proc.returncode == 0, proc.stderr
    assert url in proc.stdout  # the printed run URL is the server's

    client = MlflowClient(url)
    (run,) = client.search_runs([client.get_experiment_by_name("xor").experiment_id])
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train_loss")] == [1, 2, 3, 4]
    assert "params.npz" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert not (work / "mlflow.db").exists() and not (work / "mlartifacts").exists()  # all went to the server

    conn = pg_server.connect(dbname)  # and the server really keeps it in PostgreSQL
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (run.info.run_id,))
            assert cur.fetchone() == ("FINISHED",)
            cur.execute(
                "SELECT count(*) FROM metrics WHERE run_uuid = %s AND key = 'val_loss'", (run.info.run_id,)
            )
            assert cur.fetchone() == (4,)
    finally:
        conn.close()


@pytest.fixture
def ui_over_a_finished_run(tmp_path):
    """`bplab train` (default sqlite store in tmp_path), then `bplab ui` serving that store."""
    # Skipped before the training and the server, which it would otherwise waste.
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    proc = run_bplab(["train", CONFIGS / "xor.toml", "--set", "train.epochs=3"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(["1"])[0]
    port = free_port()
    with (tmp_path / "ui.log").open("w") as log:
        ui = subprocess.Popen(
            [BPLAB, "ui", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
    try:
        line = ui.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, (tmp_path / "ui.log").read_text()[-2000:]
        yield f"http://127.0.0.1:{port}", run
    finally:
        stop_process_group(ui)


def test_browser_finds_the_run_and_a_metric(ui_over_a_finished_run):
    sync_api = pytest.importorskip("playwright.sync_api")
    url, run = ui_over_a_finished_run
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/#/experiments/{run.info.experiment_id}/runs", timeout=60_000)
            link = page.get_by_text(run.info.run_name, exact=True).first
            link.wait_for(timeout=60_000)  # the runs table lists the run
            link.click()
            page.get_by_text("train_loss", exact=True).first.wait_for(timeout=60_000)  # its metrics table
            body = page.inner_text("body")
            assert run.info.run_id in body
            assert f"{run.data.metrics['train_loss']}"[:6] in body
        finally:
            browser.close()
