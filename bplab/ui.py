"""``bplab ui``: serve the MLflow UI on 127.0.0.1 and print its URL.

Over an embedded store it serves until Ctrl-C or SIGTERM (which stop the server too); over a
tracking server it prints that server's URL and returns.
"""

from experiments.tracking import serve


def command(port: int) -> None:
    """Prints the one URL line on stdout (the server's own output goes to stderr)."""
    try:
        with serve(port) as ui:
            if ui.process is None:
                print(f"MLflow UI (served by the tracking server): {ui.url}", flush=True)
                return
            print(f"MLflow UI for {ui.store}: {ui.url}  (Ctrl-C to stop)", flush=True)
            ui.wait()
    except KeyboardInterrupt:
        return
