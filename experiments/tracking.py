"""MLflow, behind a small interface: the only module (with :mod:`experiments.pyfunc_model`) that imports it.

Stores:
  - ``MLFLOW_TRACKING_URI`` unset: ``sqlite:///mlflow.db`` in the working folder (MLflow's own
    default), artifacts in ``./mlartifacts`` beside it, so ``mlflow ui`` / ``bplab ui`` there just works.
  - ``MLFLOW_TRACKING_URI=sqlite:///path/x.db``: artifacts in ``mlartifacts/`` beside that file.
  - ``MLFLOW_TRACKING_URI=http://host:port``: a tracking server; it stores (or proxies) the artifacts.

Why the artifact folder is chosen here: a client writing straight to sqlite would otherwise put
artifacts in ``./mlruns`` while ``mlflow server`` defaults to ``./mlartifacts``; each experiment this
module creates gets its artifact location explicitly, so both agree.

Everything takes explicit run ids (``MlflowClient``), never the fluent "active run", so a sweep can
hold a parent run and child runs at once without global state.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from experiments.errors import BadInput

DEFAULT_URI = "sqlite:///mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
REACH_TIMEOUT_S = 10.0  # how long an unanswering server is retried before giving up
STATUSES = ("FINISHED", "FAILED", "KILLED")
MAX_PARAM_LEN = 6000  # MLflow's limit on a param value
_PARAMS_PER_BATCH = 100  # MLflow's limit of params per log_batch
DEFAULT_UI_PORT = 5000
EXPERIMENT_KIND = "mlflow.experimentKind"

# A server that dies mid-run should fail the run in seconds, not after MLflow's default minutes of retries.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
# Artifact uploads and downloads are small; their progress bars would only clutter the run's output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
logging.getLogger("mlflow").setLevel(logging.WARNING)  # not "Creating initial MLflow database tables"


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
    """The ``MlflowClient`` of the store in use (one per URI per process)."""
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


def ensure_reachable(timeout_s: float = REACH_TIMEOUT_S) -> str:
    """Checks the store answers before any run is opened; returns its URI.

    An http server is retried with backoff for at most ``timeout_s``; a sqlite file's folder must
    exist and be writable; any other store must answer a query.

    Raises:
      BadInput: ``cannot reach MLflow at …`` with the reason.
    """
    uri = tracking_uri()
    if is_http(uri):
        _probe_http(uri, time.monotonic() + timeout_s)
        check_access()  # /health answers without credentials; a real read tells 401 apart
        return uri
    db = sqlite_path(uri)
    if db is not None:
        folder = db.resolve().parent
        if not folder.is_dir():
            raise BadInput(f"cannot reach MLflow at {uri}: folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise BadInput(f"cannot reach MLflow at {uri}: folder {folder} is not writable")
    try:
        client().search_experiments(max_results=1)
    except Exception as e:  # any store error means: not usable
        raise BadInput(f"cannot reach MLflow at {uri}: {' '.join(str(e).split())[:300]}") from None
    return uri


def _safe_dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "experiment"


def experiment_id(name: str) -> str:
    """The id of experiment ``name``, created (with its artifact folder, see the module doc) if new."""
    c = client()
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    root = artifact_root()
    location = f"{root}/{_safe_dir_name(name)}" if root else None
    try:
        # The kind tells MLflow 3's UI to open on the runs table (training), not the GenAI trace views.
        return c.create_experiment(
            name, artifact_location=location, tags={EXPERIMENT_KIND: "custom_model_development"}
        )
    except mlflow.exceptions.MlflowException:
        exp = c.get_experiment_by_name(name)  # another process created it meanwhile
        if exp is None:
            raise
        return exp.experiment_id


def start_run(
    experiment: str,
    *,
    run_name: str | None = None,
    parent_run_id: str | None = None,
    tags: Mapping[str, Any] | None = None,
    description: str = "",
) -> str:
    """Opens a run (status RUNNING) in ``experiment``, nested under ``parent_run_id`` if given."""
    all_tags = {str(k): str(v) for k, v in (tags or {}).items()}
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    if run_name:
        all_tags[MLFLOW_RUN_NAME] = run_name
    if description:
        all_tags["mlflow.note.content"] = description
    run = client().create_run(experiment_id(experiment), tags=all_tags, run_name=run_name)
    return run.info.run_id


def end_run(run_id: str, status: str = "FINISHED") -> None:
    """Ends a run with ``FINISHED``, ``FAILED`` or ``KILLED``."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    with _writers_lock:
        writer = _writers.pop(run_id, None)
    if writer is not None:
        writer.close()
    client().set_terminated(run_id, status=status)


def _param_value(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, list | tuple | dict) else str(value)
    return text[:MAX_PARAM_LEN]


def log_params(run_id: str, params: Mapping[str, Any]) -> None:
    """Logs params (stringified), in as few ``log_batch`` calls as MLflow's limits allow."""
    items = [Param(str(k), _param_value(v)) for k, v in params.items()]
    for i in range(0, len(items), _PARAMS_PER_BATCH):
        client().log_batch(run_id, params=items[i : i + _PARAMS_PER_BATCH])


class _MetricWriter:
    """A background thread that writes one run's metrics, so the training loop never waits for the store.

    ``put`` only appends to a list (microseconds). The thread takes everything pending and writes it
    with one ``log_batch``, at most every :attr:`MIN_INTERVAL_S` seconds: when epochs are faster than
    that (digits epochs take ~2 ms, a sqlite commit ~20 ms), several epochs' points travel in one
    batch, so there is never more than one ``log_batch`` per epoch, and the writer's Python work does
    not compete with the training thread for the GIL after every epoch. A store error is kept and
    raised in the training thread at the next ``put`` or ``flush``.
    """

    _MAX_METRICS_PER_BATCH = 1000  # MLflow's limit
    MIN_INTERVAL_S = 0.5

    def __init__(self, run_id: str):
        self.run_id = run_id
        self._pending: list[Metric] = []
        self._busy = False
        self._flushing = 0
        self._closed = False
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name=f"mlflow-metrics-{run_id[:8]}", daemon=True)
        self._thread.start()

    def put(self, metrics: list[Metric]) -> None:
        with self._cond:
            self._raise_error()
            self._pending.extend(metrics)
            self._cond.notify_all()

    def flush(self) -> None:
        """Blocks until every metric put so far is in the store; re-raises a store error."""
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: (not self._pending and not self._busy) or self._error is not None)
            finally:
                self._flushing -= 1
            self._raise_error()

    def close(self) -> None:
        """Flushes, then lets the thread end."""
        try:
            self.flush()
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._pending.clear()
            raise error

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._pending) or self._closed)
                if not self._pending:
                    return  # closed and drained
                # Let more epochs gather, unless someone waits in flush().
                self._cond.wait_for(lambda: self._flushing, timeout=self.MIN_INTERVAL_S)
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                for i in range(0, len(batch), self._MAX_METRICS_PER_BATCH):
                    client().log_batch(self.run_id, metrics=batch[i : i + self._MAX_METRICS_PER_BATCH])
            except BaseException as e:  # handed to the training thread
                with self._cond:
                    self._error = e
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


_writers: dict[str, _MetricWriter] = {}
_writers_lock = threading.Lock()


def _writer(run_id: str) -> _MetricWriter:
    with _writers_lock:
        if run_id not in _writers:
            _writers[run_id] = _MetricWriter(run_id)
        return _writers[run_id]


def log_metrics(run_id: str, metrics: Mapping[str, float], step: int, *, synchronous: bool = False) -> None:
    """Logs every metric at ``step``: one ``log_batch``, written by a background thread by default.

    The training loop only queues the values, which keeps the tracking overhead of an epoch tiny;
    :func:`flush` (called by :func:`end_run`) waits until they are stored. ``synchronous=True``
    writes before returning.
    """
    now = int(time.time() * 1000)
    batch = [Metric(str(k), float(v), now, int(step)) for k, v in metrics.items()]
    if synchronous:
        flush(run_id)
        client().log_batch(run_id, metrics=batch)
    else:
        _writer(run_id).put(batch)


def flush(run_id: str | None = None) -> None:
    """Waits until the queued metrics of ``run_id`` (or of every run) are in the store."""
    with _writers_lock:
        writers = [w for rid, w in _writers.items() if run_id in (None, rid)]
    for w in writers:
        w.flush()


def set_tags(run_id: str, tags: Mapping[str, Any]) -> None:
    """Sets tags (values stringified) in one ``log_batch``."""
    if tags:
        client().log_batch(run_id, tags=[RunTag(str(k), str(v)) for k, v in tags.items()])


def log_artifact(run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
    """Uploads one local file."""
    client().log_artifact(run_id, str(path), artifact_path)


def log_artifacts(run_id: str, folder: str | Path, artifact_path: str | None = None) -> None:
    """Uploads a local folder's contents."""
    client().log_artifacts(run_id, str(folder), artifact_path)


def log_text(run_id: str, text: str, artifact_file: str) -> None:
    """Writes ``text`` as the artifact ``artifact_file`` (e.g. ``config.toml``)."""
    client().log_text(run_id, text, artifact_file)


def log_dict(run_id: str, data: Any, artifact_file: str) -> None:
    """Writes JSON-able ``data`` as the artifact ``artifact_file`` (``.json``)."""
    client().log_dict(run_id, data, artifact_file)


def log_table(run_id: str, rows: Iterable[Mapping[str, Any]], artifact_file: str) -> None:
    """Logs rows as an MLflow table (shown in the UI) at ``artifact_file`` (``.json``)."""
    rows = list(rows)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    client().log_table(run_id, {c: [row.get(c) for row in rows] for c in columns}, artifact_file)


def log_pyfunc_model(
    run_id: str, *, weights: Path, config_toml: str, artifact_path: str = "model", input_example=None
) -> str:
    """Logs the trained net as an MLflow pyfunc model and returns its ``runs:/…`` URI.

    The model is "from code" (:mod:`experiments.pyfunc_model`), so nothing is pickled: the weights
    and input scaling travel as an ``.npz`` artifact, the config as TOML, and ``backprop_core`` as
    code beside them. ``mlflow.pyfunc.load_model(uri).predict(X)`` gives the net's outputs ``a^L``
    for raw (unscaled) inputs ``X``.
    """
    import backprop_core
    from experiments import pyfunc_model

    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.toml"
        config_path.write_text(config_toml, encoding="utf-8")
        model_dir = Path(tmp) / artifact_path
        kwargs = {}
        if input_example is not None:
            from mlflow.models import infer_signature

            model = tomllib.loads(config_toml)["model"]
            outputs = pyfunc_model.predict_outputs(
                weights, input_example, activation=model["activation"], cost=model["cost"]
            )
            kwargs["signature"] = infer_signature(input_example, outputs)
        with warnings.catch_warnings():
            # MLflow suggests type hints for data validation; the signature above already says the shapes.
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.save_model(
                str(model_dir),
                python_model=pyfunc_model.__file__,
                artifacts={"weights": str(weights), "config": str(config_path)},
                code_paths=[str(Path(backprop_core.__file__).parent)],
                # listed, not inferred: inference would load the model in a subprocess (slow)
                pip_requirements=[f"mlflow=={mlflow.__version__}", "numpy", "jax", "jaxlib"],
                **kwargs,
            )
        log_artifacts(run_id, model_dir, artifact_path)
    return f"runs:/{run_id}/{artifact_path}"


def run_url(run_id: str) -> str:
    """Where the run is seen in a browser: the server's page, or what ``bplab ui`` serves locally."""
    run = client().get_run(run_id)
    exp = run.info.experiment_id
    base = tracking_uri().rstrip("/") if is_http() else f"http://127.0.0.1:{DEFAULT_UI_PORT}"
    return f"{base}/#/experiments/{exp}/runs/{run_id}"


def get_run(run_id: str):
    """The MLflow ``Run`` (for status and tags in tests and reports)."""
    return client().get_run(run_id)


def run_status(run_id: str) -> str:
    """``RUNNING``, ``FINISHED``, ``FAILED`` or ``KILLED``."""
    return client().get_run(run_id).info.status


def ui_command(port: int, host: str = "127.0.0.1") -> list[str]:
    """The ``mlflow server`` command that serves the UI over the store in use.

    For a sqlite store the server's own default artifact root is the ``mlartifacts`` folder beside
    the database, so experiments created from the UI land where ``bplab train`` puts them.
    """
    import sys

    uri = tracking_uri()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    db = sqlite_path(uri)
    if db is not None:
        cmd += ["--artifacts-destination", str(db.resolve().parent / ARTIFACTS_DIR)]
    return cmd


# --- sweeps: parent runs (issue 4) ---
# What `sweeps` needs beyond one training run: a parent run resumed by id, its children found again,
# and the tutorial-style baseline of the sweep benchmark (fluent API, one synchronous call per value).


def resume_run(run_id: str) -> None:
    """Sets a terminated run back to RUNNING (a sweep that resumes keeps its one parent run)."""
    client().update_run(run_id, status="RUNNING")


def experiment_of(run_id: str) -> str:
    """The experiment id of a run."""
    return client().get_run(run_id).info.experiment_id


def child_runs(parent_run_id: str) -> list[dict[str, Any]]:
    """Every run nested under ``parent_run_id``: ``{"run_id", "status", "tags", "metrics"}`` each."""
    c = client()
    exp = experiment_of(parent_run_id)
    out, token = [], None
    while True:
        page = c.search_runs(
            [exp],
            filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}'",
            max_results=1000,
            page_token=token,
        )
        out += [
            {
                "run_id": r.info.run_id,
                "status": r.info.status,
                "tags": dict(r.data.tags),
                "metrics": dict(r.data.metrics),
            }
            for r in page
        ]
        token = page.token
        if not token:
            return out


def baseline_start_run(experiment: str, run_name: str, *, nested: bool = False) -> str:
    """Tutorial style: the fluent API's active run (nested under the active one if ``nested``)."""
    mlflow.set_tracking_uri(tracking_uri())
    run = mlflow.start_run(experiment_id=experiment_id(experiment), run_name=run_name, nested=nested)
    return run.info.run_id


def baseline_log_param(key: str, value: Any) -> None:
    """Tutorial style: one call per param."""
    mlflow.log_param(key, value)


def baseline_log_metric(key: str, value: float, step: int) -> None:
    """Tutorial style: one synchronous call per value."""
    mlflow.log_metric(key, value, step=step, synchronous=True)


def baseline_end_run(status: str = "FINISHED") -> None:
    """Tutorial style: ends the active run."""
    mlflow.end_run(status=status)


# --- service: regression and replay (issue 5) ---
# What `bplab replay` reads back from a logged run: its record, its metric histories, its artifacts.
# (The regression suite writes through the functions above.)


def run_record(run_id: str) -> dict[str, Any]:
    """``{"run_id", "status", "experiment_id", "params", "tags", "metrics"}`` of a run (last values).

    Raises:
      BadInput: no such run in the store in use.
    """
    try:
        run = client().get_run(run_id)
    except mlflow.exceptions.MlflowException as e:
        reason = " ".join(str(e).split())[:200]
        raise BadInput(f"run {run_id!r} not found in {tracking_uri()}: {reason}") from None
    return {
        "run_id": run.info.run_id,
        "status": run.info.status,
        "experiment_id": run.info.experiment_id,
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
        "metrics": dict(run.data.metrics),
    }


def metric_history(run_id: str, key: str) -> list[tuple[int, float]]:
    """Every ``(step, value)`` of one metric, by step (the last write wins when a step repeats)."""
    points = sorted(client().get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return sorted({m.step: m.value for m in points}.items())


def download_artifact(run_id: str, artifact_path: str, dst_dir: str | Path) -> Path | None:
    """Downloads one artifact into ``dst_dir``; ``None`` when the run has no such artifact."""
    try:
        return Path(client().download_artifacts(run_id, artifact_path, str(dst_dir)))
    except (mlflow.exceptions.MlflowException, OSError):
        return None


def check_access() -> None:
    """One authenticated read from a tracking server, before anything is written.

    Called by ``ensure_reachable``: ``/health`` alone is left open by MLflow's auth app, so without this
    missing credentials would surface as a traceback after the first write was refused.

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
