"""``bplab dashboard``: serves on 127.0.0.1, names the objective, stops on SIGTERM, refuses a taken port."""

from __future__ import annotations

import signal
import socket

import optuna
import pytest

from experiments.errors import BadInput
from sweeps.dashboard import dashboard_server
from sweeps.study.journal import journal_storage
from sweeps.study.url import StorageURL
from tests.bplab.studies import finished_study
from tests.support.processes import BplabProcs, clean_env, free_port, http_status, wait_for


@pytest.mark.integration
def test_dashboard_serves_the_study_with_its_metric_and_stops_cleanly(tmp_path):
    journal = finished_study(tmp_path)
    port = free_port()
    procs = BplabProcs(tmp_path)
    proc = procs.start(["dashboard", "tiny", "--port", port], cwd=tmp_path, env=clean_env(), name="dashboard")
    try:
        url = f"http://127.0.0.1:{port}/dashboard"
        wait_for(lambda: http_status(url) == 200, timeout=60, what="the dashboard", proc=proc)
        assert http_status(f"http://127.0.0.1:{port}/api/studies") == 200
        study = optuna.load_study(study_name="tiny", storage=journal_storage(journal))
        assert study.metric_names == ["val_accuracy"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        log = procs.log_tail(proc)
        assert f"{url}/studies/0" in log and "dashboard stopped" in log and "Traceback" not in log
    finally:
        procs.stop_all()


def test_a_taken_port_is_one_line(tmp_path):
    url = StorageURL("journal", str(finished_study(tmp_path)))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BadInput, match=f"--port {port}: cannot serve on 127.0.0.1"):
            dashboard_server(url, port=port)
