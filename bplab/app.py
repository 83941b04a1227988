"""The ``bplab`` app: one typer command per verb, each handing its parsed arguments to ``bplab.<verb>``.

Exit codes: 0 success, 1 a check failed, 2 bad usage or input (one line on stderr, no traceback).

Each verb imports its module inside the command: the verbs pull in JAX, MLflow and Optuna, and
importing them all up front would cost every ``bplab --help`` seconds of start-up.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from experiments.errors import BadInput, CheckFailed

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Backprop Lab: hand-written backprop in JAX, checked against autodiff, swept and tracked.",
)

ConfigArg = Annotated[Path, typer.Argument(help="A TOML config, e.g. experiments/configs/digits.toml.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a config key, e.g. --set train.lr=0.5 (repeatable)."),
]


# --- train, gradcheck, ui ---------------------------------------------------------------------


@app.command()
def train(config: ConfigArg, set_: SetOpt = None) -> None:
    """Train one config and record the run in MLflow (params, per-epoch metrics, artifacts, model)."""
    from bplab import train as verb

    verb.command(config, set_ or ())


@app.command()
def gradcheck(
    config: ConfigArg,
    set_: SetOpt = None,
    x64: Annotated[bool, typer.Option("--x64", help="Check in float64 (tolerance 1e-10, not 1e-4).")] = False,
    epochs: Annotated[int, typer.Option(help="Epochs trained between the two checks.")] = 3,
) -> None:
    """Compare manual vs jax.grad vs finite differences and name the backprop equation that disagrees."""
    from bplab import gradcheck as verb

    verb.command(config, set_ or (), x64=x64, epochs=epochs)


@app.command()
def ui(port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000) -> None:
    """Serve the MLflow UI for the store in use on 127.0.0.1 and print its URL."""
    from bplab import ui as verb

    verb.command(port)


# --- sweep, worker -------------------------------------------------------------------------------

StudyOpt = Annotated[str | None, typer.Option("--study", help="Study name (default: the experiment name).")]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage: postgresql://… for many machines (env BPLAB_OPTUNA_STORAGE); "
        "default ./optuna.journal.",
    ),
]
HeartbeatOpt = Annotated[
    int,
    typer.Option(min=1, help="PostgreSQL heartbeat in seconds; a dead worker's trial is retried after 3×."),
]


@app.command()
def sweep(
    config: ConfigArg,
    n_trials: Annotated[
        int | None, typer.Option(min=1, help="Total trials (default sweep.n_trials).")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=0, help="Local worker processes; 0 only creates the study for remote workers.")
    ] = 1,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Seconds after which no new trial starts.")
    ] = None,
    heartbeat: HeartbeatOpt = 10,
    set_: SetOpt = None,
) -> None:
    """Search learning rate and layer sizes with Optuna; every trial a nested MLflow run."""
    from bplab import sweep as verb

    rc = verb.sweep_command(
        config,
        set_,
        n_trials=n_trials,
        workers=workers,
        study=study,
        storage=storage,
        timeout=timeout,
        heartbeat=heartbeat,
    )
    if rc:
        raise typer.Exit(rc)


@app.command()
def worker(
    study: Annotated[str, typer.Option("--study", help="The study to join (created by `bplab sweep`).")],
    storage: StorageOpt = None,
    n_trials: Annotated[
        int | None, typer.Option(min=1, help="At most this many trials from this worker.")
    ] = None,
    heartbeat: HeartbeatOpt = 10,
) -> None:
    """Join an existing sweep: its config, budget and parent run come from the study."""
    from bplab import sweep as verb

    rc = verb.worker_command(study, storage=storage, n_trials=n_trials, heartbeat=heartbeat)
    if rc:
        raise typer.Exit(rc)


# --- regress, schedule, replay -------------------------------------------------------------------

SuiteArg = Annotated[
    str | None,
    typer.Argument(help="A suite TOML, or the name of one in experiments/configs/ (default: regression)."),
]


@app.command()
def regress(
    suite: SuiteArg = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Write this run's numbers as the new baseline.")
    ] = False,
) -> None:
    """Run the regression suite against its baselines; exit 1 when anything got worse."""
    from bplab import regress as verb

    verb.command(suite, update_baseline=update_baseline)


@app.command()
def schedule(
    cron: Annotated[str, typer.Option("--cron", help='A 5-field crontab expression, e.g. "0 3 * * *".')],
    suite: Annotated[
        str | None, typer.Option("--suite", help="The suite to run (default: regression).")
    ] = None,
    once_after: Annotated[
        float | None,
        typer.Option(
            "--once-after",
            min=0,
            help="Also run the suite once, this many seconds after start (a smoke check of the wiring).",
        ),
    ] = None,
) -> None:
    """Run the regression suite on a cron schedule until SIGTERM (APScheduler)."""
    from bplab import schedule as verb

    verb.command(cron, suite=suite, once_after=once_after)


@app.command()
def replay(
    run_id: Annotated[str, typer.Argument(help="The MLflow run to re-run from its recorded config.")],
    rtol: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Relative tolerance (default: exact on the recorded backend, 1e-3 on another one).",
        ),
    ] = None,
) -> None:
    """Re-run a logged run from its config and seeds; exit 1 unless losses and gradients match."""
    from bplab import replay as verb

    verb.command(run_id, rtol=rtol)


# --- bench ---------------------------------------------------------------------------------------


@app.command()
def bench(
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    quick: Annotated[bool, typer.Option(help="Fewer repeats and a smaller epoch (a smoke run).")] = False,
) -> None:
    """Benchmark the core: manual vs jax.grad per step, fused epoch vs Python loop, numpy reference."""
    from bplab import bench as verb

    verb.command(json_out=json_out, quick=quick)


@app.callback()
def _group() -> None:
    """Backprop Lab: hand-written backprop in JAX, checked against autodiff, swept and tracked."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns the project's errors into exit codes."""
    try:
        rc = app(args=argv, standalone_mode=False)
    except BadInput as e:
        print(f"bplab: error: {e}", file=sys.stderr)
        sys.exit(2)
    except CheckFailed as e:
        print(f"bplab: check failed: {e}", file=sys.stderr)
        sys.exit(1)
    except typer.Abort:
        print("bplab: aborted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as e:  # click's usage errors (typer vendors click)
        e.show()
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
