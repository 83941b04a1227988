"""The thread-pool benchmark measures both settings of a net and prints their ratio (smoke run)."""

from __future__ import annotations

import re

import pytest

from benchmarks import cpu_threads

pytestmark = pytest.mark.integration  # each setting is its own interpreter


def test_one_row_per_net_with_both_settings_and_their_ratio(monkeypatch, capsys):
    monkeypatch.setattr(cpu_threads, "NETS", [((4, 8, 2), 2, 16, 2)])
    cpu_threads.main([])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("ms per epoch")
    (row,) = lines[2:]
    assert re.fullmatch(r"\[4, 8, 2\]\s+2\s+0\.00 M\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d\d", row), row
