"""Initial parameters from a config and a dataset: the one place that turns them into ``((W, b), …)``.

Every caller draws from its own split of ``jax.random.key(train.seed)`` and passes the init key, so
a run, its gradient check and its regression measurements start from the same weights. A run padded
to wider hidden layers (``pad_to``) starts from the same weights too, embedded in zeros
(:func:`backprop_core.init_padded_params` draws them bit for bit, in one program per depth).
"""

from __future__ import annotations

from collections.abc import Sequence

from backprop_core import Params, UnitMasks, init_padded_params, init_params, unit_masks
from experiments.config import RunConfig
from experiments.data import Dataset


def layer_sizes(cfg: RunConfig, ds: Dataset) -> tuple[int, ...]:
    """``(n_0, n_1, …, n_L)``: the data's inputs, the config's hidden widths, the data's outputs."""
    return (ds.n_inputs, *cfg.model.hidden, ds.n_outputs)


def initial_params(cfg: RunConfig, ds: Dataset, key, *, dtype, pad_to: Sequence[int] | None = None) -> Params:
    """The network ``cfg`` describes for ``ds``, drawn with ``key`` by ``model.init``.

    Args:
      cfg: the run config (``model.hidden``, ``model.init``).
      ds: the dataset (input and output widths).
      key: the PRNG key of the initialisation (the caller's split of the seed key).
      dtype: the parameters' dtype (from :func:`backprop_core.precision`).
      pad_to: hidden widths to pad the net to (see :func:`initial_masks`); ``None``: unpadded.
    """
    if pad_to is None:
        return init_params(key, layer_sizes(cfg, ds), init=cfg.model.init, dtype=dtype)
    return init_padded_params(key, layer_sizes(cfg, ds), tuple(pad_to), init=cfg.model.init, dtype=dtype)


def initial_masks(cfg: RunConfig, pad_to: Sequence[int] | None, *, dtype) -> UnitMasks | None:
    """The unit masks of ``cfg``'s hidden layers padded to ``pad_to`` (``None`` when unpadded).

    Padded to its own widths a net still gets masks (all ones): masks or not is a different compiled
    program, and the widest trial of a sweep shares the program of the narrower ones.
    """
    return None if pad_to is None else unit_masks(cfg.model.hidden, tuple(pad_to), dtype)
