"""Which storage a ``--storage`` (or the environment, or nothing) means."""

from __future__ import annotations

import pytest

from experiments.errors import BadInput
from sweeps.study.url import resolve_storage


def test_storage_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    assert resolve_storage(None, cwd=tmp_path).target == str(tmp_path / "optuna.journal")
    monkeypatch.setenv("BPLAB_OPTUNA_STORAGE", "postgresql://u:secret@h/db")
    url = resolve_storage(None, cwd=tmp_path)
    assert url.kind == "postgresql" and "secret" not in url.redacted()
    with pytest.raises(BadInput, match="--storage 'mysql://x'"):
        resolve_storage("mysql://x", cwd=tmp_path)
