"""optuna-dashboard on a sweep's storage, bound to 127.0.0.1, with each objective named.

Optuna stores a study's objective unnamed unless told; the dashboard then labels the axis
"Objective Value". Each bplab study is given its metric's name (``set_metric_names``) first.
"""

from __future__ import annotations

import socketserver
import wsgiref.simple_server

from optuna_dashboard import wsgi

from experiments.errors import BadInput
from sweeps.best import bplab_studies, open_sweep
from sweeps.study.storage import open_storage
from sweeps.study.url import StorageURL


class _ThreadingServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    """Requests are served on threads, so the main thread only waits in ``serve_forever``.

    The page fetches several things at once and one slow request should not stall it; and a SIGTERM
    that lands while the main thread is inside a request would be swallowed by wsgiref's error handler.
    """

    daemon_threads = True


class _QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format, *args) -> None:
        """One line per HTTP request would bury the URL the user needs."""


def name_objectives(url: StorageURL, study: str | None) -> dict[str, int]:
    """Names the objective of ``study`` (``None``: of every bplab study) after its metric.

    Returns:
      study name → the dashboard's study id (its page is ``/dashboard/studies/<id>``).

    Raises:
      BadInput: no such study, or no bplab study in ``url``.
    """
    names = [study] if study else bplab_studies(url)
    if not names:
        raise BadInput(f"no sweep studies in {url.redacted()}; run `bplab sweep` first")
    ids = {}
    for name in names:
        sweep = open_sweep(url, name)
        sweep.study.set_metric_names([sweep.spec.metric])
        ids[name] = sweep.study._study_id
    return ids


def dashboard_server(url: StorageURL, *, host: str = "127.0.0.1", port: int = 8080):
    """A bound, not yet serving, WSGI server of optuna-dashboard on ``url`` (``serve_forever()`` it).

    Raises:
      BadInput: the port cannot be bound.
    """
    try:
        return wsgiref.simple_server.make_server(
            host,
            port,
            wsgi(open_storage(url)),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
    except OSError as e:
        raise BadInput(f"--port {port}: cannot serve on {host}: {e.strerror or e}") from None
