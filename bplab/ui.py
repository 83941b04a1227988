"""``bplab ui``: serve the MLflow UI on 127.0.0.1."""

from experiments.ui import serve


def command(port: int) -> None:
    serve(port)
