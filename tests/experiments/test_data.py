"""Datasets: bundled sets, user files with clear errors, seeded stratified splits, train-only scaling."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.config import DataConfig
from experiments.data import TARGET_HIGH, TARGET_LOW, load_dataset
from experiments.errors import BadInput


@pytest.mark.parametrize(
    ("name", "n_inputs", "n_outputs", "classification"),
    [
        ("digits", 64, 10, True),
        ("iris", 4, 3, True),
        ("breast_cancer", 30, 2, True),
        ("diabetes", 10, 1, False),
    ],
)
def test_bundled_sets(name, n_inputs, n_outputs, classification):
    ds = load_dataset(DataConfig(dataset=name), seed=0)
    assert (ds.n_inputs, ds.n_outputs, ds.is_classification) == (n_inputs, n_outputs, classification)
    total = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    assert abs(len(ds.x_test) / total - 0.15) < 0.01
    if classification:
        assert np.all(ds.y_train.sum(axis=1) == 1)  # one-hot rows
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert np.isfinite(x).all()


def test_xor_is_four_points_everywhere():
    ds = load_dataset(DataConfig(dataset="xor"), seed=3)
    assert ds.x_train.shape == (4, 2) and ds.y_train.shape == (4, 1)
    np.testing.assert_array_equal(ds.x_test, ds.x_train)
    np.testing.assert_array_equal(ds.y_train[:, 0], [0, 1, 1, 0])


def test_minmax_scaling_is_fitted_on_the_training_split_only():
    ds = load_dataset(DataConfig(dataset="iris", scale="minmax"), seed=0)
    assert ds.x_train.min() == pytest.approx(0.0) and ds.x_train.max() == pytest.approx(1.0)
    np.testing.assert_allclose(ds.x_train.min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(ds.x_train.max(axis=0), 1.0, atol=1e-12)
    # The held-out rows went through the same (train) shift and scale, so they need not span [0, 1].
    raw_test = ds.x_test * ds.x_scale + ds.x_shift
    np.testing.assert_allclose((raw_test - ds.x_shift) / ds.x_scale, ds.x_test)


def test_standard_scaling():
    ds = load_dataset(DataConfig(dataset="breast_cancer", scale="standard"), seed=0)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-9)


def test_regression_targets_inside_the_sigmoid_range():
    ds = load_dataset(DataConfig(dataset="diabetes"), seed=0)
    assert ds.y_train.min() == pytest.approx(TARGET_LOW) and ds.y_train.max() == pytest.approx(TARGET_HIGH)
    assert ds.y_test.min() > 0 and ds.y_test.max() < 1


def test_split_is_stratified_and_seeded():
    a = load_dataset(DataConfig(dataset="digits"), seed=1)
    b = load_dataset(DataConfig(dataset="digits"), seed=2)
    assert not np.array_equal(a.x_train, b.x_train)
    train_share = a.y_train.mean(axis=0)
    test_share = a.y_test.mean(axis=0)
    np.testing.assert_allclose(train_share, test_share, atol=0.02)  # every class in proportion


def test_cached_per_process():
    assert load_dataset(DataConfig(dataset="iris"), 5) is load_dataset(DataConfig(dataset="iris"), 5)
    assert load_dataset(DataConfig(dataset="iris"), 5) is not load_dataset(DataConfig(dataset="iris"), 6)


def _file_cfg(path, **kw):
    return DataConfig(dataset="file", path=str(path), **kw)


def test_npz_classification(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int) + 1  # labels 1 and 2
    np.savez(tmp_path / "d.npz", X=X, y=y)
    ds = load_dataset(_file_cfg(tmp_path / "d.npz"), 0)
    assert ds.is_classification and ds.n_outputs == 2 and ds.classes == (1, 2)


def test_csv_regression_with_header(tmp_path):
    rng = np.random.default_rng(0)
    table = np.column_stack([rng.normal(size=(40, 2)), rng.normal(size=40) * 10])
    path = tmp_path / "r.csv"
    np.savetxt(path, table, delimiter=",", header="a,b,target", comments="")
    ds = load_dataset(_file_cfg(path), 0)
    assert not ds.is_classification and ds.n_inputs == 2 and ds.n_outputs == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: np.savez(p / "f.npz", X=np.zeros((20, 2)), y=np.zeros(19)), "X has 20 rows but y has 19"),
        (lambda p: np.savez(p / "f.npz", X=np.zeros(20), y=np.zeros(20)), "X must be 2-D"),
        (lambda p: np.savez(p / "f.npz", X=np.zeros((20, 2))), r"missing array\(s\) y"),
        (lambda p: np.savez(p / "f.npz", X=np.zeros((5, 2)), y=np.arange(5)), "too few rows"),
        (
            lambda p: np.savez(p / "f.npz", X=np.where(np.eye(20, 2) > 0, np.nan, 1.0), y=np.arange(20) % 2),
            "NaN or inf",
        ),
        (lambda p: np.savez(p / "f.npz", X=np.array([["a"] * 2] * 20), y=np.arange(20)), "must be numeric"),
        (lambda p: (p / "f.npz").write_bytes(b"not a zip"), "cannot read as .npz"),
        (lambda p: (p / "f.csv").write_text("1,2\n3,x\n"), "not a table of numbers"),
        (lambda p: (p / "f.csv").write_text("\n".join(["1"] * 20)), "at least two columns"),
        (lambda p: (p / "f.txt").write_text("1,2\n"), "unsupported file type"),
    ],
)
def test_bad_user_files(tmp_path, make, message):
    make(tmp_path)
    path = next(tmp_path.glob("f.*"))
    with pytest.raises(BadInput, match=message) as e:
        load_dataset(_file_cfg(path), 0)
    assert "data.path" in str(e.value) and "\n" not in str(e.value)


def test_missing_user_file(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        load_dataset(_file_cfg(tmp_path / "gone.npz"), 0)


def test_npz_with_pickled_objects_is_refused(tmp_path):
    np.savez(tmp_path / "f.npz", X=np.array([object()] * 20, dtype=object).reshape(10, 2), y=np.arange(10))
    with pytest.raises(BadInput, match=r"cannot read as \.npz"):
        load_dataset(_file_cfg(tmp_path / "f.npz"), 0)
