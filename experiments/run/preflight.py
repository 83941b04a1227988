"""Preflight: everything that can be checked before a run opens, so bad input writes nothing."""

from __future__ import annotations

from experiments import tracking
from experiments.config import RunConfig
from experiments.data import Dataset, load_dataset
from experiments.errors import BadInput
from experiments.sizing import check_run_fits


def load_data(cfg: RunConfig) -> Dataset:
    """The data ``cfg`` describes (cached per process).

    Raises:
      BadInput: the data cannot be loaded, with the config's source in the message.
    """
    try:
        return load_dataset(cfg.data, cfg.train.seed)
    except BadInput as e:
        raise BadInput(f"{cfg.source}: {e}") from None


def prepare(cfg: RunConfig, *, track: bool = True) -> Dataset:
    """Loads and checks the data against the config (and the store when ``track``); returns the data.

    Raises:
      BadInput: bad data, a batch larger than the training split, a softmax cost on data that is not
        one-hot classes, a net too large for the memory at hand (:mod:`experiments.sizing`),
        or an unreachable store — with the config's source in the message.
    """
    ds = load_data(cfg)
    if cfg.train.batch_size > ds.n_train:
        raise BadInput(
            f"{cfg.source}: train.batch_size = {cfg.train.batch_size} is larger than the training set "
            f"({ds.n_train} rows)"
        )
    if cfg.model.cost == "softmax_cross_entropy" and not (ds.is_classification and ds.n_outputs >= 2):
        # softmax over one unit is constantly 1, and on non-one-hot targets the cost goes negative.
        raise BadInput(
            f"{cfg.source}: model.cost = softmax_cross_entropy needs one-hot classes (2 or more outputs); "
            f"dataset {cfg.data.dataset!r} has {ds.n_outputs} output(s)"
            + ("" if ds.is_classification else " and real-valued targets")
        )
    check_run_fits(cfg, ds)
    if track:
        tracking.ensure_reachable(experiment=cfg.experiment.name)
    return ds
