"""The benchmark's honesty and its result's shape, not its speed: no timing is asserted here.

The numpy reference must compute the same gradients as the core (else "25× faster than numpy" would
compare different work); the result must hold every row with finite numbers, render, and survive JSON.
"""

from __future__ import annotations

import io
import json
import math
import subprocess
import sys

import jax
import numpy as np
import pytest

import backprop_core as bc
from bplab import bench as cli
from bplab.app import main
from experiments.bench import Settings, epochs, measure, steps
from experiments.bench import numpy_reference as npr


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


# --- the result, measured on tiny problems -------------------------------------------------------

TINY = Settings(repeats=3, budget_s=0.0, max_repeats=3, block_s=0.0, mnist_samples=8, numpy_samples=8)


@pytest.fixture(scope="module")
def result():
    """A real measurement of every row kind, on one tiny net and a small matmul: few programs to compile."""
    shape = ((4, 3, 2), 2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(steps, "STEP_SHAPES", (shape, shape))
        mp.setattr(steps, "BIG", shape)
        mp.setattr(steps, "MATMUL_N", 32)
        mp.setattr(epochs, "DIGITS", (*shape, 8))
        mp.setattr(epochs, "MNIST", (*shape, 60_000))
        yield measure(quick=True, settings=TINY)


def test_result_holds_every_row_with_finite_numbers(result):
    assert result["quick"] is True
    assert result["settings"]["mnist_samples"] == 8
    assert result["env"]["backend"] == jax.default_backend()
    assert {"jax_version", "device_kind", "device_count", "cpu_count"} <= set(result["env"])
    kinds = [r["kind"] for r in result["rows"]]
    assert kinds == ["step", "peak", "step", "peak", "epoch", "epoch", "numpy"]
    for r in result["rows"]:
        for field in ("value", "baseline", "ratio"):
            assert math.isfinite(r[field]) and r[field] > 0, (r["name"], field, r[field])
        q1, q3 = r["spread"]
        assert 0 < q1 <= r["ratio"] <= q3, (r["name"], r["spread"], r["ratio"])
        assert r["repeats"] == 3
        # A row without a target has no verdict; every other row has one.
        assert (r["met"] is None) == (r["target"] == "—"), r
    assert [r["met"] is None for r in result["rows"]] == [False] * 5 + [True, False]


def test_result_survives_json(result):
    back = json.loads(cli.to_json(result))
    assert back["rows"][0].keys() == result["rows"][0].keys()
    assert back["rows"][-1]["name"] == "fused epoch vs numpy [4,3,2] b2 n=8"
    assert back["rows"][-1]["unit"] == "samples/s"


def test_table_markdown_and_plain_rendering(result, monkeypatch):
    rows = cli.table_rows(result)
    assert len(rows) == 1 + len(result["rows"]) and all(len(r) == 8 for r in rows)
    assert cli.title(result).startswith(f"bplab bench (quick) — jax {jax.__version__}, backend ")
    assert "QUICK: [784,30,10] epoch on 8 samples" in cli.notes(result)
    markdown = cli.to_markdown(result)
    assert markdown.count("\n|") == len(rows) + 1  # header, rule, one line per row
    monkeypatch.setattr(cli, "Table", None)
    plain = io.StringIO()
    cli.render(result, file=plain)
    assert plain.getvalue().splitlines()[0] == cli.title(result)


def test_verdicts_read_pass_miss_or_none():
    row = {"kind": "epoch", "name": "e", "value": 1.0, "value_label": "a", "baseline": 1.0,
           "baseline_label": "b", "unit": "samples/s", "ratio": 2.0, "spread": (1.5, 2.5),
           "repeats": 5, "target": "≥ 4×"}  # fmt: skip
    result = {"env": {}, "quick": False, "settings": {}, "rows": []}
    for met, verdict in ((True, "pass"), (False, "MISS"), (None, "—")):
        result["rows"] = [{**row, "met": met}]
        assert cli.table_rows(result)[1][-1] == verdict


def test_bench_quick_json_through_the_in_process_cli(result, monkeypatch, capsys):
    """``bplab bench --quick --json`` hands ``quick`` on and prints the JSON and nothing else; the
    measurement itself is the module's tiny ``result`` (a full quick run is a minute of CPU)."""
    calls = []
    monkeypatch.setattr(cli, "measure", lambda **kw: calls.append(kw) or result)
    with pytest.raises(SystemExit) as e:
        main(["bench", "--quick", "--json"])
    out, err = capsys.readouterr()
    assert e.value.code == 0, err
    assert calls == [{"quick": True}]
    assert json.loads(out) == json.loads(cli.to_json(result))  # JSON only: anything else would fail here


@pytest.mark.integration
def test_the_binary_has_the_bench_verb(tmp_path):
    """The exit-code wiring of ``python -m bplab bench`` (its options parse; nothing is measured)."""
    proc = subprocess.run(
        [sys.executable, "-m", "bplab", "bench", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--quick" in proc.stdout and "--json" in proc.stdout
