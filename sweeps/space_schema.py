"""The ``[sweep]`` table's rules as pydantic models, and their first error as the one line users see.

Each field carries a :class:`~experiments.config.schema.Want`, the words of its error line
``<source>: sweep.<key> must be <want>, got <value>``; a validator that raises ``ValueError`` says
its own want. :func:`json_schema` exports the same rules for editors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from backprop_core import ACTIVATIONS, INITS
from experiments.config.schema import Want
from experiments.errors import BadInput
from experiments.validate import invalid

SAMPLERS = ("tpe", "random", "grid", "cmaes")
PRUNERS = ("median", "percentile", "asha", "hyperband", "none")
DIRECTIONS = ("minimize", "maximize")
_TOO_SMALL = ("greater_than_equal", "greater_than")
_UNKNOWN = ("extra_forbidden",)


def wants(kind: Any, text: str, too_small: str = "") -> Any:
    """``kind`` with the words of its error line; the field defaults to ``None`` (absent)."""
    return Annotated[kind, Want(text, too_small)]


def _distinct(values: tuple) -> tuple:
    if len({repr(v) for v in values}) != len(values):
        raise ValueError("a list without repeated values")
    return values


def _ordered(strict: bool):
    def check(pair: tuple) -> tuple:
        low, high = pair
        if low > high or (strict and low == high):
            raise ValueError(f"[low, high] with low {'<' if strict else '≤'} high")
        return pair

    return check


def drawn_from(options: Any) -> Any:
    """A non-empty list of distinct values drawn from ``options`` (names, or a mapping's keys)."""
    options = tuple(options)
    return wants(
        Annotated[tuple[Literal[options], ...], Field(min_length=1), AfterValidator(_distinct)],
        f"a non-empty list drawn from {', '.join(options)}",
    )


_Positive = Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)]
_PositiveInt = Annotated[StrictInt, Field(ge=1)]
FloatRange = wants(
    Annotated[tuple[_Positive, _Positive], AfterValidator(_ordered(True))],
    "[low, high] with two numbers",
    too_small="a range of positive numbers",
)
IntRange = wants(
    Annotated[tuple[_PositiveInt, _PositiveInt], AfterValidator(_ordered(False))],
    "[low, high] with two integers",
    too_small="a range of positive integers",
)


class Shorthand(BaseModel):
    """``[sweep.space]``'s short keys (dotted config keys are :class:`Distribution` s)."""

    model_config = ConfigDict(extra="forbid", title="[sweep.space]")

    lr: FloatRange = Field(None, description="log-uniform range of the learning rate")
    n_layers: IntRange = Field(None, description="number of hidden layers (inclusive range)")
    width: IntRange = Field(None, description="width of each hidden layer (inclusive range)")
    width_log: wants(StrictBool, "true or false") = None
    width_step: wants(Annotated[StrictInt, Field(ge=1)], "an integer ≥ 1") = None
    batch_size: wants(
        Annotated[tuple[_PositiveInt, ...], Field(min_length=1), AfterValidator(_distinct)],
        "a non-empty list of integers ≥ 1",
    ) = None
    activation: drawn_from(ACTIVATIONS) = None
    init: drawn_from(INITS) = None
    epochs: IntRange = None


_Bound = StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]
DISTRIBUTION = "{choices = [...]} or {low = …, high = …} with optional step or log = true"


class Distribution(BaseModel):
    """One dotted config key's distribution, as W&B's ``parameters`` block: choices, or a range.

    Integer bounds make an integer range, any float bound a float range.
    """

    model_config = ConfigDict(extra="forbid", title="a distribution")

    choices: Annotated[list[Any], Field(min_length=1)] = None
    low: _Bound = None
    high: _Bound = None
    step: _Bound = None
    log: StrictBool = False

    @property
    def integer(self) -> bool:
        """Both bounds (and the step) are integers."""
        return all(isinstance(v, int) for v in (self.low, self.high, self.step) if v is not None)

    @model_validator(mode="after")
    def _consistent(self) -> Distribution:
        ranged = self.low is not None or self.high is not None
        if (self.choices is None) == (not ranged) or (ranged and (self.low is None or self.high is None)):
            raise ValueError(DISTRIBUTION)
        if self.choices is not None:
            if self.step is not None or self.log:
                raise ValueError("choices without step or log")
            _distinct(tuple(self.choices))
            return self
        if self.low >= self.high and not (self.integer and self.low == self.high):
            raise ValueError("a range with low < high")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("a log range: low > 0 and no step")
        uneven = self.integer and self.step and (self.high - self.low) % self.step
        if self.step is not None and (self.step <= 0 or uneven):
            raise ValueError("a range whose step is > 0 and divides high − low")
        return self


class SweepTable(BaseModel):
    """The ``[sweep]`` table of a config."""

    model_config = ConfigDict(extra="forbid", title="[sweep]")

    n_trials: Annotated[StrictInt, Field(ge=1), Want("an integer ≥ 1")] = 20
    timeout: wants(Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)], "a number of seconds > 0") = None
    sampler: Annotated[Literal[SAMPLERS], Want(f"one of {', '.join(SAMPLERS)}")] = "tpe"
    pruner: Annotated[Literal[PRUNERS], Want(f"one of {', '.join(PRUNERS)}")] = "median"
    metric: Annotated[
        StrictStr,
        StringConstraints(pattern=r"^[\w./-]+$"),
        Want("the name of a metric the runs log, e.g. val_loss or grad_norm/W1"),
    ] = "val_loss"
    direction: wants(Literal[DIRECTIONS], "minimize or maximize") = None
    seed: wants(Annotated[StrictInt, Field(ge=0)], "an integer ≥ 0") = None
    grid_points: Annotated[StrictInt, Field(ge=1), Want("an integer ≥ 1")] = 3
    space: Annotated[dict[str, Any], Want("a table")] = Field(default_factory=dict)


def validated(model: type[BaseModel], raw: Mapping[str, Any], prefix: str, source: str) -> Any:
    """``model`` validated from ``raw``; its first problem as one :class:`BadInput` line.

    Args:
      prefix: the table's dotted name in messages (``sweep``, ``sweep.space``).
    """
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        errors = e.errors()
        unknown = [x for x in errors if x["type"] in _UNKNOWN]
        if unknown:
            known, key = ", ".join(model.model_fields), unknown[0]["loc"][0]
            raise BadInput(f"{source}: unknown key {prefix}.{key}; {prefix} takes {known}") from None
        name = errors[0]["loc"][0]
        same = [x for x in errors if x["loc"][:1] == (name,)]
        raise invalid(source, f"{prefix}.{name}", _want(model, name, same), raw[name]) from None


def _want(model: type[BaseModel], name: str, errors: list[Mapping[str, Any]]) -> str:
    for error in errors:
        if error["type"] == "value_error":
            return str(error["ctx"]["error"])
    want = next(m for m in model.model_fields[name].metadata if isinstance(m, Want))
    if want.too_small and all(x["type"] in _TOO_SMALL for x in errors):
        return want.too_small
    return want.text


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``[sweep]``: its keys, and ``[sweep.space]``'s short and dotted keys."""
    schema = SweepTable.model_json_schema()
    space = Shorthand.model_json_schema()
    space["additionalProperties"] = Distribution.model_json_schema()
    space["description"] = 'short keys, or any dotted config key (e.g. "train.batch_size") = a distribution'
    schema["properties"]["space"] = space
    return schema
