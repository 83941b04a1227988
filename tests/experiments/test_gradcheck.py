"""The gradient check locates the wrong equation; planted bugs come from the test-only fault seam."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest

from backprop_core import init_params, precision
from experiments import faults
from experiments.gradcheck import TOLERANCES, check_gradients


def _batch(dtype, sizes=(6, 5, 4, 3), n=8, key=0):
    kx, ky, kp = jax.random.split(jax.random.key(key), 3)
    x = jax.random.uniform(kx, (n, sizes[0]), dtype)
    y = jax.nn.one_hot(jax.random.randint(ky, (n,), 0, sizes[-1]), sizes[-1], dtype=dtype)
    params = init_params(kp, sizes, init="scaled", dtype=dtype)
    return params, x, y


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("activation", "cost"),
    [("sigmoid", "quadratic"), ("tanh", "cross_entropy"), ("relu", "softmax_cross_entropy")],
)
def test_real_backward_passes(dtype, activation, cost):
    with precision(dtype) as dt:
        params, x, y = _batch(dt)
        result = check_gradients(params, x, y, activation=activation, cost=cost, dtype=dtype)
    assert result.ok, result.describe_failure()
    assert result.culprit is None
    assert result.max_rel_err <= TOLERANCES[dtype]
    # autodiff itself agrees with central differences (float64 only: float32 FD is ~1e-3 noise)
    if dtype == "float64":
        assert max(r.fd_rel_err for r in result.rows if r.equation in ("BP3", "BP4")) < 1e-6


@pytest.mark.parametrize(
    ("fault", "equation", "tensor"),
    [
        ("bp1_sign", "BP1", "delta3"),
        ("bp2_no_sigma_prime", "BP2", "delta2"),
        ("bp3_sum", "BP3", None),
        ("bp4_double", "BP4", None),
    ],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_planted_bugs_are_located(monkeypatch, fault, equation, tensor, dtype):
    monkeypatch.setenv(faults.ENV, fault)
    backward_fn = faults.backward_fn()
    with precision(dtype) as dt:
        params, x, y = _batch(dt)
        result = check_gradients(
            params, x, y, activation="sigmoid", cost="quadratic", dtype=dtype, backward_fn=backward_fn,
            finite_differences=False,
        )  # fmt: skip
    assert not result.ok
    assert result.culprit.equation == equation
    if tensor:
        assert result.culprit.tensor == tensor
    assert result.describe_failure().startswith(f"{equation} disagrees")


def test_fault_seam_is_off_by_default(monkeypatch):
    monkeypatch.delenv(faults.ENV, raising=False)
    assert faults.backward_fn() is None


def test_unknown_fault_is_refused(monkeypatch):
    monkeypatch.setenv(faults.ENV, "bp5")
    with pytest.raises(ValueError, match="not a known fault"):
        faults.backward_fn()


def test_same_fault_same_function(monkeypatch):
    monkeypatch.setenv(faults.ENV, "bp1_sign")
    assert faults.backward_fn() is faults.backward_fn()  # one compiled epoch, not one per call


def test_rows_cover_every_equation():
    with precision("float32") as dt:
        params, x, y = _batch(dt)
        result = check_gradients(params, x, y, activation="sigmoid", cost="quadratic", dtype="float32")
    names = [r.tensor for r in result.rows]
    assert names == ["delta3", "delta2", "delta1", "b1", "b2", "b3", "W1", "W2", "W3"]
    assert [r["equation"] for r in result.table()][:3] == ["BP1", "BP2", "BP2"]
    assert jnp.isfinite(jnp.asarray(result.max_rel_err))


def test_a_converged_net_whose_bias_gradient_cancels_passes_in_float32():
    """XOR at convergence: b² is a mean of four terms that nearly cancel. Plain relative error on
    that mean is rounding noise above float32's 1e-4 (this config failed as a 'gradient bug' in
    sweeps); judged against the size of its summands it passes, as a correct pass should."""
    from backprop_core import agreement, autodiff_grads, manual_grads
    from experiments.config import RunConfig
    from experiments.data import load_dataset
    from experiments.runner import train_run

    cfg = RunConfig.from_dict(
        {
            "data": {"dataset": "xor"},
            "model": {"hidden": [2]},
            "train": {"lr": 4.158054748166767, "batch_size": 4, "epochs": 40, "gradcheck_every": 0},
        },
        "xor-converged",
    )
    result = train_run(cfg, track=False, show_progress=False)
    assert result.gradcheck.ok, result.gradcheck.describe_failure()

    ds = load_dataset(cfg.data, cfg.train.seed)
    params = jax.tree.map(jnp.asarray, result.params)
    x, y = jnp.asarray(ds.x_train, jnp.float32), jnp.asarray(ds.y_train, jnp.float32)

    @jax.jit  # both gradients in one program, as the check computes them
    def plain_b2_rel_err(params, x, y):
        manual, auto = manual_grads(params, x, y), autodiff_grads(params, x, y)
        return agreement(manual[1][1], auto[1][1]).rel_err

    plain = float(plain_b2_rel_err(params, x, y))
    assert plain > TOLERANCES["float32"], "the premise: the plain check would have cried wolf"
    assert check_gradients(params, x, y, activation="sigmoid", cost="quadratic", dtype="float32").ok
