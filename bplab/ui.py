"""``bplab ui``: serve the MLflow UI on 127.0.0.1 and print the runs table's URL.

Over an embedded store it serves until Ctrl-C or SIGTERM (which stop the server too); over a
tracking server it prints that server's URL and returns. The URL opens on the training runs (not
MLflow 3's GenAI pages) of the experiment with the latest run.
"""

import sys

from experiments.tracking import DEFAULT_UI_PORT, experiment_link, latest_experiment, serve
from experiments.tracking.links import UI_URL_ENV


def command(port: int) -> None:
    """Prints the one URL line on stdout (the server's own output and hints go to stderr)."""
    try:
        with serve(port) as ui:
            url = experiment_link(latest_experiment(), base=ui.url.rstrip("/"))
            if ui.process is None:
                print(f"MLflow UI (served by the tracking server): {url}", flush=True)
                return
            print(f"MLflow UI for {ui.store}: {url}  (Ctrl-C to stop)", flush=True)
            if port != DEFAULT_UI_PORT:
                print(f"hint: export {UI_URL_ENV}={ui.url} so other commands link here", file=sys.stderr)
            ui.wait()
    except KeyboardInterrupt:
        return
