"""Which MLflow store this process talks to, and whether it answers before any run is opened.

Stores:
  - ``MLFLOW_TRACKING_URI`` unset: ``sqlite:///mlflow.db`` in the working folder (MLflow's own
    default), artifacts in ``./mlartifacts`` beside it, so ``mlflow ui`` / ``bplab ui`` there just works.
  - ``MLFLOW_TRACKING_URI=sqlite:///path/x.db``: artifacts in ``mlartifacts/`` beside that file.
  - ``MLFLOW_TRACKING_URI=http://host:port``: a tracking server; it stores (or proxies) the artifacts.

Why the artifact folder is chosen here: a client writing straight to sqlite would otherwise put
artifacts in ``./mlruns`` while ``mlflow server`` defaults to ``./mlartifacts``; each experiment this
package creates gets its artifact location explicitly, so both agree.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.tracking import MlflowClient

from experiments.errors import BadInput
from experiments.tracking.schema import folder_lock, seed_new_store

DEFAULT_URI = "sqlite:///mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
REACH_TIMEOUT_S = 10.0  # how long an unanswering server is retried before giving up
SCHEMA_TRIES = 4  # first queries of a store (0.5 + 1 + 1.5 s apart) before it counts as unusable

# A server that dies mid-run should fail the run in seconds, not after MLflow's default minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# Artifact uploads and downloads are small; their progress bars would only clutter the run's output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
logging.getLogger("mlflow").setLevel(logging.WARNING)  # not "Creating initial MLflow database tables"
# MLflow logs each database error with its traceback before raising it; bplab reports the raised error
# in one line (a full disk would otherwise print a traceback per retried write).
logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI``, or ``sqlite:///mlflow.db`` (in the working folder) when unset."""
    return os.environ.get("MLFLOW_TRACKING_URI", "").strip() or DEFAULT_URI


def _scheme(uri: str) -> str:
    return urlparse(uri).scheme.split("+")[0].lower()


def is_http(uri: str | None = None) -> bool:
    """Whether the store is a tracking server (``http``/``https``)."""
    return _scheme(uri or tracking_uri()) in ("http", "https")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or ``None`` for other stores."""
    if _scheme(uri) != "sqlite":
        return None
    rest = uri.split(":///", 1)[1] if ":///" in uri else ""
    return Path(rest or "mlflow.db")


def artifact_root(uri: str | None = None) -> str | None:
    """Where runs of new experiments keep their artifacts: ``mlartifacts/`` beside a sqlite file,
    the server's choice (``None``) otherwise."""
    uri = uri or tracking_uri()
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.resolve().parent / ARTIFACTS_DIR).as_uri()


@functools.cache
def _client(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri)


def client() -> MlflowClient:
    """The ``MlflowClient`` of the store in use (one per URI per process).

    Everything in this package takes explicit run ids through it, never the fluent "active run", so
    a sweep can hold a parent run and child runs at once without global state.
    """
    return _client(tracking_uri())


def _probe_http(uri: str, deadline: float) -> None:
    """GETs ``/health`` until it answers 200 or the deadline passes; raises ``BadInput``."""
    url = uri.rstrip("/") + "/health"
    delay, last = 0.25, "no answer"
    while True:
        remaining = deadline - time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=max(0.5, min(3.0, remaining))) as r:
                if r.status == 200:
                    return
                last = f"HTTP {r.status}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            last = " ".join(str(getattr(e, "reason", e)).split())
        if time.monotonic() + delay >= deadline:
            raise BadInput(
                f"cannot reach MLflow at {uri} ({last}); is the server running? (MLFLOW_TRACKING_URI)"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def ensure_reachable(timeout_s: float = REACH_TIMEOUT_S, *, experiment: str | None = None) -> str:
    """Checks the store answers before any run is opened; returns its URI.

    An http server is retried with backoff for at most ``timeout_s``; a sqlite file's folder must
    exist and be writable; any other store must answer a query. With ``experiment``, a server's user
    must also be allowed to write runs there (:func:`check_write_access`).

    Raises:
      BadInput: ``cannot reach MLflow at …`` with the reason, or a user who may not write.
    """
    uri = tracking_uri()
    if is_http(uri):
        _probe_http(uri, time.monotonic() + timeout_s)
        check_access()  # /health answers without credentials; a real read tells 401 apart
        if experiment is not None:
            check_write_access(experiment)
        return uri
    db = sqlite_path(uri)
    if db is None:
        _first_query(uri)
        return uri
    folder = db.resolve().parent
    if not folder.is_dir():
        raise BadInput(f"cannot reach MLflow at {uri}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"cannot reach MLflow at {uri}: folder {folder} is not writable")
    with folder_lock(folder):  # one bplab process creates a new store's schema; the others then find it
        seed_new_store(db.resolve())
        _first_query(uri)
    return uri


def _first_query(uri: str) -> None:
    """The first query, which creates the schema of a new store; retried a few times, because a
    process outside bplab (``mlflow ui``) creating it at the same moment fails one of the two."""
    for attempt in range(1, SCHEMA_TRIES + 1):
        try:
            client().search_experiments(max_results=1)
            return
        except Exception as e:  # any store error means: not usable
            if attempt == SCHEMA_TRIES:
                raise BadInput(f"cannot reach MLflow at {uri}: {' '.join(str(e).split())[:300]}") from None
            time.sleep(0.5 * attempt)


def check_access() -> None:
    """One authenticated read from a tracking server, before anything is written.

    Called by :func:`ensure_reachable`: ``/health`` alone is left open by MLflow's auth app, so
    without this, missing credentials would surface as a traceback after the first write was refused.

    Raises:
      BadInput: HTTP 401 (no or wrong credentials), 403 (no permission) or another refusal.
    """
    uri = tracking_uri()
    if not is_http(uri):
        return
    try:
        client().search_experiments(max_results=1)
    except mlflow.exceptions.MlflowException as e:
        code = e.get_http_status_code()
        if code == 401:
            raise BadInput(
                f"MLflow at {uri} refused the request (HTTP 401): set MLFLOW_TRACKING_USERNAME and "
                "MLFLOW_TRACKING_PASSWORD"
            ) from None
        user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
        reason = f"HTTP {code}" if code == 403 else " ".join(str(e).split())[:200]
        raise BadInput(f"MLflow at {uri} refused user {user!r}: {reason}") from None


WRITERS = ("EDIT", "MANAGE")  # the permissions of MLflow's auth app that may create and update runs


def check_write_access(experiment: str) -> None:
    """Refuses, before anything is written, a server user who may only read ``experiment``.

    MLflow's auth app answers every user's question about their own permission
    (``/api/3.0/mlflow/users/permissions/get``). A new experiment needs no check (its creator manages
    it); a server without the auth app, or without that endpoint, answers 404 and is not refused here.

    Raises:
      BadInput: the user's permission on the experiment is below EDIT.
    """
    uri = tracking_uri()
    user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    if not is_http(uri) or not user:
        return
    exp = client().get_experiment_by_name(experiment)
    if exp is None:
        return
    asked = {"username": user, "resource_type": "experiment", "resource_id": exp.experiment_id}
    permission = _auth_get(uri, "/api/3.0/mlflow/users/permissions/get", asked).get("permission", "")
    if permission and permission not in WRITERS:
        if _auth_get(uri, "/api/2.0/mlflow/users/get", {"username": user}).get("user", {}).get("is_admin"):
            return  # the auth app lets an admin do anything, whatever the experiment's permissions say
        raise BadInput(
            f"MLflow at {uri} lets user {user!r} only {permission} experiment {experiment!r}; "
            f"writing runs needs {' or '.join(WRITERS)} (ask an MLflow admin)"
        )


def _auth_get(uri: str, path: str, query: dict[str, str]) -> dict:
    """A GET of MLflow's auth app as the signed-in user; ``{}`` when the server does not answer it
    (no auth app, an older server: then the write itself will tell)."""
    req = urllib.request.Request(f"{uri.rstrip('/')}{path}?{urllib.parse.urlencode(query)}")
    user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD", "")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=REACH_TIMEOUT_S) as r:
            return json.load(r)
    except (OSError, ValueError):
        return {}
