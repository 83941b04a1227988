"""Reads docker-compose.yml the way Compose does, and turns a service into a native command.

Interpolation follows Compose's rules for the forms the file uses: ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?message}``, ``${VAR?message}``, ``${VAR:+alt}``, ``$VAR`` and ``$$``
(a literal ``$`` for the container's shell). An unset ``:?`` variable raises, as ``docker compose``
refuses to start.

What "native" changes, and nothing else: the service host names become 127.0.0.1 (Compose's DNS),
container ports become free ports on loopback (``--host 0.0.0.0`` becomes ``127.0.0.1``), and
container paths (``/app``, volumes) become folders of this checkout and of the test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"

_VAR = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)"
)


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def load() -> dict[str, Any]:
    """The compose file as YAML (anchors and ``<<`` merges resolved by PyYAML)."""
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def variables() -> set[str]:
    """Every variable the compose file interpolates."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    return {m["name"] or m["bare"] for m in _VAR.finditer(text) if m.group(0) != "$$"}


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=VALUE`` lines of an env file (comments and blank lines skipped)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """``value`` with every variable substituted from ``env`` (recursively through lists and dicts)."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m["name"] or m["bare"], m["op"], m["arg"] or ""
        val = env.get(name)
        present = bool(val) if op and op.startswith(":") else val is not None
        if op in (":-", "-"):
            return val if present else arg
        if op in (":?", "?"):
            if not present:
                raise MissingVariable(f"{name}: {arg}")
            return val
        if op in (":+", "+"):
            return arg if present else ""
        return val or ""

    return _VAR.sub(substitute, value)


def service(name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """One service, interpolated with ``env``."""
    return interpolate(load()["services"][name], env)


def to_native(value: Any, *, ports: Mapping[str, int]) -> Any:
    """Service host names to 127.0.0.1: ``postgres:5432`` stays 5432 (the local server),
    ``mlflow:5000`` becomes ``127.0.0.1:ports["mlflow"]``."""
    if isinstance(value, dict):
        return {k: to_native(v, ports=ports) for k, v in value.items()}
    if isinstance(value, list):
        return [to_native(v, ports=ports) for v in value]
    if not isinstance(value, str):
        return value
    value = value.replace("@postgres:5432/", "@127.0.0.1:5432/")
    return value.replace("http://mlflow:5000", f"http://127.0.0.1:{ports['mlflow']}")


def set_option(argv: list[str], option: str, new: str) -> list[str]:
    """``argv`` with the value after ``option`` replaced (the option must be there)."""
    i = argv.index(option)
    return [*argv[: i + 1], new, *argv[i + 2 :]]


def healthcheck_argv(svc: Mapping[str, Any]) -> list[str]:
    """The service's health check as an argv: ``CMD`` runs as is, ``CMD-SHELL`` through ``sh -c``."""
    test = list(svc["healthcheck"]["test"])
    if test[0] == "CMD":
        return test[1:]
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", test[1]]
    raise ValueError(f"unexpected healthcheck form {test[0]!r}")
