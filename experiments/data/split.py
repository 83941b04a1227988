"""Raw arrays → a :class:`Dataset`: the task decided, targets encoded, rows split, inputs scaled.

Splits: test, then validation, are held out with ``data.test_fraction`` / ``data.val_fraction``,
stratified by class for classification, seeded by ``train.seed``.

Scaling is fitted on the training split only and applied to all three (``data.scale``):
``minmax`` (each input to [0, 1], like pixels / 255), ``standard`` (zero mean, unit variance) or
``none``. A constant input gets scale 1, so it becomes 0 instead of NaN. Regression targets are
min-max scaled on the training split into [0.1, 0.9], inside the sigmoid's range (0, 1); classes
become one-hot rows (a single 0/1 target stays one unit).
"""

from __future__ import annotations

import numpy as np

from experiments.config import DataConfig
from experiments.data.dataset import Dataset
from experiments.data.loaders import one_line
from experiments.data.shuffle_split import train_test_indices
from experiments.errors import BadInput

MAX_CLASSES = 50  # "auto" calls an integer target with more distinct values a regression target
TARGET_LOW, TARGET_HIGH = 0.1, 0.9


def is_one_hot(y: np.ndarray) -> bool:
    """``y`` is 2-D with exactly one 1 per row and 0 elsewhere."""
    return y.ndim == 2 and bool(np.all((y == 0) | (y == 1))) and bool(np.all(y.sum(axis=1) == 1))


def resolve_task(task: str, y: np.ndarray, dataset: str) -> str:
    """``classification`` or ``regression``: ``task`` itself unless it is ``auto``."""
    if task != "auto":
        return task
    if dataset == "diabetes":
        return "regression"
    if dataset in ("digits", "iris", "breast_cancer"):
        return "classification"
    if y.ndim == 2:
        return "classification" if is_one_hot(y) else "regression"
    integer = bool(np.all(y == np.round(y)))
    return "classification" if integer and len(np.unique(y)) <= MAX_CLASSES else "regression"


def _encode_targets(y: np.ndarray, task: str, where: str) -> tuple[np.ndarray, tuple, np.ndarray | None]:
    """``(Y, classes, stratify)``: one-hot rows and their labels for classes, a column for regression."""
    if task != "classification":
        return y.reshape(len(y), -1), (), None
    if y.ndim == 2:
        if not is_one_hot(y):
            raise BadInput(f"{where}: a 2-D y for classification must hold one-hot rows")
        return y, tuple(range(y.shape[1])), np.argmax(y, axis=1)
    if not np.all(y == np.round(y)):
        raise BadInput(f"{where}: classification needs integer class labels in y")
    values, labels = np.unique(y, return_inverse=True)
    if len(values) < 2:
        raise BadInput(f"{where}: y has a single class; classification needs at least two")
    return np.eye(len(values))[labels], tuple(int(v) for v in values), labels


def split_and_scale(
    name: str, X: np.ndarray, y: np.ndarray, task: str, data: DataConfig, seed: int, where: str
) -> Dataset:
    """Splits ``(X, y)`` with ``seed`` and scales it by the training split.

    Raises:
      BadInput: the targets do not fit ``task``, or the rows cannot be split (classes too small).
    """
    Y, classes, stratify = _encode_targets(y, task, where)
    try:
        rest, test = train_test_indices(len(X), data.test_fraction, seed, stratify)
        val_share = data.val_fraction / (1 - data.test_fraction)
        strat_rest = None if stratify is None else stratify[rest]
        train_in_rest, val_in_rest = train_test_indices(len(rest), val_share, seed, strat_rest)
        train, val = rest[train_in_rest], rest[val_in_rest]
    except ValueError as e:
        raise BadInput(
            f"{where}: cannot split {len(X)} rows with data.val_fraction and data.test_fraction: "
            f"{one_line(e)}"
        ) from None

    x_shift, x_scale = fit_scaling(X[train], data.scale)
    Xs = (X - x_shift) / x_scale
    if task == "regression":
        lo, hi = Y[train].min(axis=0), Y[train].max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        Y = TARGET_LOW + (TARGET_HIGH - TARGET_LOW) * (Y - lo) / span
    return Dataset(
        name=name,
        x_train=Xs[train],
        y_train=Y[train],
        x_val=Xs[val],
        y_val=Y[val],
        x_test=Xs[test],
        y_test=Y[test],
        is_classification=task == "classification",
        x_shift=x_shift,
        x_scale=x_scale,
        classes=classes,
    )


def fit_scaling(x_train: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """``(shift, scale)`` fitted on the training rows; a constant column gets scale 1."""
    n = x_train.shape[1]
    if how == "minmax":
        lo, hi = x_train.min(axis=0), x_train.max(axis=0)
        return lo, np.where(hi > lo, hi - lo, 1.0)
    if how == "standard":
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        return mean, np.where(std > 0, std, 1.0)
    return np.zeros(n), np.ones(n)
