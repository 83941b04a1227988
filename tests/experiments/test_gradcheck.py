"""The gradient check locates the wrong equation; planted bugs are the mutants of ``tests.mutants``."""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from backprop_core import agreement, autodiff_grads, manual_grads, precision, stack_params
from backprop_core.padding import pad_params, unit_masks
from experiments.config import RunConfig, load_config
from experiments.data import load_dataset
from experiments.errors import BadInput
from experiments.gradcheck import TOLERANCES, check_gradients, gradcheck_metrics
from experiments.gradcheck.check import population_checks
from experiments.gradcheck.command import GradcheckFailed, run_gradcheck
from experiments.gradcheck.stages import check_stages
from experiments.run import train_run
from tests.mutants import MUTANTS, bp2_no_sigma_prime

from .conftest import CONFIGS


def _batch(dtype, sizes=(4, 5, 4, 3), n=8, seed=0):
    """Numpy-drawn params and batch (no eager PRNG compiles). The default shapes are those of
    ``_iris``'s net and check batch: the finite-difference coordinate draws, compiled once per
    tensor size and precision (~5 CPU-s a new set of sizes), are shared with the stage checks."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(size=(n, sizes[0])), dtype)
    y = jnp.asarray(np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)], dtype)
    params = tuple(
        (jnp.asarray(rng.normal(size=(m, k)) / np.sqrt(k), dtype), jnp.asarray(rng.normal(size=m), dtype))
        for k, m in itertools.pairwise(sizes)
    )
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


# Each fault in one precision, both precisions across the faults (a mutant's error is O(1), far
# above either tolerance; each case is one compile of the check for that mutant).
@pytest.mark.parametrize(
    ("fault", "equation", "tensor", "dtype"),
    [
        ("bp1_sign", "BP1", "delta3", "float32"),
        ("bp2_no_sigma_prime", "BP2", "delta2", "float64"),
        ("bp3_sum", "BP3", None, "float32"),
        ("bp4_double", "BP4", None, "float64"),
    ],
)
def test_planted_bugs_are_located(fault, equation, tensor, dtype):
    with precision(dtype) as dt:
        params, x, y = _batch(dt)
        result = check_gradients(
            params, x, y, activation="sigmoid", cost="quadratic", dtype=dtype, grad=MUTANTS[fault],
            finite_differences=False,
        )  # fmt: skip
    assert not result.ok
    assert result.culprit.equation == equation
    if tensor:
        assert result.culprit.tensor == tensor
    assert result.describe_failure().startswith(f"{equation} disagrees")


def test_rows_cover_every_equation():
    with precision("float32") as dt:
        params, x, y = _batch(dt)
        result = check_gradients(params, x, y, activation="sigmoid", cost="quadratic", dtype="float32")
    names = [r.tensor for r in result.rows]
    assert names == ["delta3", "delta2", "delta1", "b1", "b2", "b3", "W1", "W2", "W3"]
    assert [r["equation"] for r in result.table()][:3] == ["BP1", "BP2", "BP2"]
    assert jnp.isfinite(jnp.asarray(result.max_rel_err))


# the premise is this float32 rounding, which depends on how the program was optimised
@pytest.mark.optimized
def test_a_converged_net_whose_bias_gradient_cancels_passes_in_float32():
    """XOR at convergence: b² is a mean of four terms that nearly cancel. Plain relative error on
    that mean is rounding noise above float32's 1e-4 (this config failed as a 'gradient bug' in
    sweeps); judged against the size of its summands it passes, as a correct pass should."""

    cfg = RunConfig.from_dict(
        {
            "data": {"dataset": "xor"},
            "model": {"hidden": [2]},
            "train": {"lr": 4.158054748166767, "batch_size": 4, "epochs": 40, "gradcheck_every": 0},
        },
        "xor-converged",
    )
    result = train_run(cfg, track=False)
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


def test_gradcheck_metrics_names():
    with precision("float32") as dt:
        params, x, y = _batch(dt)
        result = check_gradients(params, x, y, activation="sigmoid", cost="quadratic", dtype="float32")
    metrics = gradcheck_metrics(result)
    assert list(metrics) == [
        "gradcheck/max_rel_err",
        "gradcheck/rel_err/W1",
        "gradcheck/rel_err/W2",
        "gradcheck/rel_err/W3",
    ]
    assert metrics["gradcheck/max_rel_err"] == result.max_rel_err


def _iris(*overrides):
    cfg = load_config(
        CONFIGS / "digits.toml",
        ["data.dataset=iris", "model.hidden=[5, 4]", "train.batch_size=8", *overrides],
    )
    return cfg, load_dataset(cfg.data, cfg.train.seed)


@pytest.mark.parametrize(("finite_differences", "second_has_fd"), [("all", True), ("init", False)])
def test_check_stages_at_init_and_after_training(finite_differences, second_has_fd):
    cfg, ds = _iris("train.dtype=float64")
    stages = check_stages(cfg, ds, epochs=2, finite_differences=finite_differences)
    assert [(s.name, s.epochs) for s in stages] == [("init", 0), ("after 2 epochs", 2)]
    assert all(s.result.ok for s in stages)
    fd = [r.fd_rel_err for r in stages[1].result.rows if r.equation == "BP4"]
    assert all(math.isfinite(v) for v in fd) is second_has_fd
    assert all(math.isfinite(r.fd_rel_err) for r in stages[0].result.rows if r.equation == "BP4")
    assert stages[0].result.table() == check_stages(cfg, ds, epochs=0)[0].result.table()  # same keys


def test_check_stages_locates_a_mutant_at_init():
    cfg, ds = _iris("train.dtype=float64")
    (only,) = check_stages(cfg, ds, epochs=0, grad=bp2_no_sigma_prime, finite_differences="init")
    assert only.name == "init" and only.result.culprit.equation == "BP2"


def test_run_gradcheck_logs_a_located_failure_and_the_fault(sqlite_store, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\ndataset = "iris"\n[model]\nhidden = [5, 4]\n[train]\nbatch_size = 8\n')
    with pytest.raises(GradcheckFailed) as e:
        run_gradcheck(config, x64=True, epochs=1, grad=bp2_no_sigma_prime)
    assert str(e.value).startswith("BP2 disagrees") and str(e.value).endswith(f"at init on {config}")
    assert [s.name for s in e.value.result.stages] == ["init", "after 1 epoch"]
    run = MlflowClient(sqlite_store).get_run(e.value.result.run_id)
    assert run.info.status == "FAILED"
    tags = run.data.tags
    assert tags["bplab.kind"] == "gradcheck" and tags["bplab.fault"] == "bp2_no_sigma_prime"
    assert tags["bplab.failure"] == "gradient_mismatch" and tags["bplab.gradcheck.equation"] == "BP2"
    assert [
        m.step
        for m in MlflowClient(sqlite_store).get_metric_history(run.info.run_id, "gradcheck/max_rel_err")
    ] == [0, 1]


def test_run_gradcheck_untracked_passes_and_refuses_negative_epochs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = run_gradcheck(CONFIGS / "xor.toml", epochs=1, track=False)
    assert result.failed is None and result.run_id is None and result.tolerance == TOLERANCES["float32"]
    with pytest.raises(BadInput, match="--epochs -1"):
        run_gradcheck(CONFIGS / "xor.toml", epochs=-1, track=False)
    assert not any(tmp_path.iterdir())


# The mutant's errors are O(1) and differ from member to member, so a member given another's rows fails.
@pytest.mark.parametrize(("dtype", "fault"), [("float32", None), ("float64", "bp2_no_sigma_prime")])
def test_a_population_check_is_each_members_own_check(dtype, fault):
    """K padded nets of different true widths: the population's check (one program) gives each member
    the rows its own check gives."""
    grad = MUTANTS[fault] if fault else None
    with precision(dtype) as dt:
        members = [_batch(dt, sizes=(4, h, 3, 3), seed=h) for h in (2, 4, 5)]
        x, y = members[0][1], members[0][2]  # a population's members share their check batch
        padded = [pad_params(p, (5, 3)) for p, _, _ in members]
        masks = [unit_masks((h, 3), (5, 3), dt) for h in (2, 4, 5)]
        alone = [
            check_gradients(
                p, x, y, activation="sigmoid", cost="quadratic", dtype=dtype, grad=grad,
                finite_differences=False, unit_masks=m,
            )
            for p, m in zip(padded, masks)
        ]  # fmt: skip
        together = population_checks(
            stack_params(padded), x, y, activation="sigmoid", cost="quadratic", dtype=dtype, grad=grad,
            unit_masks_K=stack_params(masks),
        )  # fmt: skip
    assert [r.ok for r in together] == [fault is None] * 3
    for one, mine in zip(alone, together):
        assert [r.tensor for r in mine.rows] == [r.tensor for r in one.rows]
        np.testing.assert_allclose(
            [r.rel_err for r in mine.rows],
            [r.rel_err for r in one.rows],
            rtol=1e-6,
            atol=TOLERANCES[dtype] / 100,
        )
    if fault:
        assert {r.culprit.tensor for r in together} == {"delta2"}
        assert len({r.rows[1].rel_err for r in together}) == 3  # its error differs by member
