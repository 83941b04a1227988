"""The suite file: pinned cases, each a run config plus the rules' numbers.

A suite is a TOML file (``experiments/configs/regression.toml``)::

    [suite]
    name = "regression"                        # the MLflow experiment of the parent and its children
    baseline = "../baselines/regression.json"  # relative to the suite file, versioned in the repo

    [[case]]
    name = "xor"
    kind = "train"                             # train | gradcheck | throughput
    config = "xor.toml"                        # relative to the suite file
    set = ["train.epochs=400"]                 # overrides, as with --set
    [case.tolerance]
    loss_rel = 0.05

Everything is validated when the file is read, so a bad suite is refused before any run opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.config import RunConfig, load_config, read_toml
from experiments.errors import BadInput
from experiments.validate import choice, expect, int_at_least, invalid, is_number

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"
DEFAULT_SUITE = CONFIGS_DIR / "regression.toml"
CASE_KINDS = ("train", "gradcheck", "throughput")

# Rules per kind, with defaults a case's [case.tolerance] may override.
TOLERANCE_DEFAULTS: dict[str, dict[str, float]] = {
    "train": {"loss_rel": 0.05, "loss_abs": 1e-4, "accuracy_abs": 0.02, "grad_rel_err_max": 1e-4},
    "gradcheck": {"grad_rel_err_max": 1e-10, "fd_rel_err_max": 1e-5},
    "throughput": {"min_fraction": 0.5},
}
CASE_KEYS = {
    "train": {"name", "kind", "config", "set", "tolerance"},
    "gradcheck": {"name", "kind", "config", "set", "tolerance", "epochs"},
    "throughput": {"name", "kind", "config", "set", "tolerance", "repeats"},
}


@dataclass(frozen=True)
class Case:
    """One pinned case.

    Attributes:
      name: unique in the suite; the child run's name and the baseline's key.
      kind: ``train``, ``gradcheck`` or ``throughput``.
      config: the validated run config (its experiment name replaced by the suite's).
      tolerance: the rules' numbers (defaults of the kind, overridden by ``[case.tolerance]``).
      epochs: ``gradcheck``: epochs trained between the two checks.
      repeats: ``throughput``: timed pairs after the warm-up.
    """

    name: str
    kind: str
    config: RunConfig
    tolerance: Mapping[str, float]
    epochs: int = 3
    repeats: int = 9


@dataclass(frozen=True)
class Suite:
    """A parsed suite file: its name (the MLflow experiment), where it and its baseline live, its cases."""

    name: str
    path: Path
    baseline_path: Path
    cases: tuple[Case, ...]


def resolve_suite_path(suite: str | Path | None) -> Path:
    """A suite argument as a file: an existing path, or a name in ``experiments/configs/``.

    Raises:
      BadInput: neither exists.
    """
    if suite is None or str(suite) == "":
        return DEFAULT_SUITE
    p = Path(suite)
    if p.is_file():
        return p
    named = CONFIGS_DIR / f"{suite}.toml"
    if p.suffix == "" and named.is_file():
        return named
    raise BadInput(f"{suite}: no such suite file (nor experiments/configs/{suite}.toml)")


def _parse_tolerance(kind: str, table: Any, source: str, where: str) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise invalid(source, f"{where}.tolerance", "a table", table)
    tol = dict(TOLERANCE_DEFAULTS[kind])
    for key, value in table.items():
        expect(
            key in tol, f"{where}.tolerance.{key}", key, f"one of {', '.join(tol)} (a {kind} case)", source
        )
        expect(is_number(value) and value >= 0, f"{where}.tolerance.{key}", value, "a number ≥ 0", source)
        tol[key] = float(value)
    return tol


def _parse_case(table: Any, index: int, suite_name: str, path: Path) -> Case:
    source = str(path)
    if not isinstance(table, Mapping):
        raise invalid(source, f"case[{index}]", "a table", table)
    name = table.get("name")
    expect(
        isinstance(name, str) and bool(name.strip()),
        f"case[{index}].name",
        name,
        "a non-empty string",
        source,
    )
    where = f"case {name!r}"
    kind = choice(f"{where}.kind", table.get("kind", "train"), CASE_KINDS, source)
    unknown = sorted(set(table) - CASE_KEYS[kind])
    if unknown:
        raise BadInput(
            f"{source}: {where}: unknown key {unknown[0]!r}; expected {', '.join(sorted(CASE_KEYS[kind]))}"
        )
    config = table.get("config")
    expect(isinstance(config, str), f"{where}.config", config, "a path to a run config", source)
    overrides = table.get("set", [])
    ok = isinstance(overrides, list) and all(isinstance(o, str) for o in overrides)
    expect(ok, f"{where}.set", overrides, 'a list of strings such as "train.epochs=5"', source)
    cfg = load_config(path.parent / config, overrides).with_values({"experiment.name": suite_name})
    return Case(
        name=name,
        kind=kind,
        config=cfg,
        tolerance=_parse_tolerance(kind, table.get("tolerance", {}), source, where),
        epochs=int_at_least(f"{where}.epochs", table.get("epochs", 3), 0, source),
        repeats=int_at_least(f"{where}.repeats", table.get("repeats", 9), 3, source),
    )


def load_suite(path: str | Path) -> Suite:
    """Reads and validates a suite file (every case's config too).

    Raises:
      BadInput: a missing file, a TOML error, an unknown key, a bad value, a duplicate case name or
        a bad case config; one line naming the file and the key.
    """
    path = Path(path)
    d = read_toml(path, kind="suite")
    unknown = sorted(set(d) - {"suite", "case"})
    if unknown:
        raise BadInput(f"{path}: unknown section [{unknown[0]}]; expected [suite] and [[case]]")
    head = d.get("suite", {})
    if not isinstance(head, Mapping) or set(head) - {"name", "baseline"}:
        raise BadInput(f"{path}: [suite] takes only name and baseline")
    name = head.get("name", path.stem)
    baseline = head.get("baseline", f"../baselines/{path.stem}.json")
    if not isinstance(name, str) or not name.strip() or not isinstance(baseline, str):
        raise BadInput(f"{path}: suite.name and suite.baseline must be non-empty strings")
    tables = d.get("case", [])
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{path}: no [[case]] in the suite")
    cases = tuple(_parse_case(t, i, name, path) for i, t in enumerate(tables))
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"{path}: case name {dupes[0]!r} appears twice")
    return Suite(name, path, (path.parent / baseline).resolve(), cases)
