"""Resuming a study with other settings names the keys that differ."""

from __future__ import annotations

import pytest

from experiments.errors import BadInput
from sweeps.changes import changed_keys, check_same_sweep

STORED = {"train": {"lr": 1.0, "epochs": 5}, "model": {"hidden": [30]}, "sweep": {"n_trials": 8, "space": {}}}


def test_only_the_differing_keys_and_never_the_budget():
    current = {
        "train": {"lr": 2.0, "epochs": 5},
        "model": {"hidden": [30, 20]},
        "sweep": {"n_trials": 20, "timeout": 5, "space": {"lr": [0.1, 1.0]}},
    }
    assert changed_keys(STORED, current) == ["model.hidden", "sweep.space.lr", "train.lr"]
    assert changed_keys(STORED, STORED) == []


def test_the_refusal_is_one_line_with_the_way_out():
    with pytest.raises(BadInput) as e:
        check_same_sweep("d.toml", "digits", STORED, {**STORED, "train": {"lr": 3.0, "epochs": 5}})
    msg = str(e.value)
    assert msg.startswith("d.toml: study 'digits'") and "(train.lr)" in msg and "--study digits-2" in msg
    assert "\n" not in msg
