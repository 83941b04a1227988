"""Initial parameters from a config and a dataset: the one place that turns them into ``((W, b), …)``.

Every caller draws from its own split of ``jax.random.key(train.seed)`` and passes the init key, so
a run, its gradient check and its regression measurements start from the same weights.
"""

from __future__ import annotations

from backprop_core import Params, init_params
from experiments.config import RunConfig
from experiments.data import Dataset


def layer_sizes(cfg: RunConfig, ds: Dataset) -> tuple[int, ...]:
    """``(n_0, n_1, …, n_L)``: the data's inputs, the config's hidden widths, the data's outputs."""
    return (ds.n_inputs, *cfg.model.hidden, ds.n_outputs)


def initial_params(cfg: RunConfig, ds: Dataset, key, *, dtype) -> Params:
    """The network ``cfg`` describes for ``ds``, drawn with ``key`` by ``model.init``.

    Args:
      cfg: the run config (``model.hidden``, ``model.init``).
      ds: the dataset (input and output widths).
      key: the PRNG key of the initialisation (the caller's split of the seed key).
      dtype: the parameters' dtype (from :func:`backprop_core.precision`).
    """
    return init_params(key, layer_sizes(cfg, ds), init=cfg.model.init, dtype=dtype)
