"""The grid sampler's points."""

from __future__ import annotations

import pytest

from sweeps.grid import grid_space, grid_values
from sweeps.space import Range, parse_sweep


def test_grid_values():
    assert grid_values(Range(1, 2), 3, integer=True) == [1, 2]
    assert grid_values(Range(0.1, 10.0, log=True), 3, integer=False) == pytest.approx([0.1, 1.0, 10.0])
    spec = parse_sweep({"sampler": "grid", "space": {"n_layers": [1, 2], "width": [4, 16]}}, "x")
    assert set(grid_space(spec)) == {"lr", "n_layers", "width_1", "width_2"}
