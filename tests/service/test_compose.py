"""The compose file, the image and the MLflow entrypoint, checked without a Docker engine.

The file is parsed and interpolated as Compose does; each service's command, environment, health
check, ports and dependencies are checked. The entrypoint runs for real under ``sh``.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tomllib

import pytest

from sweeps.cron import cron_trigger
from tests.service import compose
from tests.service.conftest import REPO

SERVICES = {"postgres", "mlflow", "dashboard", "worker", "worker-gpu", "scheduler"}
SECRETS = ("POSTGRES_PASSWORD", "MLFLOW_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")


@pytest.fixture
def env() -> dict[str, str]:
    """.env.example with its secrets filled in, as a user's .env would be."""
    e = compose.read_env_file()
    e.update(POSTGRES_PASSWORD="pg-secret-1", MLFLOW_ADMIN_PASSWORD="admin-secret-123")
    e["MLFLOW_FLASK_SERVER_SECRET_KEY"] = "csrf-secret"
    return e


def test_services_and_volumes():
    data = compose.load()
    assert set(data["services"]) == SERVICES
    assert set(data["volumes"]) == {"pgdata", "mlartifacts"}


def test_every_published_port_is_bound_to_loopback(env):
    for name in SERVICES:
        for port in compose.service(name, env).get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


def test_env_example_covers_every_variable_and_ships_no_secret():
    example = compose.read_env_file()
    assert compose.variables() <= set(example), compose.variables() - set(example)
    for key in SECRETS:
        assert example[key] == "", f"{key} must ship empty"
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False)
    assert ignored.returncode == 0, ".env must be git-ignored"
    assert ".env" in (REPO / ".dockerignore").read_text().split()


@pytest.mark.parametrize("secret", [*SECRETS, "MLFLOW_ADMIN_USERNAME", "POSTGRES_USER"])
def test_compose_refuses_to_start_without_each_secret(env, secret):
    env[secret] = ""
    with pytest.raises(compose.MissingVariable, match=secret):
        compose.interpolate(compose.load()["services"], env)


def test_postgres_service(env):
    svc = compose.service("postgres", env)
    assert "pgdata:/var/lib/postgresql/data" in svc["volumes"]
    init = next(v for v in svc["volumes"] if "docker-entrypoint-initdb.d" in v)
    assert (REPO / init.split(":")[0]).is_file()
    assert "pg_isready" in " ".join(svc["healthcheck"]["test"])
    assert {"MLFLOW_DB", "MLFLOW_AUTH_DB", "OPTUNA_DB"} <= set(svc["environment"])


def test_mlflow_service_is_authenticated_postgres_backed_and_proxies_artifacts(env):
    svc = compose.service("mlflow", env)
    entry = svc["entrypoint"][0]
    assert entry.startswith("/app/") and os.access(REPO / entry.removeprefix("/app/"), os.X_OK)
    cmd = svc["command"]
    assert cmd[:2] == ["mlflow", "server"]
    assert cmd[cmd.index("--app-name") + 1] == "basic-auth"
    assert "--serve-artifacts" in cmd
    artifacts = cmd[cmd.index("--artifacts-destination") + 1]
    assert f"mlartifacts:{artifacts}" in svc["volumes"]
    hosts = cmd[cmd.index("--allowed-hosts") + 1].split(",")
    assert "mlflow:5000" in hosts  # containers reach it by name
    e = svc["environment"]
    assert e["MLFLOW_BACKEND_STORE_URI"].startswith("postgresql+psycopg2://")
    assert e["MLFLOW_BACKEND_STORE_URI"].endswith("@postgres:5432/mlflow")
    assert e["MLFLOW_AUTH_DATABASE_URI"].endswith("@postgres:5432/mlflow_auth")
    assert e["MLFLOW_ADMIN_PASSWORD"] == "admin-secret-123"
    assert e["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"  # no dozen idle GenAI job processes
    assert e["MLFLOW_AUTH_CACHE_TTL_SECONDS"] == "60"
    assert "/health" in " ".join(svc["healthcheck"]["test"])
    assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_bplab_services_share_the_stores_and_credentials(env):
    dashboard = compose.service("dashboard", env)
    storage = dashboard["environment"]["BPLAB_OPTUNA_STORAGE"]
    assert storage.endswith("@postgres:5432/optuna")
    cmd = dashboard["command"]
    assert cmd[:2] == ["python", "/app/docker/optuna-dashboard.py"]
    assert (REPO / cmd[1].removeprefix("/app/")).is_file()
    assert not any("BPLAB_OPTUNA_STORAGE" in a or "postgres" in a for a in cmd)  # argv is world-readable
    assert "/api/studies" in " ".join(dashboard["healthcheck"]["test"])
    for name in ("worker", "worker-gpu", "scheduler"):
        svc = compose.service(name, env)
        e = svc["environment"]
        assert e["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
        assert e["MLFLOW_TRACKING_USERNAME"] == env["MLFLOW_ADMIN_USERNAME"]
        assert e["MLFLOW_TRACKING_PASSWORD"] == env["MLFLOW_ADMIN_PASSWORD"]
        assert e["BPLAB_OPTUNA_STORAGE"] == storage
        assert svc["depends_on"]["mlflow"] == {"condition": "service_healthy"}
        assert svc["command"][0] == "bplab"


def test_worker_is_scalable(env):
    for name in ("worker", "worker-gpu"):
        svc = compose.service(name, env)
        assert svc["command"] == ["bplab", "worker", "--study", env["BPLAB_STUDY"]]
        # --scale worker=N needs no fixed container name and no fixed host port
        assert "container_name" not in svc and "ports" not in svc
        assert svc["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert svc["restart"] == "on-failure:5"  # done (exit 0) stays down; a missing study stops retrying
    gpu = compose.service("worker-gpu", env)
    assert gpu["build"]["args"]["JAX_EXTRA"] == "cuda" and gpu["profiles"] == ["gpu"]


def test_scheduler_runs_the_suite_on_a_valid_cron(env):
    cmd = compose.service("scheduler", env)["command"]
    assert cmd[:2] == ["bplab", "schedule"]
    cron_trigger(cmd[cmd.index("--cron") + 1])  # raises on a bad expression
    assert (REPO / cmd[cmd.index("--suite") + 1]).is_file()


def test_dockerfile_cpu_by_default_cuda_by_build_arg():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG JAX_EXTRA=cpu$", text, re.M)
    assert 'cuda) extras="[cuda]"' in text
    assert "WORKDIR /app" in text and "COPY --chown=bplab:bplab docker ./docker" in text
    assert "USER bplab" in text  # not root
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("jax[cuda") for dep in extras["cuda"])


# --- the MLflow entrypoint, run for real ----------------------------------------------------------

ENTRYPOINT = REPO / "docker" / "mlflow-entrypoint.sh"
GOOD = {
    "MLFLOW_ADMIN_USERNAME": "admin",
    "MLFLOW_ADMIN_PASSWORD": "a-long-password-%41",
    "MLFLOW_AUTH_DATABASE_URI": "postgresql+psycopg2://u:p%40ss@postgres:5432/mlflow_auth",
    "MLFLOW_FLASK_SERVER_SECRET_KEY": "k",
}


def run_entrypoint(tmp_path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ["PATH"], "MLFLOW_AUTH_CONFIG_DIR": str(tmp_path / "auth"), **env}
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *argv], env=full, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("missing", sorted(GOOD))
def test_entrypoint_refuses_to_start_without_credentials(tmp_path, missing):
    marker = tmp_path / "started"
    env = {k: v for k, v in GOOD.items() if k != missing}
    r = run_entrypoint(tmp_path, env, "touch", str(marker))
    assert r.returncode == 64
    assert f"{missing} is not set" in r.stderr and "refusing to start" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not marker.exists()


def test_entrypoint_refuses_a_short_password_and_a_server_without_auth(tmp_path):
    r = run_entrypoint(tmp_path, {**GOOD, "MLFLOW_ADMIN_PASSWORD": "short"}, "true")
    assert r.returncode == 64 and "at least 12 characters" in r.stderr
    r = run_entrypoint(tmp_path, GOOD, "mlflow", "server", "--port", "5000")
    assert r.returncode == 64 and "--app-name basic-auth" in r.stderr


@pytest.mark.parametrize("ttl", ["1m", "-5", "6 0"])
def test_entrypoint_refuses_an_auth_cache_ttl_that_is_not_whole_seconds(tmp_path, ttl):
    env = {**GOOD, "MLFLOW_AUTH_CACHE_TTL_SECONDS": ttl}
    r = run_entrypoint(tmp_path, env, "true")
    assert r.returncode == 64 and len(r.stderr.strip().splitlines()) == 1
    assert "MLFLOW_AUTH_CACHE_TTL_SECONDS must be a whole number of seconds" in r.stderr


def test_entrypoint_auth_cache_ttl_can_be_turned_off(tmp_path):
    env = {**GOOD, "MLFLOW_AUTH_CACHE_TTL_SECONDS": "0"}
    r = run_entrypoint(tmp_path, env, "sh", "-c", 'cat "$MLFLOW_AUTH_CONFIG_PATH"')
    assert r.returncode == 0, r.stderr
    assert "auth_cache_ttl_seconds = 0" in r.stdout.splitlines()


UNAUTHENTICATED_SERVERS = [
    ["mlflow", "server", "--port", "5000"],
    ["/usr/local/bin/mlflow", "server"],
    ["mlflow", "--env-file", "x", "server"],
    ["python", "-m", "mlflow", "server"],
    ["sh", "-c", "exec mlflow server --port 5000"],
    ["mlflow", "server", "--app-name", "basic-auth-not"],
]


@pytest.mark.parametrize("shell", ["sh", "bash"])
@pytest.mark.parametrize("argv", UNAUTHENTICATED_SERVERS, ids=" ".join)
def test_entrypoint_refuses_every_spelling_of_a_server_without_auth(tmp_path, shell, argv):
    full = {"PATH": os.environ["PATH"], "MLFLOW_AUTH_CONFIG_DIR": str(tmp_path / "auth"), **GOOD}
    r = subprocess.run([shell, str(ENTRYPOINT), *argv], env=full, capture_output=True, text=True, check=False)
    assert r.returncode == 64, r.stderr
    assert r.stderr.strip().endswith(
        "the mlflow server command lacks --app-name basic-auth; refusing to start "
        "(copy .env.example to .env and fill it in)"
    )
    assert not (tmp_path / "auth").exists()  # refused before the credentials were written


@pytest.mark.parametrize(
    "argv",
    [
        ["/usr/local/bin/mlflow", "--env-file", "x", "server", "--app-name", "basic-auth"],
        ["mlflow", "server", "--app-name=basic-auth"],
        ["echo", "server"],
    ],
    ids=" ".join,
)
def test_entrypoint_runs_an_authenticated_server_or_another_command(tmp_path, argv):
    full = {"PATH": os.environ["PATH"], "MLFLOW_AUTH_CONFIG_DIR": str(tmp_path / "auth"), **GOOD}
    fake = tmp_path / "bin"  # `mlflow` here only says it ran
    fake.mkdir()
    for name in ("mlflow", "python"):
        (fake / name).write_text("#!/bin/sh\necho ran\n")
        (fake / name).chmod(0o755)
    argv = [str(fake / "mlflow") if a.endswith("mlflow") and "/" in a else a for a in argv]
    full["PATH"] = f"{fake}:{full['PATH']}"
    r = subprocess.run(
        ["bash", str(ENTRYPOINT), *argv], env=full, capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("ran", "server")


def test_entrypoint_writes_a_private_auth_ini_and_execs_the_command(tmp_path):
    r = run_entrypoint(tmp_path, GOOD, "sh", "-c", 'cat "$MLFLOW_AUTH_CONFIG_PATH"')
    assert r.returncode == 0, r.stderr
    ini = tmp_path / "auth" / "basic_auth.ini"
    assert stat.S_IMODE(ini.stat().st_mode) == 0o600  # it holds the admin password
    import configparser

    parser = configparser.ConfigParser()  # MLflow reads it with interpolation: '%' must be escaped
    parser.read_string(r.stdout)
    assert parser["mlflow"]["admin_password"] == GOOD["MLFLOW_ADMIN_PASSWORD"]
    assert parser["mlflow"]["database_uri"] == GOOD["MLFLOW_AUTH_DATABASE_URI"]
    assert parser["mlflow"]["default_permission"] == "READ"
    assert parser["mlflow"]["auth_cache_ttl_seconds"] == "60"  # a password is not hashed per request
