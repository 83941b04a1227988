"""Bundled sets: read from scikit-learn's data files without importing it, the very arrays its
loaders return (values and memory layout: the regression baseline depends on exact sums)."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.datasets

from experiments.data.loaders import bundled
from tests.support.processes import python_prints


@pytest.mark.parametrize("name", ["digits", "iris", "breast_cancer", "diabetes"])
def test_the_same_arrays_as_scikit_learns_loader(name):
    x, y = bundled(name)
    theirs = getattr(sklearn.datasets, f"load_{name}")()
    x_ref, y_ref = np.asarray(theirs.data, np.float64), np.asarray(theirs.target, np.float64)
    assert x.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(x, x_ref)
    np.testing.assert_array_equal(y, y_ref)
    assert x.flags.c_contiguous == x_ref.flags.c_contiguous
    assert x.sum(axis=0).tobytes() == x_ref.sum(axis=0).tobytes()  # same rounding, bit for bit


def test_no_bundled_set_imports_scikit_learn():
    code = (
        "import sys; from experiments.data.loaders import bundled; "
        "[bundled(n) for n in ('digits', 'iris', 'breast_cancer', 'diabetes')]; "
        "print('sklearn' in sys.modules)"
    )
    assert python_prints(code).strip() == "False"
