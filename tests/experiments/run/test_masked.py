"""A run padded to wider hidden layers under unit masks is the unpadded run, in one program per depth.

Tolerances (normwise relative, per epoch and per weight tensor): ``1e-5`` in float32, ``1e-12`` in
float64 — padding only changes how XLA blocks the sums of the matrix products, i.e. rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_core import evaluate, train_epoch
from experiments.config import load_config
from experiments.gradcheck.numerics import manual_vs_autodiff
from experiments.run import train_run
from tests.support.processes import CONFIGS

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
CURVES = ("train_loss", "val_loss", "val_accuracy", "grad_norm/W1", "saturation/layer1")


def cfg(*overrides):
    base = [
        "data.dataset=iris",
        "train.epochs=2",  # two points per curve; the end-of-run check at epoch 2
        "train.batch_size=8",
        "train.lr=0.5",
        "train.gradcheck_every=2",
    ]
    return load_config(CONFIGS / "digits.toml", [*base, *overrides])


def rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return float(np.linalg.norm(a - b) / scale) if scale else 0.0


@pytest.mark.parametrize("grad", ["manual", "autodiff"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_padded_run_equals_unpadded_run(dtype, grad):
    c = cfg("model.hidden=[5, 3]", f"train.dtype={dtype}", f"train.grad={grad}", "model.init=scaled")
    plain = train_run(c, track=False)
    padded = train_run(c, track=False, pad_to=(9, 6))
    tol = TOLERANCE[dtype]
    for name in CURVES:
        assert rel([m[name] for m in padded.history], [m[name] for m in plain.history]) <= tol, name
    for key in plain.final:
        assert rel(padded.final[key], plain.final[key]) <= tol, key
    assert [W.shape for W, _ in padded.params] == [W.shape for W, _ in plain.params]  # unpadded weights
    for (W, b), (W0, b0) in zip(padded.params, plain.params):
        assert rel(W, W0) <= tol and rel(b, b0) <= tol
    # the end-of-run check ran on the padded net under masks and agrees like the unpadded one
    assert padded.gradcheck.ok and [r.tensor for r in padded.gradcheck.rows] == [
        r.tensor for r in plain.gradcheck.rows
    ]
    assert padded.gradcheck.max_rel_err <= TOLERANCE[dtype] * 10


def test_widths_padded_alike_compile_each_program_once():
    programs = (train_epoch, evaluate, manual_vs_autodiff)
    pad_to = (23,)  # a shape no other test uses: every compile below is this test's
    before = [p._cache_size() for p in programs]
    first = train_run(cfg("model.hidden=[2]"), track=False, pad_to=pad_to)
    compiled = [p._cache_size() for p in programs]
    others = [train_run(cfg(f"model.hidden=[{w}]"), track=False, pad_to=pad_to) for w in (7, 23)]
    assert compiled[0] - before[0] == 1  # one training epoch for every width
    assert [p._cache_size() for p in programs] == compiled  # the other widths compiled nothing
    assert [r.params[0][0].shape for r in (first, *others)] == [(2, 4), (7, 4), (23, 4)]
