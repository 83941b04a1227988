"""The shared test helpers: the pairwise design, the integration marker, the PostgreSQL fixtures."""

from __future__ import annotations

import gc
import itertools
import os

import jax
import pytest

from experiments.collector import THRESHOLDS
from tests.support.pairwise import covers_every_pair, pairwise
from tests.support.processes import TEST_XLA_FLAGS, clean_env, jax_is_cpu_only, with_test_xla_flags


def test_pairwise_covers_every_pair_in_fewer_rows_deterministically():
    factors = {"a": (1, 2, 3), "b": "xyz", "c": (True, False), "d": range(4), "e": ("p", "q")}
    rows = pairwise(factors)
    assert covers_every_pair(rows, factors)
    assert len(rows) < len(list(itertools.product(*factors.values()))) / 4
    assert rows == pairwise(factors)


def test_a_test_that_runs_a_process_is_marked_integration(request):
    assert request.node.get_closest_marker("integration") is None  # this one runs nothing
    assert request.node.parent.get_closest_marker("integration") is None


DOUBLE = jax.jit(lambda x: 2 * x)


def test_implicit_rank_promotion_is_an_error_in_every_test_process():
    assert jax.config.jax_numpy_rank_promotion == "raise"
    with pytest.raises(ValueError, match="jax_numpy_rank_promotion"):
        jax.numpy.ones(3) + jax.numpy.ones((2, 3))


def test_the_tests_and_their_processes_compile_with_the_classic_xla_emitters():
    # in-process only where JAX is CPU-only (a GPU plugin exits on the CPU flag); processes always
    assert (TEST_XLA_FLAGS in os.environ.get("XLA_FLAGS", "")) == jax_is_cpu_only()
    assert TEST_XLA_FLAGS in clean_env()["XLA_FLAGS"]
    assert with_test_xla_flags("--xla_dump_to=/tmp/d") == f"--xla_dump_to=/tmp/d {TEST_XLA_FLAGS}"
    assert with_test_xla_flags(TEST_XLA_FLAGS) == TEST_XLA_FLAGS  # added once


def test_the_test_processes_collect_garbage_as_bplab_processes_do():
    assert gc.get_threshold() == THRESHOLDS


def test_a_plain_test_compiles_with_most_optimisations_off():
    assert jax.config.read("jax_disable_most_optimizations")
    assert float(DOUBLE(1.5)) == 3.0


@pytest.mark.optimized
def test_a_test_marked_optimized_compiles_what_a_user_runs_and_reuses_nothing_else():
    assert not jax.config.read("jax_disable_most_optimizations")
    assert DOUBLE._cache_size() == 0  # the program the plain test above compiled is gone
    assert float(DOUBLE(1.5)) == 3.0


def test_the_next_plain_test_has_them_off_again():
    assert jax.config.read("jax_disable_most_optimizations")
    assert DOUBLE._cache_size() == 0


def test_a_fresh_database_per_test(pg_url, pg_server, request):
    """Runs on the local server, or on a throwaway cluster when nothing answers there."""
    assert request.node.get_closest_marker("integration") is not None
    dbname = pg_url.rsplit("/", 1)[1]
    with pg_server.connect(dbname) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (x int); INSERT INTO t VALUES (1); SELECT count(*) FROM t")
        assert cur.fetchone() == (1,)
    conn.close()


@pytest.mark.parametrize("fixture", ["databases"])
def test_databases_are_dropped_after_the_test(fixture, request, pg_server):
    dbs = request.getfixturevalue(fixture)
    name = dbs.create("drop")
    dbs.drop_all()
    with pg_server.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert cur.fetchone() == (0,)
    conn.close()
