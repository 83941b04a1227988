"""Datasets: bundled sets and user files, split with a seed and scaled on the training split only.

Bundled (nothing is downloaded; scikit-learn ships them):
  - ``xor``: the four points of XOR, one output unit. Too small to split, so train, validation and
    test are all the same four points (it is a sanity check, not a benchmark).
  - ``digits``: 1797 8×8 handwritten digits, 64 inputs, 10 one-hot outputs.
  - ``iris``: 150 flowers, 4 inputs, 3 one-hot outputs.
  - ``breast_cancer``: 569 tumours, 30 inputs, 2 one-hot outputs.
  - ``diabetes``: 442 patients, 10 inputs, one regression target.
User data (``dataset = "file"``): an ``.npz`` with arrays ``X`` (rows × features) and ``y`` (rows, or
rows × outputs), or a ``.csv`` of numbers whose last column is the target (a header line is skipped).

Splits: test, then validation, are held out with ``data.test_fraction`` / ``data.val_fraction``,
stratified by class for classification, seeded by ``train.seed``.

Scaling, fitted on the training split only and applied to all three (``data.scale``):
  - ``minmax`` (default): each input to [0, 1] by the training minimum and range (like pixels / 255).
  - ``standard``: each input to zero mean, unit variance.
  - ``none``.
A constant input gets scale 1, so it becomes 0 instead of NaN. Regression targets are min-max scaled
on the training split into [0.1, 0.9], inside the sigmoid's range (0, 1); classes become one-hot
rows (a single 0/1 target stays one unit). The fitted shift and scale travel with the dataset so the
logged model can scale raw inputs itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.config import DataConfig
from experiments.errors import BadInput

MAX_CLASSES = 50  # "auto" calls an integer target with more distinct values a regression target
MIN_ROWS = 10
TARGET_LOW, TARGET_HIGH = 0.1, 0.9


@dataclass(frozen=True, eq=False)
class Dataset:
    """A split, scaled dataset (numpy arrays, float64).

    Attributes:
      name: dataset name (or file name).
      x_train, y_train, x_val, y_val, x_test, y_test: inputs ``(rows, n_inputs)`` and targets
        ``(rows, n_outputs)``.
      is_classification: targets are classes (one-hot rows, or one 0/1 unit).
      x_shift, x_scale: the input scaling, ``x_scaled = (x − x_shift) / x_scale``, shape ``(n_inputs,)``.
      classes: the class labels in one-hot column order (empty for regression).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    is_classification: bool
    x_shift: np.ndarray
    x_scale: np.ndarray
    classes: tuple = ()

    @property
    def n_inputs(self) -> int:
        """Width of the input layer ``n_0``."""
        return self.x_train.shape[1]

    @property
    def n_outputs(self) -> int:
        """Width of the output layer ``n_L``."""
        return self.y_train.shape[1]

    @property
    def n_train(self) -> int:
        """Rows in the training split."""
        return self.x_train.shape[0]


def load_dataset(data: DataConfig, seed: int) -> Dataset:
    """The dataset ``data`` describes, split with ``seed``; cached per process.

    The same arguments (and, for a file, the same file contents on disk) return the same object,
    so a sweep loads its data once.

    Raises:
      BadInput: a missing or malformed file, NaN/inf values, too few rows or classes too small to
        stratify; the message names ``data.path`` or the dataset.
    """
    stamp = None
    if data.dataset == "file":
        path = Path(data.path).expanduser().resolve()
        if not path.is_file():
            raise BadInput(f"data.path = {data.path!r}: no such file")
        st = path.stat()
        stamp = (str(path), st.st_mtime_ns, st.st_size)
    return _load_cached(data, seed, stamp)


@functools.lru_cache(maxsize=16)
def _load_cached(data: DataConfig, seed: int, stamp: tuple | None) -> Dataset:
    if data.dataset == "xor":
        return _xor()
    if data.dataset == "file":
        X, y = _read_file(Path(stamp[0]), data.path)
        name = Path(data.path).name
        where = f"data.path = {data.path!r}"
    else:
        X, y = _bundled(data.dataset)
        name = data.dataset
        where = f"data.dataset = {data.dataset!r}"
    _check_arrays(X, y, where)
    task = _resolve_task(data.task, y, data.dataset)
    return _split_and_scale(name, X, y, task, data, seed, where)


def _xor() -> Dataset:
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    y = np.array([[0], [1], [1], [0]], np.float64)
    zero, one = np.zeros(2), np.ones(2)
    return Dataset("xor", x, y, x, y, x, y, True, zero, one, (0, 1))


def _bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    import sklearn.datasets  # imported here: it is slow and only the bundled sets need it

    loader = {
        "digits": sklearn.datasets.load_digits,
        "iris": sklearn.datasets.load_iris,
        "breast_cancer": sklearn.datasets.load_breast_cancer,
        "diabetes": sklearn.datasets.load_diabetes,
    }[name]
    bunch = loader()
    return np.asarray(bunch.data, np.float64), np.asarray(bunch.target, np.float64)


def _read_file(path: Path, shown: str) -> tuple[np.ndarray, np.ndarray]:
    where = f"data.path = {shown!r}"
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _read_npz(path, where)
    if suffix == ".csv":
        return _read_csv(path, where)
    raise BadInput(f"{where}: unsupported file type {suffix or '(none)'}; use .npz (X, y) or .csv")


def _read_npz(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:  # never unpickle user files
            missing = [k for k in ("X", "y") if k not in f.files]
            if missing:
                raise BadInput(
                    f"{where}: missing array(s) {', '.join(missing)}; found {', '.join(f.files) or 'none'}"
                )
            X, y = f["X"], f["y"]
    except BadInput:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise BadInput(f"{where}: cannot read as .npz: {_one_line(e)}") from None
    for label, arr in (("X", X), ("y", y)):
        if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            raise BadInput(f"{where}: {label} must be numeric, got dtype {arr.dtype}")
    return X.astype(np.float64), y.astype(np.float64)


def _read_csv(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{where}: cannot read: {_one_line(e)}") from None
    header = 0
    try:
        [float(v) for v in first.strip().split(",")]
    except ValueError:
        header = 1  # a first line that is not numbers is a header
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise BadInput(f"{where}: not a table of numbers: {_one_line(e)}") from None
    if table.shape[1] < 2:
        raise BadInput(f"{where}: needs at least two columns (inputs, then the target), got {table.shape[1]}")
    return table[:, :-1], table[:, -1]


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split())


def _check_arrays(X: np.ndarray, y: np.ndarray, where: str) -> None:
    if X.ndim != 2:
        raise BadInput(f"{where}: X must be 2-D (rows × features), got shape {X.shape}")
    if y.ndim not in (1, 2):
        raise BadInput(f"{where}: y must be 1-D or 2-D, got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise BadInput(f"{where}: X has {X.shape[0]} rows but y has {y.shape[0]}")
    if X.shape[1] < 1 or (y.ndim == 2 and y.shape[1] < 1):
        raise BadInput(f"{where}: X and y need at least one column")
    if X.shape[0] < MIN_ROWS:
        raise BadInput(f"{where}: too few rows ({X.shape[0]}); need at least {MIN_ROWS} to split")
    for label, arr in (("X", X), ("y", y)):
        bad = ~np.isfinite(arr)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise BadInput(f"{where}: {label} has NaN or inf values (first at row {row})")


def _is_one_hot(y: np.ndarray) -> bool:
    return y.ndim == 2 and bool(np.all((y == 0) | (y == 1))) and bool(np.all(y.sum(axis=1) == 1))


def _resolve_task(task: str, y: np.ndarray, dataset: str) -> str:
    if task != "auto":
        return task
    if dataset == "diabetes":
        return "regression"
    if dataset in ("digits", "iris", "breast_cancer"):
        return "classification"
    if y.ndim == 2:
        return "classification" if _is_one_hot(y) else "regression"
    integer = bool(np.all(y == np.round(y)))
    return "classification" if integer and len(np.unique(y)) <= MAX_CLASSES else "regression"


def _split_and_scale(
    name: str, X: np.ndarray, y: np.ndarray, task: str, data: DataConfig, seed: int, where: str
) -> Dataset:
    from sklearn.model_selection import train_test_split

    classes: tuple = ()
    if task == "classification":
        if y.ndim == 2:
            if not _is_one_hot(y):
                raise BadInput(f"{where}: a 2-D y for classification must hold one-hot rows")
            labels = np.argmax(y, axis=1)
            classes = tuple(range(y.shape[1]))
            Y = y
        else:
            if not np.all(y == np.round(y)):
                raise BadInput(f"{where}: classification needs integer class labels in y")
            values, labels = np.unique(y, return_inverse=True)
            if len(values) < 2:
                raise BadInput(f"{where}: y has a single class; classification needs at least two")
            classes = tuple(int(v) for v in values)
            Y = np.eye(len(values))[labels]
        stratify = labels
    else:
        Y = y.reshape(len(y), -1)
        stratify = None

    rows = np.arange(len(X))
    try:
        rest, test = train_test_split(
            rows, test_size=data.test_fraction, random_state=seed, stratify=stratify
        )
        val_share = data.val_fraction / (1 - data.test_fraction)
        strat_rest = None if stratify is None else stratify[rest]
        train, val = train_test_split(rest, test_size=val_share, random_state=seed, stratify=strat_rest)
    except ValueError as e:
        raise BadInput(
            f"{where}: cannot split {len(X)} rows with data.val_fraction and data.test_fraction: "
            f"{_one_line(e)}"
        ) from None

    x_shift, x_scale = _fit_scaling(X[train], data.scale)
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


def _fit_scaling(x_train: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray]:
    """``(shift, scale)`` fitted on the training rows; a constant column gets scale 1."""
    n = x_train.shape[1]
    if how == "minmax":
        lo, hi = x_train.min(axis=0), x_train.max(axis=0)
        return lo, np.where(hi > lo, hi - lo, 1.0)
    if how == "standard":
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        return mean, np.where(std > 0, std, 1.0)
    return np.zeros(n), np.ones(n)
