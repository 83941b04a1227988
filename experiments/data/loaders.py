"""Raw ``(X, y)`` arrays from a bundled set or a user file, checked before anything is split.

User files are ``.npz`` (arrays ``X`` and ``y``, read without unpickling) or ``.csv`` of numbers
whose last column is the target (a header line is skipped). Every problem is one ``BadInput`` line
that starts with ``where`` (``data.path = '…'`` or ``data.dataset = '…'``).
"""

from __future__ import annotations

import gzip
import importlib.util
import zipfile
import zlib
from pathlib import Path

import numpy as np

from experiments.data.dataset import Dataset
from experiments.errors import BadInput

MIN_ROWS = 10


def xor() -> Dataset:
    """The four points of XOR, one output unit; too small to split, so every split is all four."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
    y = np.array([[0], [1], [1], [0]], np.float64)
    zero, one = np.zeros(2), np.ones(2)
    return Dataset("xor", x, y, x, y, x, y, True, zero, one, (0, 1))


# Sets read straight from the data files scikit-learn ships, as its loaders read them, without
# importing scikit-learn (~1.5 s, a third of a sweep's start-up).
SHIPPED_CSV = {"digits": "digits.csv.gz", "iris": "iris.csv", "breast_cancer": "breast_cancer.csv"}


def bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a set scikit-learn ships (``digits``, ``iris``, ``breast_cancer``, ``diabetes``),
    the same arrays as its ``load_<name>()``."""
    if name in SHIPPED_CSV:
        return _shipped_csv(SHIPPED_CSV[name])
    return _diabetes()


def _shipped_folder() -> Path:
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data"


def _shipped_csv(filename: str) -> tuple[np.ndarray, np.ndarray]:
    """A scikit-learn data file: digits' is bare rows (``X…, y``); the others open with a line
    ``n_samples, n_features, class names…`` that the rows follow."""
    folder = _shipped_folder()
    # The same memory layout as scikit-learn's arrays too (digits' X is a view of its table, the
    # others' a copy): sums over a view round differently, and the regression baseline is exact.
    if filename.endswith(".gz"):
        table = _gzip_table(folder / filename, delimiter=",")
        x = table[:, :-1]
    else:
        table = np.loadtxt(folder / filename, delimiter=",", skiprows=1, encoding="utf-8")
        x = np.ascontiguousarray(table[:, :-1])
    return x, table[:, -1].astype(int).astype(np.float64)


def _diabetes() -> tuple[np.ndarray, np.ndarray]:
    """``load_diabetes()``: the raw features scaled as scikit-learn's ``scale`` does, step for step
    (its corrective second centring passes included: the arrays must match bit for bit), then
    divided by ``√n_samples``."""
    folder = _shipped_folder()
    x, y = (_gzip_table(folder / f"diabetes_{part}.csv.gz") for part in ("data_raw", "target"))
    mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    x -= mean
    off = np.nanmean(x, axis=0)
    if not np.allclose(off, 0):
        x -= off
    std[std < 10 * np.finfo(std.dtype).eps] = 1.0  # a constant column is left as it is
    x /= std
    off = np.nanmean(x, axis=0)
    if not np.allclose(off, 0):
        x -= off
    x /= x.shape[0] ** 0.5
    return x, y


def _gzip_table(path: Path, **loadtxt) -> np.ndarray:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return np.loadtxt(f, **loadtxt)


def read_file(path: Path, shown: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a user's ``.npz`` or ``.csv``; ``shown`` is the path as the config wrote it."""
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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # truncated or corrupt
        raise BadInput(f"{where}: cannot read as .npz: {one_line(e)}") from None
    for label, arr in (("X", X), ("y", y)):
        if not np.issubdtype(arr.dtype, np.number) and arr.dtype != np.bool_:
            raise BadInput(f"{where}: {label} must be numeric, got dtype {arr.dtype}")
    return X.astype(np.float64), y.astype(np.float64)


def _read_csv(path: Path, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(encoding="utf-8") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{where}: cannot read: {one_line(e)}") from None
    header = 0
    try:
        [float(v) for v in first.strip().split(",")]
    except ValueError:
        header = 1  # a first line that is not numbers is a header
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=header, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise BadInput(f"{where}: not a table of numbers: {one_line(e)}") from None
    if table.shape[1] < 2:
        raise BadInput(f"{where}: needs at least two columns (inputs, then the target), got {table.shape[1]}")
    return table[:, :-1], table[:, -1]


def one_line(e: Exception) -> str:
    """An exception's text with its newlines and runs of spaces folded, for a one-line message."""
    return " ".join(str(e).split())


def check_arrays(X: np.ndarray, y: np.ndarray, where: str) -> None:
    """Refuses shapes that cannot be split into rows of inputs and targets, and NaN or inf values."""
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
