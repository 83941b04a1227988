"""The config's sections as pydantic models: each key's type, range and choices, stated once.

The models are frozen pydantic dataclasses, so a validated section is an ordinary immutable (and
hashable) dataclass. Each field carries a :class:`Want`: the words of its one-line error,
``<key> must be <want>, got <value>``. :func:`json_schema` exports the same rules for editors.
"""

from __future__ import annotations

from dataclasses import dataclass as plain_dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, StringConstraints
from pydantic.dataclasses import dataclass

from backprop_core import ACTIVATIONS, COSTS, DTYPES, INITS

DATASETS = ("xor", "digits", "iris", "breast_cancer", "diabetes", "file")
TASKS = ("auto", "classification", "regression")
SCALINGS = ("minmax", "standard", "none")
GRAD_MODES = ("manual", "autodiff")
SECTIONS = ("experiment", "data", "model", "train", "sweep")


@plain_dataclass(frozen=True)
class Want:
    """What a key must be, as the error line says it.

    Attributes:
      text: ``<want>`` in ``<key> must be <want>, got <value>``.
      too_small: the text when only a lower bound inside a list failed (e.g. a zero width).
    """

    text: str
    too_small: str = ""


def one_of(choices: tuple[str, ...] | Any) -> Any:
    """A string that is one of ``choices`` (an enum in the JSON Schema)."""
    choices = tuple(choices)
    return Annotated[Literal[choices], Want(f"one of {', '.join(choices)}")]


Text = Annotated[StrictStr, Want("a string")]
Name = Annotated[StrictStr, StringConstraints(pattern=r"\S"), Want("a non-empty string")]
Fraction = Annotated[StrictFloat, Field(ge=0, lt=1, allow_inf_nan=False), Want("a number in [0, 1)")]
Rate = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False), Want("a number > 0")]
Count = Annotated[StrictInt, Field(ge=1), Want("an integer ≥ 1")]
Index = Annotated[StrictInt, Field(ge=0), Want("an integer ≥ 0")]
Widths = Annotated[
    tuple[Annotated[StrictInt, Field(ge=1)], ...],
    Want("a list of integer widths, e.g. [30]", too_small="positive widths (a zero width has no units)"),
]

_SECTION = ConfigDict(extra="forbid")


@dataclass(frozen=True, config=_SECTION)
class ExperimentConfig:
    """``[experiment]``: where the run is filed.

    Attributes:
      name: the MLflow experiment name.
      description: free text, logged as the run's description.
    """

    name: Name = "default"
    description: Text = ""


@dataclass(frozen=True, config=_SECTION)
class DataConfig:
    """``[data]``: which data and how it is split and scaled.

    Attributes:
      dataset: a bundled set (``xor``, ``digits``, ``iris``, ``breast_cancer``, ``diabetes``) or ``file``.
      path: the user file when ``dataset = "file"``: ``.npz`` with arrays ``X`` and ``y``, or ``.csv``
        whose last column is the target. Relative paths are taken from the working folder.
      task: ``classification`` (targets one-hot), ``regression`` (targets scaled into (0, 1)) or
        ``auto`` (classification when the target is integer-valued with at most 50 distinct values).
      val_fraction, test_fraction: shares of the rows held out (stratified for classes).
      scale: input scaling fitted on the training split only: ``minmax`` to [0, 1], ``standard``
        to zero mean and unit variance, or ``none``.
    """

    dataset: one_of(DATASETS) = "digits"
    path: Text = ""
    task: one_of(TASKS) = "auto"
    val_fraction: Fraction = 0.15
    test_fraction: Fraction = 0.15
    scale: one_of(SCALINGS) = "minmax"


@dataclass(frozen=True, config=_SECTION)
class ModelConfig:
    """``[model]``: the network.

    Attributes:
      hidden: hidden-layer widths, e.g. ``(30,)``; the input and output widths come from the data.
      activation: hidden activation (and output activation unless the cost fixes one).
      cost: the cost function.
      init: ``normal`` (every weight N(0, 1), the notes) or ``scaled`` (``W^l`` from N(0, 1/n_{l−1})).
    """

    hidden: Widths = (30,)
    activation: one_of(ACTIVATIONS) = "sigmoid"
    cost: one_of(COSTS) = "quadratic"
    init: one_of(INITS) = "normal"


@dataclass(frozen=True, config=_SECTION)
class TrainConfig:
    """``[train]``: mini-batch SGD.

    Attributes:
      lr: the learning rate α.
      batch_size: mini-batch size; at most the number of training rows.
      epochs: number of passes over the training set.
      seed: seeds the split, the initial weights and the shuffles.
      grad: ``manual`` (BP1–BP4) or ``autodiff`` (``jax.grad``).
      dtype: ``float32`` or ``float64``.
      gradcheck_every: compare manual against autodiff gradients every this many epochs (0: only at
        the end of the run).
    """

    lr: Rate = 3.0
    batch_size: Count = 10
    epochs: Count = 30
    seed: Index = 0
    grad: one_of(GRAD_MODES) = "manual"
    dtype: one_of(DTYPES) = "float32"
    gradcheck_every: Index = 5


class ConfigFile(BaseModel):
    """A whole config file: the four validated sections and the raw ``[sweep]`` table."""

    model_config = ConfigDict(extra="forbid", title="bplab run config")

    experiment: ExperimentConfig = Field(default_factory=ExperimentConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    sweep: dict[str, Any] = Field(default_factory=dict, description="validated by the sweep, not here")


SECTION_CLASSES = {
    "experiment": ExperimentConfig,
    "data": DataConfig,
    "model": ModelConfig,
    "train": TrainConfig,
}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a config file: sections, keys, types, ranges, choices."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **ConfigFile.model_json_schema()}
