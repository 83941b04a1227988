"""``train_test_indices`` picks the rows scikit-learn's ``train_test_split`` picks, in its order."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from experiments.config import DataConfig
from experiments.data import split
from experiments.data.loaders import bundled
from experiments.data.shuffle_split import train_test_indices
from experiments.data.split import resolve_task, split_and_scale
from experiments.errors import BadInput
from tests.support.processes import python_prints

FRACTIONS = [0.1, 0.15, 0.25, 0.3, 0.5, 0.15 / 0.85]  # the last: the validation share of the defaults
SEEDS = range(21)


def _sklearn(n: int, test_size: float, seed: int, stratify: np.ndarray | None):
    return train_test_split(np.arange(n), test_size=test_size, random_state=seed, stratify=stratify)


def _assert_same(n: int, test_size: float, seed: int, stratify: np.ndarray | None) -> None:
    """Same ``(train, test)`` as scikit-learn, or a ValueError where scikit-learn raises one."""
    try:
        want = _sklearn(n, test_size, seed, stratify)
    except ValueError:
        with pytest.raises(ValueError):
            train_test_indices(n, test_size, seed, stratify)
        return
    got = train_test_indices(n, test_size, seed, stratify)
    case = f"n={n} test_size={test_size} seed={seed} stratify={stratify is not None}"
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w), case


def _labels(counts: list[int], seed: int, values: list | None = None) -> np.ndarray:
    """A shuffled label column with ``counts[i]`` rows of class ``values[i]``."""
    values = list(range(len(counts))) if values is None else values
    y = np.repeat(np.array(values), counts)
    return np.random.default_rng(seed).permutation(y)


CLASS_COUNTS = [
    [3, 2],  # the smallest that splits
    [5, 5],
    [7, 9, 11],  # 11 rows smaller than 10 classes below: sklearn's error cases come along
    [50, 50, 50],  # iris
    [212, 357],  # breast cancer
    [178, 182, 177, 183, 181, 182, 181, 179, 174, 180],  # digits
    [900, 60, 30, 8, 2],  # imbalanced
    [10, 10, 4, 4, 4, 2, 2],  # tied counts: remainders tie, broken by the rng
    [2] * 10,  # tied and too few to hold every class in a small part
    [1000, 1000],
    [150, 150, 150, 150, 150, 150, 150, 150, 150, 150],
    [13, 40, 13, 40, 13, 40, 13, 40],
]


@pytest.mark.parametrize("test_size", FRACTIONS)
def test_unstratified_matches_sklearn(test_size):
    for n in (5, 6, 7, 10, 13, 50, 101, 150, 442, 569, 1000, 1797, 2000):
        for seed in SEEDS:
            _assert_same(n, test_size, seed, None)


@pytest.mark.parametrize("test_size", FRACTIONS)
def test_stratified_matches_sklearn(test_size):
    for k, counts in enumerate(CLASS_COUNTS):
        for seed in SEEDS:
            y = _labels(counts, seed=k * 100 + seed)
            _assert_same(len(y), test_size, seed, y)


def test_stratified_labels_need_not_be_0_to_k():
    for seed in SEEDS:
        y = _labels([30, 12, 12, 45], seed, values=[7, -3, 100, 2])
        _assert_same(len(y), 0.2, seed, y)
        _assert_same(len(y), 0.2, seed, y.astype(float))


@pytest.mark.parametrize(
    ("n", "test_size", "counts", "message"),
    [
        (10, 0.0, None, r"test_size=0\.0 must be a fraction in \(0, 1\)"),
        (10, 1.0, None, r"test_size=1\.0 must be a fraction in \(0, 1\)"),
        (10, -0.1, None, r"test_size=-0\.1 must be a fraction"),
        (5, 0.9, None, r"with 5 rows and test_size=0\.9, the training part would be empty"),  # ceil(4.5)
        (0, 0.5, None, r"with 0 rows .* training part would be empty"),
        (None, 0.3, [6, 1], r"at least 2 rows to stratify; these have 1: \[1\]"),
        (None, 0.75, [3, 3, 2, 3], r"training part of 2 rows cannot hold one row of each of 4 classes"),
        (None, 0.1, [3, 3, 2, 3], r"held-out part of 2 rows cannot hold one row of each of 4 classes"),
        (None, 0.15, [2] * 10, r"held-out part of 3 rows cannot hold one row of each of 10 classes"),
    ],
)
def test_errors_where_sklearn_errs(n, test_size, counts, message):
    stratify = None if counts is None else _labels(counts, 0)
    n = len(stratify) if n is None else n
    with pytest.raises(ValueError):
        _sklearn(n, test_size, 0, stratify)
    with pytest.raises(ValueError, match=message):
        train_test_indices(n, test_size, 0, stratify)


def test_stratify_must_have_one_label_per_row():
    with pytest.raises(ValueError, match="one label per row"):
        train_test_indices(10, 0.2, 0, np.zeros(9, dtype=int))


def test_a_class_with_one_row_is_a_bad_input():
    X = np.arange(40.0).reshape(20, 2)
    y = np.array([0] * 10 + [1] * 9 + [2])
    with pytest.raises(BadInput, match=r"cannot split 20 rows .*these have 1: \[2\]"):
        split_and_scale("f", X, y, "classification", DataConfig(dataset="file"), 0, "data.path = 'f'")


@pytest.mark.parametrize("name", ["digits", "iris", "breast_cancer", "diabetes"])
def test_bundled_splits_are_the_ones_sklearn_made(name, monkeypatch):
    X, y = bundled(name)
    task = resolve_task("auto", y, name)
    for seed in (0, 1, 7, 42):
        for test_fraction, val_fraction in ((0.15, 0.15), (0.2, 0.1), (0.1, 0.3)):
            data = DataConfig(dataset=name, test_fraction=test_fraction, val_fraction=val_fraction)
            got = split_and_scale(name, X, y, task, data, seed, name)
            with monkeypatch.context() as m:  # the same function, split by scikit-learn as it used to be
                m.setattr(split, "train_test_indices", _sklearn)
                want = split_and_scale(name, X, y, task, data, seed, name)
            for field in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "x_shift", "x_scale"):
                g, w = getattr(got, field), getattr(want, field)
                assert g.dtype == w.dtype and np.array_equal(g, w), (seed, test_fraction, field)
            assert got.classes == want.classes


@pytest.mark.integration
def test_loading_digits_does_not_import_sklearn():
    code = (
        "import sys\n"
        "import experiments.data.split\n"
        "from experiments.config import DataConfig\n"
        "from experiments.data.load import load_dataset\n"
        "load_dataset(DataConfig(dataset='digits'), seed=0)\n"
        "print(sorted(m for m in sys.modules if m == 'sklearn' or m.startswith('sklearn.')))\n"
    )
    out = python_prints(code)
    assert out.strip() == "[]", out
