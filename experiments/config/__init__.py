"""Run configs: a TOML file validated into frozen objects before anything runs.

A config has the sections ``[experiment] [data] [model] [train]`` and an optional ``[sweep]``::

    [experiment]
    name = "digits"

    [data]
    dataset = "digits"          # xor | digits | iris | breast_cancer | diabetes | file
    # path = "my.csv"           # only with dataset = "file" (.npz with X, y; or .csv, last column y)

    [model]
    hidden = [30]               # hidden widths; input and output widths come from the data
    activation = "sigmoid"      # sigmoid | tanh | relu
    cost = "quadratic"          # quadratic | cross_entropy | softmax_cross_entropy
    init = "normal"             # normal: N(0, 1) as the notes; scaled: N(0, 1/n_in)

    [train]
    lr = 3.0
    batch_size = 10
    epochs = 30

Every key is checked by the pydantic models of :mod:`~experiments.config.schema` (unknown keys,
wrong types, impossible values) and a problem raises :class:`experiments.errors.BadInput` with one
line naming the file and the key. ``--set key=value`` overrides go through the same checks; their
values are TOML literals (``train.lr=0.5``, ``model.hidden=[30,20]``), and a bare word is taken as a
string (``model.activation=tanh``). The ``[sweep]`` table is kept as a read-only mapping and not
validated here: ``sweeps`` owns it.
"""

from experiments.config.load import load_config
from experiments.config.overrides import parse_override
from experiments.config.run_config import RunConfig
from experiments.config.schema import (
    DATASETS,
    GRAD_MODES,
    SCALINGS,
    SECTIONS,
    TASKS,
    DataConfig,
    ExperimentConfig,
    ModelConfig,
    TrainConfig,
    json_schema,
)
from experiments.config.toml_io import read_toml

__all__ = [
    "DATASETS",
    "GRAD_MODES",
    "SCALINGS",
    "SECTIONS",
    "TASKS",
    "DataConfig",
    "ExperimentConfig",
    "ModelConfig",
    "RunConfig",
    "TrainConfig",
    "json_schema",
    "load_config",
    "parse_override",
    "read_toml",
]
