"""The sweep benchmark's medians over repeated runs (the measuring itself is whole commands, run by hand)."""

from __future__ import annotations

import pytest

from benchmarks.sweep_report import render, targets
from benchmarks.sweep_vs_tutorial import median_result


def run(ours_empty: float, peer_empty: float, ours_warm: float, floor: float) -> dict:
    """What :func:`benchmarks.sweep_vs_tutorial.measure_n` returns for 30 trials, with these seconds."""
    rows = [
        {
            "n_trials": 30,
            "cache": "empty",
            "cache_entries_before": 0,
            "ours_s": ours_empty,
            "peer_s": peer_empty,
        },
        {"n_trials": 30, "cache": "warm", "cache_entries_before": 33, "ours_s": ours_warm, "peer_s": 40.0},
    ]
    floor_doc = {"seconds": floor, "trials": 30, "programs": 13, "compile_seconds": 14.0}
    return {"n_trials": 30, "epochs": 30, "floor": floor_doc, "rows": rows}


def test_rows_and_floor_are_the_medians_with_every_run_kept():
    result = median_result(
        [run(20.0, 30.0, 10.0, 4.0), run(26.0, 36.0, 12.0, 9.0), run(21.0, 33.0, 50.0, 5.0)]
    )
    empty, warm = result["rows"]
    assert (empty["ours_s"], empty["peer_s"], warm["ours_s"]) == (21.0, 33.0, 12.0)
    assert empty["ours_runs_s"] == [20.0, 26.0, 21.0] and warm["peer_runs_s"] == [40.0, 40.0, 40.0]
    assert empty["peer_over_ours"] == pytest.approx(33.0 / 21.0)
    assert empty["ours_trials_per_min"] == pytest.approx(60 * 30 / 21.0)
    assert warm["peer_trials_per_min"] == pytest.approx(60 * 30 / 40.0)
    assert result["floor"]["seconds"] == 5.0 and result["floor"]["runs_s"] == [4.0, 9.0, 5.0]
    assert empty["cache"] == "empty" and warm["cache_entries_before"] == 33


def test_the_verdict_and_the_table_read_the_medians():
    result = median_result([run(4.0, 40.0, 1.0, 4.0), run(5.0, 35.0, 9.0, 4.0), run(9.0, 45.0, 3.0, 4.0)])
    for row in result["rows"]:
        row["floor_plus_startup_s"] = 6.0
        row["ours_over_floor_plus_startup"] = row["ours_s"] / 6.0
    doc = {
        "config": "digits.toml", "epochs": 30, "repeat": 3, "startup_s": 2.0, "results": [result],
        "machine": {"cpu_count": 2, "loadavg_start": [0, 0, 0], "loadavg_end": [0, 0, 0]}, "notes": [],
    }  # fmt: skip
    doc["targets"] = targets(doc)
    first = doc["targets"][0]  # empty, 30 trials: peer/ours >= 8, from the medians 40 / 5
    assert first["value"] == pytest.approx(8.0) and first["met"] is True
    assert doc["targets"][1]["value"] == pytest.approx(40.0 / 3.0)
    assert "the median of 3 runs" in render(doc)
