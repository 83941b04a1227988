"""Bundled sets split with a seed, stratified by class, scaled on the training split only."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.config import DataConfig
from experiments.data import TARGET_HIGH, TARGET_LOW, load_dataset


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
