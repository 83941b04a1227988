"""The arguments and options several verbs share, the environment they read, and their examples.

Kept apart from :mod:`bplab.app` so each verb's signature there stays a few lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated

import typer

ENV_TRACKING = "Environment: MLFLOW_TRACKING_URI = the MLflow store (default sqlite:///mlflow.db here)."
ENV_STORAGE = "BPLAB_OPTUNA_STORAGE = the Optuna storage (default ./optuna.journal)."

ConfigArg = Annotated[Path, typer.Argument(help="A TOML config, e.g. experiments/configs/digits.toml.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key, e.g. --set train.lr=0.5 (repeatable)."),
]
OverridesArg = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="KEY=VALUE",
        help="Overrides as bare key=value (Hydra style), the same as --set: train.lr=0.5 model.hidden=[30].",
        show_default=False,
    ),
]
StudyOpt = Annotated[str | None, typer.Option("--study", help="Study name (default: the experiment name).")]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        envvar="BPLAB_OPTUNA_STORAGE",
        show_envvar=True,
        help="Optuna storage: postgresql://… for many machines, sqlite:///PATH or PATH.journal; "
        "default ./optuna.journal.",
    ),
]
HeartbeatOpt = Annotated[
    int,
    typer.Option(min=1, help="PostgreSQL heartbeat in seconds; a dead worker's trial is retried after 3×."),
]
NTrialsOpt = Annotated[int | None, typer.Option(min=1, help="Total trials (default sweep.n_trials).")]
WorkersOpt = Annotated[
    int, typer.Option(min=0, help="Local worker processes; 0 only creates the study for remote workers.")
]
PopulationOpt = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Trials trained at once as one vmapped program, by each worker "
        "(default: 1 on CPU, 16 on GPU/TPU).",
    ),
]
TimeoutOpt = Annotated[float | None, typer.Option(min=0.001, help="Seconds after which no new trial starts.")]
SuiteArg = Annotated[
    str | None,
    typer.Argument(help="A suite TOML, or the name of one in experiments/configs/ (default: regression)."),
]
OnceAfterOpt = Annotated[
    float | None,
    typer.Option(
        "--once-after",
        min=0,
        help="Also run the suite once, this many seconds after start (a smoke check of the wiring).",
    ),
]
RtolOpt = Annotated[
    float | None,
    typer.Option(
        min=0, help="Relative tolerance (default: exact on the recorded backend, 1e-3 on another one)."
    ),
]
PortOpt = Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")]


def example(*lines: str, env: str = ENV_TRACKING) -> str:
    """A verb's ``--help`` epilog: its example command lines, then the environment it reads."""
    shown = "\n\n".join(f"  $ {line}" for line in lines)
    return f"Example:\n\n{shown}\n\n{env}" if env else f"Example:\n\n{shown}"


def overrides(set_: Sequence[str] | None, bare: Sequence[str] | None) -> list[str]:
    """``--set`` values, then the bare ``key=value`` arguments, in the order they are applied."""
    return [*(set_ or ()), *(bare or ())]


def show_version(value: bool) -> None:
    """``--version``: the installed package's version, then exit."""
    if value:
        try:
            print(f"bplab {version('backprop-lab')}")
        except PackageNotFoundError:  # run from a checkout that was never installed
            print("bplab (not installed)")
        raise typer.Exit()


StudyArg = Annotated[
    str | None, typer.Argument(help="The study (default: the only sweep study in the storage).")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Where to write its config (default <study>-best.toml).")
]
VersionOpt = Annotated[
    bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
]

DIGITS = "experiments/configs/digits.toml"
SWEEP_ENV = f"{ENV_TRACKING} {ENV_STORAGE}"
EXAMPLES = {
    "train": example(f"bplab train {DIGITS} train.lr=0.5 model.hidden=[30]"),
    "gradcheck": example(
        f"bplab gradcheck {DIGITS} --x64", f"bplab gradcheck {DIGITS} model.activation=tanh"
    ),
    "ui": example("bplab ui --port 5001"),
    "sweep": example(
        f"bplab sweep {DIGITS} --n-trials 50 --workers 4",
        f"bplab sweep {DIGITS} --study digits-wide sweep.pruner=asha",
        env=SWEEP_ENV,
    ),
    "worker": example("bplab worker --study digits --storage postgresql://bplab@db/optuna", env=SWEEP_ENV),
    "regress": example("bplab regress", "bplab regress --update-baseline"),
    "schedule": example('bplab schedule --cron "0 3 * * *"'),
    "replay": example("bplab replay 3f2c9a0d8e7b4c1a --rtol 1e-3"),
    "bench": example("bplab bench --quick --json", env=""),
    "best": example("bplab best digits --out best.toml", "bplab train best.toml", env=SWEEP_ENV),
    "dashboard": example("bplab dashboard digits --port 8080", env=f"Environment: {ENV_STORAGE}"),
    "config": example(
        f"bplab config {DIGITS} train.lr=0.5", "bplab config --schema > bplab.schema.json", env=""
    ),
}
