"""Seeded train/test row indices, the same rows as scikit-learn's ``train_test_split``, bit for bit.

scikit-learn's import costs ~1.5 s of CPU in every ``bplab train`` / ``bplab sweep`` process, and
splitting rows was all it was imported for. :func:`train_test_indices` follows scikit-learn 1.9.1's
``train_test_split(np.arange(n), test_size=f, random_state=seed, stratify=y)`` step for step
(``_validate_shuffle_split``, ``ShuffleSplit`` / ``StratifiedShuffleSplit._iter_indices`` and
``utils.extmath._approximate_mode``), drawing from ``np.random.RandomState(seed)`` in the same order,
so a seed keeps the split (and the metrics) it had. ``tests/experiments/data/test_shuffle_split.py``
checks that against scikit-learn itself.
"""

from __future__ import annotations

import math

import numpy as np


def train_test_indices(
    n_samples: int, test_size: float, seed: int, stratify: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)``: indices into ``n_samples`` rows, ``ceil(test_size * n_samples)`` of them held out.

    ``stratify`` (1-D, one class label per row) keeps each class's share in both parts.

    Raises:
      ValueError: ``test_size`` is not in (0, 1), the training part would be empty, ``stratify`` has
        the wrong length, a class has fewer than 2 rows, or a part is smaller than the number of classes.
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size} must be a fraction in (0, 1)")
    n_test = math.ceil(test_size * n_samples)
    n_train = n_samples - n_test
    if n_train <= 0:
        raise ValueError(f"with {n_samples} rows and test_size={test_size}, the training part would be empty")
    rng = np.random.RandomState(seed)
    if stratify is None:
        permutation = rng.permutation(n_samples)
        return permutation[n_test : n_test + n_train], permutation[:n_test]

    stratify = np.asarray(stratify)
    if stratify.shape != (n_samples,):
        raise ValueError(f"stratify has shape {stratify.shape}; it needs one label per row ({n_samples})")
    classes, y_indices, class_counts = np.unique(stratify, return_inverse=True, return_counts=True)
    n_classes = len(classes)
    if class_counts.min() < 2:
        too_few = classes[class_counts < 2].tolist()
        raise ValueError(f"a class needs at least 2 rows to stratify; these have 1: {too_few}")
    if n_train < n_classes:
        raise ValueError(
            f"the training part of {n_train} rows cannot hold one row of each of {n_classes} classes"
        )
    if n_test < n_classes:
        raise ValueError(
            f"the held-out part of {n_test} rows cannot hold one row of each of {n_classes} classes"
        )
    class_indices = np.split(np.argsort(y_indices, kind="stable"), np.cumsum(class_counts)[:-1])
    n_i = _approximate_mode(class_counts, n_train, rng)
    t_i = _approximate_mode(class_counts - n_i, n_test, rng)
    train: list[np.ndarray] = []
    test: list[np.ndarray] = []
    for i in range(n_classes):
        permutation = rng.permutation(int(class_counts[i]))
        rows = class_indices[i].take(permutation, mode="clip")
        train.append(rows[: n_i[i]])
        test.append(rows[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _approximate_mode(class_counts: np.ndarray, n_draws: int, rng: np.random.RandomState) -> np.ndarray:
    """How many of ``n_draws`` each class gets: its floored share, then one more by largest remainder.

    Equal remainders are broken by ``rng`` (scikit-learn's ``utils.extmath._approximate_mode``).
    """
    continuous = class_counts / class_counts.sum() * n_draws
    floored = np.floor(continuous)
    need_to_add = int(n_draws - floored.sum())
    if need_to_add > 0:
        remainder = continuous - floored
        for value in np.sort(np.unique(remainder))[::-1]:
            (inds,) = np.where(remainder == value)
            add_now = min(len(inds), need_to_add)
            floored[rng.choice(inds, size=add_now, replace=False)] += 1
            need_to_add -= add_now
            if need_to_add == 0:
                break
    return floored.astype(int)
