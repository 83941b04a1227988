"""The trained net as an MLflow pyfunc model, "from code": nothing is pickled.

MLflow copies this file into each logged model and runs it when the model is loaded, with only
``backprop_core`` beside it (``code_paths``), so it imports nothing else of the project. The model
reads its weights and input scaling from the ``weights`` artifact (an ``.npz`` opened with
``allow_pickle=False``) and its activation and cost from the ``config`` artifact (TOML).
``predict(X)`` takes raw inputs (rows × features, unscaled), applies the training split's scaling
and returns the network's outputs ``a^L`` (rows × outputs).
"""

from __future__ import annotations

import tomllib
import warnings
from pathlib import Path

import mlflow
import numpy as np

with warnings.catch_warnings():
    # Importing mlflow.pyfunc defines MLflow's own agent models, which warn about their type hints.
    warnings.simplefilter("ignore", UserWarning)
    from mlflow.pyfunc import PythonModel


def save_weights(path: Path, params, *, x_shift, x_scale) -> Path:
    """Writes ``W1, b1, W2, …`` and the input scaling as a plain ``.npz`` (no pickled objects)."""
    arrays = {}
    for l, (W, b) in enumerate(params, start=1):
        arrays[f"W{l}"] = np.asarray(W)
        arrays[f"b{l}"] = np.asarray(b)
    np.savez(path, x_shift=np.asarray(x_shift), x_scale=np.asarray(x_scale), **arrays)
    return Path(path)


def load_weights(path: str | Path) -> tuple[tuple, np.ndarray, np.ndarray]:
    """``(params, x_shift, x_scale)`` from :func:`save_weights`'s file, read with ``allow_pickle=False``."""
    with np.load(path, allow_pickle=False) as f:
        L = sum(1 for k in f.files if k.startswith("W"))
        params = tuple((f[f"W{l}"], f[f"b{l}"]) for l in range(1, L + 1))
        return params, f["x_shift"], f["x_scale"]


def _outputs(params, x_shift, x_scale, X, activation: str, cost: str) -> np.ndarray:
    # lazy: JAX adds ~0.4 s to every `import experiments.tracking` (e.g. `bplab ui`), which never predicts
    import jax.numpy as jnp

    from backprop_core import precision, predict  # lazy: as above

    X = np.asarray(X, dtype=np.float64)
    xs = (X - x_shift) / x_scale
    dtype_name = "float64" if params[0][0].dtype == np.float64 else "float32"
    with precision(dtype_name) as dtype:  # a float64 net predicts in float64
        jparams = tuple((jnp.asarray(W, dtype), jnp.asarray(b, dtype)) for W, b in params)
        return np.asarray(predict(jparams, jnp.asarray(xs, dtype), activation=activation, cost=cost))


def predict_outputs(
    weights: str | Path, X, *, activation: str = "sigmoid", cost: str = "quadratic"
) -> np.ndarray:
    """The net's outputs for raw inputs ``X``, straight from a weights file (no MLflow involved)."""
    params, x_shift, x_scale = load_weights(weights)
    return _outputs(params, x_shift, x_scale, X, activation, cost)


class BackpropNet(PythonModel):
    """pyfunc wrapper: ``predict(context, X)`` → ``a^L`` for raw inputs ``X``."""

    def load_context(self, context) -> None:
        """Reads the weights (``.npz``) and the model section of the config (TOML)."""
        self.params, self.x_shift, self.x_scale = load_weights(context.artifacts["weights"])
        config = tomllib.loads(Path(context.artifacts["config"]).read_text(encoding="utf-8"))
        self.activation = config["model"]["activation"]
        self.cost = config["model"]["cost"]

    def predict(self, context, model_input: np.ndarray, params=None) -> np.ndarray:
        """The network's outputs, rows × outputs.

        The ``np.ndarray`` hint tells MLflow not to infer a schema from it (the logged signature says
        the shapes); a DataFrame works too.
        """
        X = model_input.to_numpy() if hasattr(model_input, "to_numpy") else model_input
        return _outputs(self.params, self.x_shift, self.x_scale, X, self.activation, self.cost)


mlflow.models.set_model(BackpropNet())
