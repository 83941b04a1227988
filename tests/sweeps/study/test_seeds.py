"""A seeded sweep that is resumed, or joined by another process, does not propose earlier points again.

Before, every process seeded its sampler with ``seed + worker_index``: a resumed sweep replayed the
random stream of the first run, and proposed its points again. The random sampler draws ``lr`` from
a continuous log range, so two processes propose an equal point only when they share a stream
(an accidental repeat has probability ~0): any duplicate below is the bug, not chance.
"""

from __future__ import annotations

import optuna

from experiments.config import load_config
from sweeps.objective import suggest
from sweeps.space import parse_sweep
from sweeps.study import create_or_resume, load, reserve, resolve_storage, with_sampler
from sweeps.study.samplers import derive_seed
from tests.sweeps.conftest import write_config

SEED = 7


def open_study(folder):
    cfg = load_config(
        write_config(folder, name="seeds", sweep_extra=f'sampler = "random"\nseed = {SEED}'), []
    )
    spec = parse_sweep(cfg.sweep, cfg.source)
    url = resolve_storage(None, cwd=folder)
    handle = create_or_resume(url, "seeds", cfg, spec, tracking_uri="sqlite:///unused.db")
    return url, with_sampler(handle)


def run_trials(handle, n: int) -> None:
    """``n`` trials of ``handle``'s process: reserve, sample, tell (no training: the sampler is the point)."""
    for _ in range(n):
        trial = reserve(handle)
        params = suggest(trial, handle.spec.space)
        handle.study.tell(trial, params["lr"])


def param_sets(study: optuna.Study) -> list[tuple]:
    return [tuple(sorted(t.params.items())) for t in study.trials]


def test_a_resumed_seeded_sweep_proposes_new_points_and_records_its_seeds(tmp_path):
    url, first = open_study(tmp_path)
    first.budget = 8
    first.study.set_user_attr("bplab.n_trials", 8)
    run_trials(first, 4)
    resumed = load(url, "seeds")  # a second `bplab sweep` (or worker) on the same study
    run_trials(resumed, 4)

    sets = param_sets(resumed.study)
    assert len(sets) == 8 and len(set(sets)) == 8
    attrs = resumed.study.user_attrs
    records = [attrs["bplab.sampler_seed.0"], attrs["bplab.sampler_seed.1"]]
    assert [r["n_existing"] for r in records] == [0, 4]
    for sequence, record in enumerate(records):  # reproducible: each seed follows from the storage
        assert record["seed"] == derive_seed(SEED, n_existing=record["n_existing"], sequence=sequence)
    seeds = [t.user_attrs["bplab.sampler_seed"] for t in resumed.study.trials]
    assert seeds == [records[0]["seed"]] * 4 + [records[1]["seed"]] * 4


def test_two_workers_joining_one_study_at_once_never_propose_the_same_point(tmp_path):
    url, _creator = open_study(tmp_path)
    # Both join with the same study state (0 trials): only their claimed place tells them apart.
    a, b = load(url, "seeds", worker_index=1), load(url, "seeds", worker_index=2)
    a.budget = b.budget = 10
    a.study.set_user_attr("bplab.n_trials", 10)
    for _ in range(5):  # interleaved, as two processes run side by side
        run_trials(a, 1)
        run_trials(b, 1)

    sets = param_sets(a.study)
    assert len(sets) == 10 and len(set(sets)) == 10
    assert a.sampler_seed != b.sampler_seed
