"""A real ``mlflow server`` on a fresh PostgreSQL database; the UI in a browser is in tests/bplab."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from bplab.app import main
from experiments.tracking.ui import stop_process_group, ui_env, wait_until_up
from tests.support.processes import CONFIGS, free_port

pytestmark = pytest.mark.integration


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


def test_bplab_train_over_http_into_postgres(
    mlflow_server_on_postgres, pg_server, tmp_path, monkeypatch, capsys
):
    url, dbname = mlflow_server_on_postgres
    work = tmp_path / "client"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    # `bplab train` in-process (the binary's wiring is tested in test_cli.py); the server is real.
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "train",
                str(CONFIGS / "xor.toml"),
                "--set",
                "train.epochs=4",
                "--set",
                "train.gradcheck_every=2",
            ]
        )
    out, err = capsys.readouterr()
    assert exit_.value.code == 0, err
    assert url in out  # the printed run URL is the server's

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
