"""``bplab dashboard``: optuna-dashboard on the sweep's storage, on 127.0.0.1, until Ctrl-C or SIGTERM."""

from __future__ import annotations

from experiments.signals import terminate_as_interrupt
from sweeps.dashboard import dashboard_server, name_objectives
from sweeps.study.url import resolve_storage


def command(study: str | None, *, storage: str | None, port: int) -> None:
    """Names the objectives, serves the dashboard and prints its URL; returns on Ctrl-C or SIGTERM.

    Raises:
      BadInput: no sweep study in the storage, or the port is taken (exit 2).
    """
    url = resolve_storage(storage)
    ids = name_objectives(url, study)
    server = dashboard_server(url, port=port)
    page = f"/studies/{ids[study]}" if study else ""
    print(f"optuna-dashboard on {url.redacted()}: http://127.0.0.1:{port}/dashboard{page}", flush=True)
    print("stop with Ctrl-C", flush=True)
    with terminate_as_interrupt():
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    print("dashboard stopped")
