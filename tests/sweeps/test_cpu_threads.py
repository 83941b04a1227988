"""A sweep of small nets trains on one XLA CPU thread per trial it trains at once, settled from its
space before any computation."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from experiments.config import load_config
from experiments.cpu_threads import ENV
from experiments.errors import BadInput
from experiments.tracking.writer import drain
from sweeps.preflight import ENV_LANES, fit_cpu_threads, lanes_wanted
from sweeps.space import parse_sweep
from sweeps.sweep import run_sweep
from tests.support.processes import CONFIGS, PRINT_POOL_THREADS, clean_env
from tests.sweeps.conftest import write_config
from tests.sweeps.inprocess import use_tmp_stores

DIGITS = CONFIGS / "digits.toml"


def spec_of(overrides: list[str]):
    cfg = load_config(DIGITS, overrides)
    return cfg, parse_sweep(cfg.sweep, cfg.source)


def test_the_digits_space_gets_one_thread_per_lane(no_nproc):
    assert fit_cpu_threads(*spec_of([]), population=None) == 1
    assert os.environ[ENV] == "1"
    assert fit_cpu_threads(*spec_of([]), population=None, lanes=2) == 2
    assert os.environ[ENV] == "2"


def test_a_wide_space_or_a_large_population_keeps_the_pool(no_nproc):
    # widths up to 2048 at batch 10: 10 × 2048 × 2048 multiply-adds a step
    assert fit_cpu_threads(*spec_of(["sweep.space.width=[32, 2048]"]), population=None, lanes=2) == 1
    # 16 members of the digits space multiply in one product: 16 × 10 × 256 × 256
    assert fit_cpu_threads(*spec_of([]), population=16, lanes=2) == 1
    assert ENV not in os.environ


def test_a_users_nproc_means_one_trial_at_a_time(no_nproc, monkeypatch):
    monkeypatch.setenv(ENV, "2")
    assert fit_cpu_threads(*spec_of([]), population=None, lanes=2) == 1


def test_lanes_wanted_is_one_or_the_setting(monkeypatch):
    monkeypatch.delenv(ENV_LANES, raising=False)
    assert lanes_wanted() == 1
    monkeypatch.setenv(ENV_LANES, "3")
    assert lanes_wanted() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(ENV_LANES, bad)
        with pytest.raises(BadInput, match=ENV_LANES):
            lanes_wanted()


# A sweep in a fresh process, then how many threads the CPU client's pool got.
SWEEP = (
    """
import sys
from sweeps.sweep import run_sweep
result = run_sweep(sys.argv[1], workers=1)
assert result.exit_code == 0, result
"""
    + PRINT_POOL_THREADS
)


@pytest.mark.integration
def test_a_sweep_trains_on_the_threads_it_chose(tmp_path, jax_cache):
    """In a real sweep process the setting comes before the client is made (else the pool would be
    one thread per core): one thread for each of the trials it trains at once."""
    cfg = write_config(tmp_path, n_trials=1, epochs=1)
    r = subprocess.run(
        [sys.executable, "-c", SWEEP, str(cfg)],
        cwd=tmp_path, env=clean_env(jax_cache, BPLAB_LANES="3"), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert int(r.stdout.strip().splitlines()[-1]) == 3


def test_a_sweep_for_workers_elsewhere_reads_no_data(tmp_path, monkeypatch, no_nproc):
    """``--workers 0`` trains nothing here: its data file may exist only where the workers run."""
    use_tmp_stores(monkeypatch, tmp_path)
    data = '[data]\ndataset = "file"\npath = "only-on-the-workers.csv"\n'
    cfg = write_config(tmp_path, name="elsewhere", n_trials=2, epochs=1)
    cfg.write_text(cfg.read_text().replace('[data]\ndataset = "xor"\n', data))
    assert run_sweep(cfg, workers=0).exit_code == 0
    assert ENV not in os.environ
    drain()  # the parent run's queued writes, into this test's store
