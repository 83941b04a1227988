"""Every sampler proposes points inside the space it was given."""

from __future__ import annotations

import optuna
import pytest

from sweeps.objective import suggest
from sweeps.space import SAMPLERS, parse_sweep
from sweeps.study.samplers import make_sampler


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_every_sampler_proposes_points_inside_the_space(sampler):
    spec = parse_sweep(
        {"sampler": sampler, "seed": 0, "space": {"lr": [0.1, 5.0], "n_layers": [1, 2], "width": [4, 16]}},
        "x",
    )
    study = optuna.create_study(sampler=make_sampler(spec))
    for i in range(12):  # past CMA-ES's and TPE's start-up trials
        trial = study.ask()
        params = suggest(trial, spec.space)
        assert 0.1 <= params["lr"] <= 5.0 and 1 <= params["n_layers"] <= 2
        assert all(4 <= params[f"width_{l}"] <= 16 for l in range(1, params["n_layers"] + 1))
        study.tell(trial, float(i % 5))
