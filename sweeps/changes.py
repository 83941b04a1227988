"""What differs between the sweep a study holds and the one being started under the same name.

A study keeps its base config; a resume must run the same sweep, so a changed setting is refused
with the keys that differ and the way out (a new ``--study``). The budget and the time limit may
change on a resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experiments.errors import BadInput

RESUMABLE = ("sweep.n_trials", "sweep.timeout")  # a resume may raise the budget or change the time limit


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):  # an empty table is the same as an absent one
            out.update(_flat(value, name))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def changed_keys(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The dotted keys whose values differ (or exist on one side only), sorted; resumable ones left out.

    ``{"train": {"lr": 1}}`` against ``{"train": {"lr": 2}}`` → ``["train.lr"]``.
    """
    old, new = _flat(stored), _flat(current)
    return sorted(k for k in old.keys() | new.keys() if k not in RESUMABLE and old.get(k) != new.get(k))


def check_same_sweep(source: str, study: str, stored: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Refuses to resume ``study`` with a config whose settings differ from the stored ones.

    Raises:
      BadInput: one line naming the differing keys and how to start a new study.
    """
    keys = changed_keys(stored, current)
    if keys:
        shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
        raise BadInput(
            f"{source}: study {study!r} holds a sweep with different settings ({shown}); "
            f"resume it with its own settings, or start a new study with --study {study}-2"
        )
