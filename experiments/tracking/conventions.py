"""MLflow's conventions for a run's metadata, for runs opened by id rather than by ``mlflow.start_run``.

``mlflow.start_run`` fills in who ran what from which commit; runs opened through ``MlflowClient``
get none of it, so :func:`source_tags` supplies the same tags. Run names are short, say what was
trained and end in 4 random hex digits, so two runs of one config stay apart in the runs table.

Which experiment: the config's ``[experiment] name`` when it sets one; otherwise
``MLFLOW_EXPERIMENT_NAME`` (MLflow's variable); otherwise ``default``. A config that leaves the
section out has the name ``default``, so that name counts as "not given".
"""

from __future__ import annotations

import functools
import getpass
import os
import secrets
import sys
from pathlib import Path

from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT, MLFLOW_SOURCE_NAME, MLFLOW_SOURCE_TYPE, MLFLOW_USER

UNNAMED_EXPERIMENT = "default"  # the config's default [experiment] name
EXPERIMENT_NAME_ENV = "MLFLOW_EXPERIMENT_NAME"


def experiment_name(name: str | None) -> str:
    """The experiment a run is filed in: ``name``, unless it is unset or ``default`` and
    ``MLFLOW_EXPERIMENT_NAME`` names one."""
    if name and name != UNNAMED_EXPERIMENT:
        return name
    return os.environ.get(EXPERIMENT_NAME_ENV, "").strip() or name or UNNAMED_EXPERIMENT


def source_name(argv: list[str] | None = None) -> str:
    """What started the run: ``bplab train`` for the CLI, else the script's file name."""
    argv = sys.argv if argv is None else argv
    prog = Path(argv[0]).name if argv and argv[0] else "python"
    if prog in ("bplab", "__main__.py") and len(argv) > 1 and not argv[1].startswith("-"):
        return f"bplab {argv[1]}"
    return prog


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "unknown"


def source_tags() -> dict[str, str]:
    """``mlflow.user``, ``mlflow.source.name``, ``mlflow.source.type`` and, in a git checkout,
    ``mlflow.source.git.commit``."""
    # lazy: experiments.environment imports JAX (~1.2 s here); `bplab ui` and store checks never need it
    from experiments.environment import git_commit

    tags = {MLFLOW_USER: _user(), MLFLOW_SOURCE_NAME: source_name(), MLFLOW_SOURCE_TYPE: "LOCAL"}
    commit = git_commit()
    if commit:
        tags[MLFLOW_GIT_COMMIT] = commit
    return tags


def _short_number(x: float) -> str:
    return f"{x:g}".replace("+", "")


def run_name(cfg) -> str:
    """``<dataset>-h<widths>-lr<lr>-<4 hex>``, e.g. ``digits-h30-lr3-9f2c`` (``h64x32`` for two
    hidden layers, ``h0`` for none).

    Args:
      cfg: a :class:`experiments.config.RunConfig`.
    """
    hidden = "x".join(str(w) for w in cfg.model.hidden) or "0"
    data = Path(cfg.data.path).stem if cfg.data.dataset == "file" and cfg.data.path else cfg.data.dataset
    return f"{data}-h{hidden}-lr{_short_number(cfg.train.lr)}-{secrets.token_hex(2)}"


def default_run_name(experiment: str) -> str:
    """A run opened without a name: ``<experiment>-<4 hex>``."""
    return f"{experiment}-{secrets.token_hex(2)}"
