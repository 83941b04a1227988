"""The compose stack, started natively from docker-compose.yml (there is no Docker engine here).

Every command and environment comes from the compose file, interpolated with a test ``.env``; only
what Docker would provide changes (see ``tests/service/compose.py``): service names resolve to
127.0.0.1, container ports become free loopback ports, volumes become test folders. The machine's
PostgreSQL plays the ``postgres`` service: the service's own init script creates fresh, uniquely named
databases on it (dropped at the end), and its health check must pass.

One stack per module (a secured ``mlflow server`` takes ~15 s to start): the tests below share it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from experiments.names import ATTR_FAILURE, ATTR_REASON
from tests.service import compose
from tests.service.conftest import (
    REPO,
    SUITE,
    Databases,
    Procs,
    bplab,
    clean_env,
    free_port,
    http_status,
    wait_for,
)
from tests.support.processes import LEAKY_PREFIXES
from tests.sweeps.inprocess import bplab_main

pytestmark = pytest.mark.integration

TINY_SWEEP = """
[experiment]
name = "stack-sweep"
[data]
dataset = "xor"
[model]
hidden = [3]
[train]
lr = 5.0
batch_size = 4
epochs = 2
gradcheck_every = 0
[sweep]
n_trials = {n_trials}
[sweep.space]
lr = [0.5, 10.0]
n_layers = [1, 1]
width = [2, 3]
"""
N_TRIALS = 2  # one per worker: the scale-out shares one budget


@dataclass
class Stack:
    env: dict[str, str]  # the test's .env
    ports: dict[str, int]
    folder: Path
    url: str
    auth: tuple[str, str]
    artifacts: Path
    procs: Procs
    jax_cache: Path

    def service_env(self, name: str) -> dict[str, str]:
        """The process environment of a compose service, native."""
        svc = compose.to_native(compose.service(name, self.env), ports=self.ports)
        return clean_env(self.jax_cache, **svc.get("environment", {}))

    def command(self, name: str) -> list[str]:
        return compose.to_native(compose.service(name, self.env), ports=self.ports)["command"]

    def client(self, monkeypatch) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", self.auth[0])
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", self.auth[1])
        return MlflowClient(tracking_uri=self.url)


def dot_env(dbs: Databases) -> dict[str, str]:
    """A user's .env for this machine: .env.example, secrets filled in, fresh database names."""
    env = compose.read_env_file()
    env.update(
        POSTGRES_USER="postgres",  # the local server's superuser (trust auth ignores the password)
        POSTGRES_PASSWORD=secrets.token_hex(8),
        POSTGRES_DB="postgres",
        MLFLOW_DB=dbs.name("mlflow"),
        MLFLOW_AUTH_DB=dbs.name("auth"),
        OPTUNA_DB=dbs.name("optuna"),
        MLFLOW_ADMIN_PASSWORD=secrets.token_hex(12),
        MLFLOW_FLASK_SERVER_SECRET_KEY=secrets.token_hex(16),
        MLFLOW_WORKERS="1",
        BPLAB_STUDY="stack-study",
        BPLAB_REGRESS_SUITE=str(SUITE),
    )
    return env


def native_health(svc: dict, port_in_container: int, port: int) -> list[str]:
    return [
        a.replace(f"127.0.0.1:{port_in_container}", f"127.0.0.1:{port}")
        for a in compose.healthcheck_argv(svc)
    ]


def wait_healthy(url: str, health: list[str], env: dict[str, str], *, proc, what: str) -> None:
    """Polls ``url`` from this process until it answers 200, then runs the compose health check once.

    Polling with the health check itself would start a Python process every 0.2 s.
    """
    wait_for(lambda: http_status(url) == 200, timeout=180, what=what, proc=proc)
    r = subprocess.run(health, env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory, jax_cache):
    folder = tmp_path_factory.mktemp("stack")
    dbs, procs = Databases(), Procs(folder)
    try:
        env = dot_env(dbs)
        # postgres: its init script and health check, run against the local server
        pg = compose.service("postgres", env)
        pg_env = clean_env(jax_cache, **pg["environment"], PGHOST="127.0.0.1", PGPORT="5432")
        init = next(v for v in pg["volumes"] if "docker-entrypoint-initdb.d" in v).split(":")[0]
        r = subprocess.run(["sh", str(REPO / init)], env=pg_env, capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        assert subprocess.run(compose.healthcheck_argv(pg), env=pg_env, check=False).returncode == 0

        ports = {"mlflow": free_port(), "dashboard": free_port()}
        ml = compose.to_native(compose.service("mlflow", env), ports=ports)
        argv = [str(REPO / ml["entrypoint"][0].removeprefix("/app/")), *ml["command"]]
        argv = compose.set_option(argv, "--host", "127.0.0.1")
        argv = compose.set_option(argv, "--port", str(ports["mlflow"]))
        artifacts = folder / "mlartifacts"  # the named volume
        argv = compose.set_option(argv, "--artifacts-destination", str(artifacts))
        server_env = clean_env(jax_cache, **ml["environment"], MLFLOW_AUTH_CONFIG_DIR=str(folder / "auth"))
        server = procs.start(argv, env=server_env, cwd=folder, name="mlflow")
        url = f"http://127.0.0.1:{ports['mlflow']}"
        health = native_health(ml, 5000, ports["mlflow"])
        wait_healthy(
            f"{url}/health", health, server_env, proc=server, what="the mlflow service's health check"
        )
        auth = (env["MLFLOW_ADMIN_USERNAME"], env["MLFLOW_ADMIN_PASSWORD"])
        yield Stack(env, ports, folder, url, auth, artifacts, procs, jax_cache)
    finally:
        procs.stop_all()
        dbs.drop_all()


SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_mlflow_refuses_requests_without_valid_credentials(stack):
    assert http_status(stack.url + "/health") == 200  # the health check needs no login
    assert http_status(stack.url + SEARCH) == 401
    assert http_status(stack.url + SEARCH, auth=(stack.auth[0], "wrong-password-123")) == 401
    assert http_status(stack.url + SEARCH, auth=stack.auth) == 200
    # --allowed-hosts: a Host header the server does not serve is refused even with credentials
    assert http_status(stack.url + SEARCH, auth=stack.auth, host="evil.example") == 403


def test_authenticated_train_lands_and_unauthenticated_does_not(stack, monkeypatch, tmp_path, capsys):
    env = stack.service_env("worker")
    config = REPO / "experiments" / "configs" / "xor.toml"
    args = ["train", str(config), "--set", "train.epochs=4", "--set", "train.gradcheck_every=2"]
    anonymous = {
        k: v for k, v in env.items() if k not in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
    }
    refused = (
        f"bplab: error: MLflow at {stack.url} refused the request (HTTP 401): set MLFLOW_TRACKING_USERNAME "
        "and MLFLOW_TRACKING_PASSWORD"
    )
    r = bplab(args, env=anonymous, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == refused
    # the same refusal for `bplab regress`, in-process in the same environment (no process start)
    with monkeypatch.context() as m:
        for k in [k for k in os.environ if k.startswith(LEAKY_PREFIXES)]:
            m.delenv(k)
        for k, v in anonymous.items():
            if k.startswith(LEAKY_PREFIXES):
                m.setenv(k, v)
        m.chdir(tmp_path)
        rc, _out, err = bplab_main(["regress"], capsys)
    assert rc == 2, err
    assert err.strip() == refused
    client = stack.client(monkeypatch)
    assert client.get_experiment_by_name("xor") is None  # refused before anything was written

    r = bplab(args, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    exp = client.get_experiment_by_name("xor")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FINISHED"
    assert len(client.get_metric_history(run.info.run_id, "train_loss")) == 4
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.toml", "params.npz"} <= names
    # proxied artifacts: the server wrote them into its volume, the client never touched the disk
    assert list(stack.artifacts.rglob("config.toml"))
    assert not (tmp_path / "mlartifacts").exists() and not (tmp_path / "mlflow.db").exists()


def test_workers_sweep_and_scheduled_regression_through_the_stack(stack, monkeypatch, tmp_path):
    study = stack.env["BPLAB_STUDY"]
    worker_env = stack.service_env("worker")
    cfg = tmp_path / "stack-sweep.toml"
    cfg.write_text(TINY_SWEEP.format(n_trials=N_TRIALS))
    r = bplab(["sweep", str(cfg), "--study", study, "--workers", "0"], env=worker_env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    # two workers, the compose command as is (the scale-out of `--scale worker=2`)
    worker_cmd = stack.command("worker")
    workers = [stack.procs.start(worker_cmd, env=worker_env, cwd=tmp_path, name="worker") for _ in range(2)]
    # the dashboard on the same storage
    dash = compose.to_native(compose.service("dashboard", stack.env), ports=stack.ports)
    port = stack.ports["dashboard"]
    dash_cmd = [a.replace("/app/", f"{REPO}/") for a in dash["command"]]
    dash_cmd = compose.set_option(compose.set_option(dash_cmd, "--host", "127.0.0.1"), "--port", str(port))
    dash_env = clean_env(stack.jax_cache, **dash["environment"])
    dashboard = stack.procs.start(dash_cmd, env=dash_env, cwd=tmp_path, name="dashboard")
    # its storage URL holds the database password: it comes from the environment, not the argv
    assert stack.env["POSTGRES_PASSWORD"] not in Path(f"/proc/{dashboard.pid}/cmdline").read_text()
    for w in workers:
        w.wait(timeout=300)
        assert w.returncode == 0, Procs.log_tail(w)

    # the scheduler's compose command, plus a trigger 2 s from now instead of waiting for 3 a.m.
    sched_env = stack.service_env("scheduler")
    scheduler = stack.procs.start(
        [*stack.command("scheduler"), "--once-after", "2"], env=sched_env, cwd=tmp_path, name="scheduler"
    )
    health = native_health(dash, 8080, port)
    api = f"http://127.0.0.1:{port}/api/studies"
    wait_healthy(api, health, dash_env, proc=dashboard, what="the dashboard's health check")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=10) as resp:
        assert study in [s["study_name"] for s in json.load(resp)["study_summaries"]]

    log = Path(scheduler.log)

    def suite_done():
        return re.search(r"regression suite run 1 (passed|found a regression|failed)", log.read_text())

    wait_for(suite_done, timeout=600, what="the scheduled regression run", proc=scheduler)
    assert "regression suite run 1 passed" in log.read_text(), Procs.log_tail(scheduler)
    os.kill(scheduler.pid, signal.SIGTERM)
    assert scheduler.wait(timeout=60) == 0
    assert "stopped after 1 suite run(s)" in log.read_text()

    # Optuna's storage: the whole budget, finished, shared by both workers
    storage = worker_env["BPLAB_OPTUNA_STORAGE"]
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    # short enough that pytest does not cut it: what failed, and why
    failed = [
        (t.number, t.state.name, t.user_attrs.get(ATTR_FAILURE), t.user_attrs.get(ATTR_REASON))
        for t in trials
        if t.state.name != "COMPLETE"
    ]
    assert len(trials) == N_TRIALS and all(t.state.is_finished() for t in trials), failed
    assert len({t.user_attrs.get("bplab.pid") for t in trials}) >= 1

    # MLflow, through the authenticated server
    client = stack.client(monkeypatch)
    sweep_exp = client.get_experiment_by_name("stack-sweep")
    runs = client.search_runs([sweep_exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("bplab.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("bplab.kind") == "trial"]
    assert len(parents) == 1 and len(children) == N_TRIALS
    assert {r.info.status for r in children} <= {"FINISHED", "KILLED"}

    reg = client.get_experiment_by_name("regression")
    runs = client.search_runs([reg.experiment_id])
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.data.tags["bplab.kind"] == "regression"
    assert parent.data.tags["regression.passed"] == "true" and parent.info.status == "FINISHED"
    kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert sorted(k.data.tags["regression.case"] for k in kids) == sorted(
        ["xor", "digits", "gradcheck-float64", "throughput"]
    )
    assert all(k.data.tags["regression.case_passed"] == "true" for k in kids)
    names = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"report.md", "report.html", "report.json"} <= names
    report = Path(client.download_artifacts(parent.info.run_id, "report.md", str(tmp_path))).read_text()
    assert "| case | metric | baseline | now | delta | limit | result |" in report
