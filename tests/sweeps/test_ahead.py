"""Compiling ahead: the programs compiled for the other depths are the ones their trials then use."""

from __future__ import annotations

import sweeps.ahead
from backprop_core import evaluate, train_epoch
from backprop_core.padding import _init_padded
from experiments.config import load_config
from experiments.gradcheck.numerics import manual_vs_autodiff
from experiments.run import train_run
from sweeps.ahead import CompileAhead, depth_configs
from sweeps.padding import pad_for, space_depths
from sweeps.space import parse_sweep
from tests.sweeps.conftest import TINY

# XOR nets padded to width 7 in every hidden layer: shapes no other test compiles.
CONFIG = TINY.replace("n_layers = [1, 1]", "n_layers = [1, 3]").replace("width = [2, 3]", "width = [5, 7]")


def base_and_space(tmp_path):
    path = tmp_path / "ahead.toml"
    path.write_text(CONFIG.format(name="ahead", n_trials=4, epochs=2, sweep_extra="", space_extra=""))
    base = load_config(path)
    return base, parse_sweep(base.sweep, str(path)).space


def compiled() -> tuple[int, ...]:
    """How many programs each jitted function a trial runs holds."""
    return tuple(f._cache_size() for f in (train_epoch, evaluate, manual_vs_autodiff, _init_padded))


def test_each_other_depth_gets_its_widest_net_padded_as_its_trials(tmp_path):
    base, space = base_and_space(tmp_path)
    assert space_depths(space) == [1, 2, 3]
    got = [(tuple(cfg.model.hidden), pad) for cfg, pad in depth_configs(base, space, skip=2)]
    assert got == [((7,), (7,)), ((7, 7, 7), (7, 7, 7))]


def test_a_trial_of_an_other_depth_compiles_nothing_new(tmp_path):
    base, space = base_and_space(tmp_path)
    ahead = CompileAhead(base, space)
    ahead.trial_starts(base.with_values({"model.hidden": [6]}))  # the first trial: depth 1
    ahead.wait()
    ahead.close()

    def trial(hidden):
        cfg = base.with_values({"model.hidden": hidden})
        before = compiled()
        train_run(cfg, track=False, pad_to=pad_for(cfg, space))
        return [after - b for after, b in zip(compiled(), before)]

    assert trial([5, 6]) == [0, 0, 0, 0]  # depth 2: compiled ahead
    assert trial([7, 5, 6]) == [0, 0, 0, 0]  # depth 3: compiled ahead
    # The measure sees a compile: depth 1 was the first trial's own, left to it.
    assert trial([6]) == [1, 1, 1, 1]


def test_the_thread_imports_the_plotting_modules_after_compiling_unless_stopped(tmp_path, monkeypatch):
    base, space = base_and_space(tmp_path)
    calls = []
    monkeypatch.setattr(sweeps.ahead, "import_plotting", lambda: calls.append("imported"))
    monkeypatch.setattr(sweeps.ahead, "depth_configs", lambda *a, **k: [])  # nothing to compile
    ahead = CompileAhead(base, space)
    ahead.trial_starts(base)
    ahead.wait()
    assert len(calls) == 1

    stopped = CompileAhead(base, space)
    stopped.close()  # the sweep ended before its first trial started the thread
    stopped.trial_starts(base)
    stopped.wait()
    assert len(calls) == 1


def test_a_population_sweep_only_imports_the_plotting_modules_ahead(tmp_path, monkeypatch):
    base, space = base_and_space(tmp_path)
    calls = []
    monkeypatch.setattr(sweeps.ahead, "import_plotting", lambda: calls.append("imported"))
    before = compiled()
    ahead = CompileAhead(base, space, depths=False)  # its populations' programs are vmapped ones
    ahead.trial_starts(base.with_values({"model.hidden": [6]}))
    ahead.wait()
    assert calls == ["imported"] and compiled() == before


def test_the_thread_builds_the_package_map_that_logging_the_best_model_needs(tmp_path, monkeypatch):
    from mlflow.utils import requirements_utils

    base, space = base_and_space(tmp_path)
    monkeypatch.setattr(sweeps.ahead, "import_plotting", lambda: None)
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)  # as in a new process
    ahead = CompileAhead(base, space, depths=False)
    ahead.trial_starts(base)
    ahead.wait()
    built = requirements_utils._MODULES_TO_PACKAGES
    assert built is not None and built["jax"] == ["jax"]  # module -> the distributions that provide it
