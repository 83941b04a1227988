"""``bplab best``: the best trial of a sweep (params, value, run URL) and its config as a TOML file."""

from __future__ import annotations

import os
from pathlib import Path

from experiments import tracking
from experiments.errors import BadInput
from sweeps.best import Best, best_trial
from sweeps.study.url import resolve_storage


def _run_url(best: Best) -> str:
    """The trial's run page in the store the sweep wrote to; the bare id when the store cannot answer."""
    if best.tracking_uri and not os.environ.get("MLFLOW_TRACKING_URI"):
        os.environ["MLFLOW_TRACKING_URI"] = best.tracking_uri
    try:
        return tracking.run_url(best.run_id)
    except Exception:  # an unreachable store must not hide the best params
        return f"run {best.run_id} in {best.tracking_uri or tracking.tracking_uri()}"


def command(study: str | None, *, storage: str | None, out: Path | None) -> Best:
    """Prints the best trial of ``study`` and writes its config to ``out`` (default ``<study>-best.toml``).

    Raises:
      BadInput: no such study, no complete trial, or ``out`` cannot be written (exit 2).
    """
    best = best_trial(resolve_storage(storage), study)
    out = out or Path(f"{best.study}-best.toml")
    try:
        out.write_text(best.config.to_toml(), encoding="utf-8")
    except OSError as e:
        raise BadInput(f"--out {out}: cannot write: {e.strerror or e}") from None
    goal = f"{best.metric} = {best.value:.6g} ({best.direction})"
    print(f"study {best.study!r}: best trial {best.number}, {goal}")
    for name, value in best.params.items():
        print(f"  {name} = {value:.6g}" if isinstance(value, float) else f"  {name} = {value}")
    if best.run_id:
        print(f"run: {_run_url(best)}")
    print(f"config: {out}  (reproduce: bplab train {out})")
    return best
