"""The compose dashboard's launcher: the storage URL (and its password) comes from the environment,
so it never shows in the process's arguments, which every user of the host can read."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import optuna

from tests.service.conftest import REPO
from tests.support.processes import Procs, clean_env, free_port, http_status, wait_for

LAUNCHER = REPO / "docker" / "optuna-dashboard.py"


def test_the_dashboard_reads_its_storage_from_the_environment(tmp_path):
    storage = f"sqlite:///{tmp_path / 'secret-k3y.db'}"
    optuna.create_study(storage=storage, study_name="shown")
    port = free_port()
    procs = Procs(tmp_path)
    try:
        dash = procs.start(
            [sys.executable, str(LAUNCHER), "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(BPLAB_OPTUNA_STORAGE=storage),
            name="dashboard",
        )
        url = f"http://127.0.0.1:{port}/api/studies"
        wait_for(lambda: http_status(url) == 200, timeout=120, what="the dashboard", proc=dash)
        with urllib.request.urlopen(url, timeout=10) as r:
            assert [s["study_name"] for s in json.load(r)["study_summaries"]] == ["shown"]
        assert "secret-k3y" not in Path(f"/proc/{dash.pid}/cmdline").read_text()
    finally:
        procs.stop_all()


def test_the_dashboard_refuses_to_start_without_a_storage(tmp_path):
    r = subprocess.run(
        [sys.executable, str(LAUNCHER)],
        env=clean_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert r.returncode == 1
    assert r.stderr.strip() == (
        "optuna-dashboard: BPLAB_OPTUNA_STORAGE is not set; refusing to start (copy .env.example to .env)"
    )
