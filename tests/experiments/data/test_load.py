"""load_dataset caches per process, and an edited user file is read again."""

from __future__ import annotations

import os

import numpy as np

from experiments.config import DataConfig
from experiments.data import load_dataset


def test_cached_per_process():
    assert load_dataset(DataConfig(dataset="iris"), 5) is load_dataset(DataConfig(dataset="iris"), 5)
    assert load_dataset(DataConfig(dataset="iris"), 5) is not load_dataset(DataConfig(dataset="iris"), 6)


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "d.npz"
    cfg = DataConfig(dataset="file", path=str(path))
    np.savez(path, X=np.zeros((20, 2)), y=np.arange(20) % 2)
    first = load_dataset(cfg, 0)
    assert load_dataset(cfg, 0) is first
    np.savez(path, X=np.ones((30, 2)), y=np.arange(30) % 2)
    os.utime(path, ns=(1, 1))  # a different stamp even on a coarse file-system clock
    assert load_dataset(cfg, 0).n_train != first.n_train
