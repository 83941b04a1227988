"""The split, scaled dataset a run trains on: three splits plus the scaling the logged model reuses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
