"""The benchmark's honesty, not its speed: no timing is asserted here.

The numpy reference must compute the same gradients as the core (else "25× faster than numpy" would
compare different work), and ``bplab bench`` must run end to end through the real CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys

import jax
import numpy as np
import pytest

import backprop_core as bc
from experiments import numpy_reference as npr


@pytest.mark.parametrize(("sizes", "batch"), [((3, 4, 2), 1), ((5, 4, 3, 2), 7), ((64, 30, 10), 10)])
def test_numpy_reference_grads_equal_manual_grads(sizes, batch):
    with bc.precision("float64") as dtype:
        k_params, k_x, k_y = jax.random.split(jax.random.key(0), 3)
        params = bc.init_params(k_params, sizes, dtype=dtype)
        x = jax.random.uniform(k_x, (batch, sizes[0]), dtype)
        y = jax.random.uniform(k_y, (batch, sizes[-1]), dtype)
        expected = bc.manual_grads(params, x, y)

        np_params = [(np.asarray(W), np.asarray(b)) for W, b in params]
        got = npr.mini_batch_grads(np_params, np.asarray(x), np.asarray(y))

    assert len(got) == len(expected)
    for (gW, gb), (eW, eb) in zip(got, expected):
        assert gW.dtype == np.float64
        assert gW.shape == eW.shape and gb.shape == eb.shape
        np.testing.assert_allclose(gW, np.asarray(eW), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gb, np.asarray(eb), rtol=1e-12, atol=1e-15)


def test_numpy_reference_update_is_pure_sgd():
    rng = np.random.default_rng(0)
    params = [(rng.normal(size=(3, 2)), rng.normal(size=3)), (rng.normal(size=(1, 3)), rng.normal(size=1))]
    before = [(W.copy(), b.copy()) for W, b in params]
    xs, ys = rng.random((4, 2)), rng.random((4, 1))

    new = npr.update_mini_batch(params, xs, ys, eta=0.5)

    grads = npr.mini_batch_grads(params, xs, ys)
    for (W, b), (nW, nb), (gW, gb), (W0, b0) in zip(params, new, grads, before):
        np.testing.assert_array_equal(W, W0)  # the inputs are not mutated
        np.testing.assert_array_equal(b, b0)
        np.testing.assert_allclose(nW, W - 0.5 * gW)
        np.testing.assert_allclose(nb, b - 0.5 * gb)


def test_numpy_sgd_epoch_handles_a_partial_last_batch():
    rng = np.random.default_rng(1)
    params = [(rng.normal(size=(2, 3)), rng.normal(size=2))]
    x, y = rng.random((5, 3)), rng.random((5, 2))

    got = npr.sgd_epoch(params, x, y, eta=0.1, batch_size=2)

    expected = params
    for start in (0, 2, 4):
        expected = npr.update_mini_batch(expected, x[start : start + 2], y[start : start + 2], 0.1)
    for (W, b), (eW, eb) in zip(got, expected):
        np.testing.assert_allclose(W, eW)
        np.testing.assert_allclose(b, eb)


def test_bench_quick_json_through_the_cli(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "bplab", "bench", "--quick", "--json"],
        cwd=tmp_path,  # the bench writes nothing; a stray file would land here, not in the repo
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)  # JSON only: anything else on stdout would fail here

    assert result["quick"] is True
    assert result["env"]["backend"] == jax.default_backend()
    rows = result["rows"]
    kinds = [r["kind"] for r in rows]
    assert kinds.count("step") == 4
    assert kinds.count("epoch") == 2
    assert kinds.count("numpy") == 1
    assert kinds.count("peak") == 1
    for r in rows:
        for field in ("value", "baseline", "ratio"):
            assert np.isfinite(r[field]) and r[field] > 0, (r["name"], field, r[field])
        q1, q3 = r["spread"]
        assert 0 < q1 <= r["ratio"] <= q3, (r["name"], r["spread"], r["ratio"])
        assert r["repeats"] >= 5
        assert r["met"] in (True, False, None)
    assert all(r["met"] is not None for r in rows if r["kind"] != "epoch")
