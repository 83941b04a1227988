"""The dataset a config describes, loaded once per process: a sweep reads its data a single time."""

from __future__ import annotations

import functools
from pathlib import Path

from experiments.config import DataConfig
from experiments.data.dataset import Dataset
from experiments.data.loaders import bundled, check_arrays, read_file, xor
from experiments.data.split import resolve_task, split_and_scale
from experiments.errors import BadInput


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
    """``stamp`` (resolved path, mtime, size) makes an edited file a new cache entry."""
    if data.dataset == "xor":
        return xor()
    if data.dataset == "file":
        X, y = read_file(Path(stamp[0]), data.path)
        name = Path(data.path).name
        where = f"data.path = {data.path!r}"
    else:
        X, y = bundled(data.dataset)
        name = data.dataset
        where = f"data.dataset = {data.dataset!r}"
    check_arrays(X, y, where)
    task = resolve_task(data.task, y, data.dataset)
    return split_and_scale(name, X, y, task, data, seed, where)
