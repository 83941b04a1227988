"""A sweep run inside the test process: its stores in ``tmp_path``, nothing leaking into other tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def use_tmp_stores(monkeypatch: pytest.MonkeyPatch, folder: Path) -> str:
    """Works in ``folder`` with its own journal and MLflow store; returns the MLflow URI."""
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    monkeypatch.chdir(folder)
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # restored after the test, unlike a sweep's own setting
    return uri


def bplab_main(args: list, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``bplab ARGS`` in-process (``bplab.app.main``): its exit code, stdout and stderr.

    For what the CLI says and returns; process wiring (signals, the installed binary) needs a real one.
    """
    from bplab.app import main

    capsys.readouterr()  # only this call's output
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code or 0, out.out, out.err
