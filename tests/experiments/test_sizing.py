"""The memory estimate: small nets pass, a hundred-million-unit layer is refused in one line with its size."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments import sizing
from experiments.config import load_config
from experiments.data import load_dataset
from experiments.errors import BadInput
from experiments.sizing import Estimate, check_fits, check_run_fits, estimate_bytes, human_bytes

CONFIGS = Path(__file__).parents[2] / "experiments" / "configs"

DIGITS = {"n_train": 1257, "n_eval": 270}  # 1,797 rows, 15 % each held out for validation and test
GB = 10**9


def digits_estimate(hidden, **options):
    return estimate_bytes((64, *hidden, 10), **{"batch_size": 10, "dtype": "float32", **DIGITS, **options})


def test_the_parts_follow_the_documented_model():
    e = estimate_bytes((2, 3, 4, 1), batch_size=4, n_train=10, n_eval=5, dtype="float64", host_copy=False)
    P, U, M, w = 3 * 3 + 4 * 4 + 1 * 5, 3 + 4 + 1, 3 + 4, 2 + 1
    assert e == Estimate(
        parameters=3 * P * 8,
        activations=6 * U * 4 * 8,
        data=(10 + 2 * 5) * w * 8,
        epoch_copy=12 * w * 8,  # ⌈10 / 4⌉ = 3 batches of 4 rows
        evaluation=M * 5 * 8,
    )
    assert e.total == e.parameters + e.data + max(e.activations + e.epoch_copy, e.evaluation)
    with_host = estimate_bytes((2, 3, 4, 1), batch_size=4, n_train=10, n_eval=5, dtype="float64")
    assert with_host.data == 2 * e.data


def test_tiny_nets_fit():
    for hidden in ([30], [100, 100], [4096]):
        check_fits(digits_estimate(hidden), 4 * GB, what=f"model.hidden={hidden}", where="cpu")


def test_a_hundred_million_units_are_refused_with_the_estimate_in_one_line():
    estimate = digits_estimate([100_000_000])
    with pytest.raises(BadInput) as e:
        check_fits(estimate, 21_300_000_000, what="model.hidden=[100000000]", where="cpu")
    line = str(e.value)
    assert "\n" not in line
    assert line.startswith(f"model.hidden=[100000000] needs about {human_bytes(estimate.total)} (")
    assert "(parameters 90.0 GB + data " in line  # 7.5 × 10⁹ float32 parameters, three copies
    assert "about 198 GB" in line  # + evaluation: 270 rows × 10⁸ units × 4 B
    assert "but 21.3 GB is available on cpu" in line


def test_the_headroom_refuses_what_would_only_just_fit():
    estimate = digits_estimate([4096])
    check_fits(estimate, int(estimate.total / sizing.HEADROOM) + 1, what="x")
    with pytest.raises(BadInput, match="may use 80%"):
        check_fits(estimate, estimate.total + 1, what="x")


@pytest.mark.parametrize("option", ["population", "batch_size"])
def test_the_estimate_grows_linearly(option):
    # n_eval = 1: the training step, not the evaluation, is the peak, as on a large training set.
    e1, e2, e4 = (digits_estimate([512], n_eval=1, **{option: k}) for k in (1, 2, 4))
    assert e4.total - e2.total == 2 * (e2.total - e1.total) > 0
    assert e4.activations == 4 * e1.activations


def test_a_population_shares_its_data():
    one, eight = digits_estimate([64]), digits_estimate([64], population=8)
    assert eight.data == one.data and eight.parameters == 8 * one.parameters


def test_float64_doubles_what_lives_on_the_device():
    e32 = digits_estimate([64], host_copy=False)
    e64 = digits_estimate([64], host_copy=False, dtype="float64")
    assert e64.total == 2 * e32.total


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (1_500_000, "1.5 MB"),
        (999_960, "1.0 MB"),
        (21_300_000_000, "21.3 GB"),
        (318_000_000_000, "318 GB"),
        (2_400_000_000_000, "2.4 TB"),
        (10**30, "1000000000000 EB"),
    ],
)
def test_human_bytes(n, text):
    assert human_bytes(n) == text


def test_available_bytes_is_positive_on_this_host():
    assert sizing.available_bytes("cpu") > 0
    assert sizing.host_available_bytes() > 0


def test_host_memory_falls_back_when_proc_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(sizing, "Path", lambda p: tmp_path / "absent")
    monkeypatch.setattr(sizing, "CGROUP", tmp_path / "absent")
    assert sizing.host_available_bytes() > 0


def test_a_config_is_checked_against_its_data():
    cfg = load_config(CONFIGS / "digits.toml", [])
    ds = load_dataset(cfg.data, cfg.train.seed)
    check_run_fits(cfg, ds, backend="cpu")
    with pytest.raises(BadInput) as e:
        check_run_fits(cfg, ds, hidden=[100_000_000], processes=4, backend="cpu")
    line = str(e.value)
    what = f"{cfg.source}: model.hidden=[100000000] with train.batch_size=10"
    assert line.startswith(f"{what} needs about 198 GB")
    assert "is available on cpu, shared by 4 workers" in line
