"""One XLA CPU thread per trial for small nets: the rule, and that XLA's CPU client really takes it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from experiments import cpu_threads
from experiments.cpu_threads import ENV, SMALL_PRODUCT, largest_product, pool_for
from tests.support.processes import PRINT_POOL_THREADS, clean_env

# How many threads the CPU client's pool got, after the first JAX computation of a fresh process.
POOL_THREADS = """
import jax.numpy as jnp
{before}
jnp.zeros(3).block_until_ready()
"""


def pool_threads(before: str) -> int:
    code = POOL_THREADS.format(before=before) + PRINT_POOL_THREADS
    r = subprocess.run(
        [sys.executable, "-c", code], env=clean_env(), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def test_largest_product_is_the_widest_layer_times_batch_and_members():
    assert largest_product((64, 256, 10), 10) == 10 * 64 * 256
    assert largest_product((64, 256, 256, 10), 10) == 10 * 256 * 256
    assert largest_product((64, 256, 256, 10), 10, population=16) == 16 * 10 * 256 * 256


def test_a_small_net_gets_one_thread_per_trial(no_nproc):
    assert pool_for(largest_product((64, 256, 256, 10), 10))
    assert os.environ[ENV] == "1"
    assert pool_for(largest_product((64, 256, 256, 10), 10), threads=2)  # its own setting is not the user's
    assert os.environ[ENV] == "2"


def test_a_large_net_keeps_the_pool(no_nproc):
    assert not pool_for(SMALL_PRODUCT)
    assert not pool_for(largest_product((784, 1024, 1024, 10), 256), threads=2)
    assert ENV not in os.environ


def test_the_users_nproc_wins(no_nproc, monkeypatch):
    monkeypatch.setenv(ENV, "2")
    assert not pool_for(1)
    assert not pool_for(1, threads=2)
    assert os.environ[ENV] == "2"


def test_nothing_changes_where_jax_may_use_an_accelerator(no_nproc, monkeypatch):
    monkeypatch.setattr(cpu_threads, "cpu_only", lambda: False)
    assert not pool_for(1)
    assert ENV not in os.environ


def test_jax_platforms_cpu_is_cpu_only(monkeypatch):
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    assert cpu_threads.cpu_only()
    monkeypatch.setenv("JAX_PLATFORMS", "")
    monkeypatch.setattr(cpu_threads.importlib.util, "find_spec", lambda name: object())  # a plugin
    assert not cpu_threads.cpu_only()


@pytest.mark.integration
def test_xla_sizes_its_pool_from_the_setting():
    """The knob itself: a jaxlib that stopped reading ``NPROC`` would fail here, not silently slow down."""
    call = "from experiments.cpu_threads import pool_for; pool_for({}, threads={})"
    assert pool_threads(call.format(1, 1)) == 1
    assert pool_threads(call.format(1, 3)) == 3
    assert pool_threads(call.format(SMALL_PRODUCT, 1)) == len(os.sched_getaffinity(0))
