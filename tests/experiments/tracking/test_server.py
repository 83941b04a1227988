"""A real ``mlflow server`` on a fresh PostgreSQL database; the UI in a browser is in tests/bplab."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from bplab.app import main
from tests.support.processes import CONFIGS, Procs, start_mlflow_server

pytestmark = pytest.mark.integration


@pytest.fixture
def mlflow_server_on_postgres(pg_server, databases, tmp_path):
    dbname = databases.create("mlflow")
    backend = pg_server.url(dbname)  # psycopg2 named: SQLAlchemy 2.1 would pick psycopg 3 for a bare URL
    procs = Procs(tmp_path)
    try:
        _server, url = start_mlflow_server(procs, backend, tmp_path)
        yield url, dbname
    finally:
        procs.stop_all()


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
