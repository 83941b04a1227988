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

:mod:`~experiments.data.loaders` reads and checks the raw arrays, :mod:`~experiments.data.split`
splits and scales them into a :class:`Dataset`, and :func:`load_dataset` caches the result. The
fitted shift and scale travel with the dataset so the logged model can scale raw inputs itself.
"""

from experiments.data.dataset import Dataset
from experiments.data.load import load_dataset
from experiments.data.loaders import MIN_ROWS
from experiments.data.split import MAX_CLASSES, TARGET_HIGH, TARGET_LOW

__all__ = ["MAX_CLASSES", "MIN_ROWS", "TARGET_HIGH", "TARGET_LOW", "Dataset", "load_dataset"]
