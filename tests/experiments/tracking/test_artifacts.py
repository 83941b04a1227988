"""Artifacts written from memory and from files, read back; a missing one reads as ``None``."""

from __future__ import annotations

import json

from experiments import tracking
from experiments.tracking import writer
from experiments.tracking.artifacts import log_files_later, table_json


def test_text_dict_and_files_round_trip(experiment, tmp_path):
    run_id = tracking.start_run(experiment)
    tracking.log_text(run_id, "[train]\nlr = 0.5\n", "config.toml")
    tracking.log_dict(run_id, {"max_rel_err": 1e-12}, "gradcheck.json")
    (tmp_path / "one.txt").write_text("1")
    tracking.log_artifact(run_id, tmp_path / "one.txt", "files")
    folder = tmp_path / "plots"
    folder.mkdir()
    (folder / "loss.png").write_bytes(b"png")
    tracking.log_artifacts(run_id, folder, "plots")
    out = tmp_path / "out"
    out.mkdir()
    assert tracking.download_artifact(run_id, "config.toml", out).read_text() == "[train]\nlr = 0.5\n"
    assert json.loads(tracking.download_artifact(run_id, "gradcheck.json", out).read_text()) == {
        "max_rel_err": 1e-12
    }
    assert tracking.download_artifact(run_id, "files/one.txt", out).read_text() == "1"
    assert tracking.download_artifact(run_id, "plots/loss.png", out).read_bytes() == b"png"
    assert tracking.download_artifact(run_id, "absent.json", out) is None


def test_a_table_has_every_column_of_every_row(experiment, tmp_path):
    run_id = tracking.start_run(experiment)
    tracking.log_table(run_id, [{"tensor": "W1", "rel_err": 1e-9}, {"tensor": "b1", "ok": True}], "t.json")
    table = json.loads(tracking.download_artifact(run_id, "t.json", tmp_path).read_text())
    assert table["columns"] == ["tensor", "rel_err", "ok"]
    assert table["data"] == [["W1", 1e-9, None], ["b1", None, True]]


def test_queued_files_go_up_in_one_call_before_the_run_ends(experiment, tmp_path):
    rows = [{"tensor": "W1", "rel_err": 1e-9, "ok": True}, {"tensor": "b1", "rel_err": float("nan")}]
    run_id = tracking.start_run(experiment)
    tracking.log_table(run_id, rows, "by_mlflow.json")  # MLflow's own table, to compare the format

    def write(folder):
        (folder / "config.toml").write_text("[train]\n")
        (folder / "t.json").write_text(json.dumps(table_json(rows)))

    log_files_later(run_id, write, tables=["t.json"])
    writer.end_run(run_id, "FINISHED", wait=False)
    writer.drain()
    run = tracking.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert tracking.download_artifact(run_id, "config.toml", tmp_path).read_text() == "[train]\n"
    ours = json.loads(tracking.download_artifact(run_id, "t.json", tmp_path).read_text())
    theirs = json.loads(tracking.download_artifact(run_id, "by_mlflow.json", tmp_path).read_text())
    assert ours == theirs
    assert json.loads(run.data.tags["mlflow.loggedArtifacts"]) == [{"path": "t.json", "type": "table"}]
