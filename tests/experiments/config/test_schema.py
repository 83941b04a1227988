"""The section models: frozen dataclasses, one error text per key, and the JSON Schema for editors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from backprop_core import ACTIVATIONS
from experiments.config import SECTIONS, DataConfig, json_schema, load_config
from experiments.config.schema import SECTION_CLASSES, Want

CONFIGS = Path(__file__).resolve().parents[3] / "experiments" / "configs"


def test_config_is_frozen():
    cfg = load_config(CONFIGS / "digits.toml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.lr = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.sweep["x"] = 1  # type: ignore[index]


def test_sections_are_hashable_cache_keys():
    assert hash(DataConfig(dataset="iris")) == hash(DataConfig(dataset="iris"))
    assert DataConfig(dataset="iris") != DataConfig(dataset="xor")


@pytest.mark.parametrize("section", list(SECTION_CLASSES))
def test_every_key_says_what_it_wants(section):
    for name, field in SECTION_CLASSES[section].__pydantic_fields__.items():
        wants = [m for m in field.metadata if isinstance(m, Want)]
        assert len(wants) == 1, f"{section}.{name}"


def test_json_schema_has_the_sections_and_their_rules():
    schema = json_schema()
    json.dumps(schema)  # plain JSON
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == set(SECTIONS)
    assert schema["additionalProperties"] is False

    def section(name):
        ref = schema["properties"][name]["$ref"].rsplit("/", 1)[-1]
        return schema["$defs"][ref]

    train = section("train")
    assert train["additionalProperties"] is False
    assert train["properties"]["lr"]["type"] == "number"
    assert train["properties"]["lr"]["exclusiveMinimum"] == 0
    assert train["properties"]["epochs"]["minimum"] == 1
    model = section("model")
    assert model["properties"]["activation"]["enum"] == list(ACTIVATIONS)
    assert model["properties"]["hidden"]["items"] == {"type": "integer", "minimum": 1}
    assert section("data")["properties"]["val_fraction"]["exclusiveMaximum"] == 1
    assert schema["properties"]["sweep"]["type"] == "object"
