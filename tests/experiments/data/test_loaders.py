"""User files: .npz and .csv read without pickle, every malformed file one BadInput line."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.config import DataConfig
from experiments.data import load_dataset
from experiments.errors import BadInput


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


def _truncated_npz(p, *, compressed=False):
    save = np.savez_compressed if compressed else np.savez
    save(p / "f.npz", X=np.zeros((20, 2)), y=np.arange(20) % 2)
    data = (p / "f.npz").read_bytes()
    (p / "f.npz").write_bytes(data[: len(data) // 2])


def _corrupt_npz(p):
    np.savez_compressed(p / "f.npz", X=np.random.default_rng(0).normal(size=(20, 2)), y=np.arange(20) % 2)
    data = bytearray((p / "f.npz").read_bytes())
    data[60:100] = b"\xff" * 40  # inside the first member's compressed bytes; the directory is intact
    (p / "f.npz").write_bytes(bytes(data))


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
        (_truncated_npz, r"cannot read as \.npz"),
        (lambda p: _truncated_npz(p, compressed=True), r"cannot read as \.npz"),
        (_corrupt_npz, r"cannot read as \.npz"),
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
