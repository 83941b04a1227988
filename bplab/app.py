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
from typer._click.exceptions import NoArgsIsHelpError

from bplab.options import (
    EXAMPLES,
    ConfigArg,
    HeartbeatOpt,
    NTrialsOpt,
    OnceAfterOpt,
    OutOpt,
    OverridesArg,
    PopulationOpt,
    PortOpt,
    RtolOpt,
    SetOpt,
    StorageOpt,
    StudyArg,
    StudyOpt,
    SuiteArg,
    TimeoutOpt,
    VersionOpt,
    WorkersOpt,
    overrides,
)
from bplab.runs import runs_app
from experiments.collector import collect_less_often, no_collection_at_exit
from experiments.errors import BadInput, CheckFailed, OutOfMemory, TrackingUnavailable
from experiments.failures import is_disk_full

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Backprop Lab: hand-written backprop in JAX, checked against autodiff, swept and tracked.",
)


# --- train, gradcheck, ui ---------------------------------------------------------------------


@app.command(epilog=EXAMPLES["train"])
def train(
    config: ConfigArg,
    bare: OverridesArg = None,
    set_: SetOpt = None,
    system_metrics: Annotated[
        bool, typer.Option("--system-metrics", help="Also log CPU, memory and GPU use (system/* metrics).")
    ] = False,
) -> None:
    """Train one config and record the run in MLflow (params, per-epoch metrics, artifacts, model)."""
    from bplab import train as verb

    verb.command(config, overrides(set_, bare), system_metrics=system_metrics)


@app.command(epilog=EXAMPLES["gradcheck"])
def gradcheck(
    config: ConfigArg,
    bare: OverridesArg = None,
    set_: SetOpt = None,
    x64: Annotated[bool, typer.Option("--x64", help="Check in float64 (tolerance 1e-10, not 1e-4).")] = False,
    epochs: Annotated[int, typer.Option(help="Epochs trained between the two checks.")] = 3,
) -> None:
    """Compare manual vs jax.grad vs finite differences and name the backprop equation that disagrees."""
    from bplab import gradcheck as verb

    verb.command(config, overrides(set_, bare), x64=x64, epochs=epochs)


@app.command(epilog=EXAMPLES["ui"])
def ui(port: PortOpt = 5000) -> None:
    """Serve the MLflow UI for the store in use on 127.0.0.1 and print its URL."""
    from bplab import ui as verb

    verb.command(port)


# --- sweep, worker -------------------------------------------------------------------------------


@app.command(epilog=EXAMPLES["sweep"])
def sweep(
    config: ConfigArg,
    bare: OverridesArg = None,
    n_trials: NTrialsOpt = None,
    workers: WorkersOpt = 1,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    timeout: TimeoutOpt = None,
    heartbeat: HeartbeatOpt = 10,
    set_: SetOpt = None,
    population: PopulationOpt = None,
    register: Annotated[
        str | None,
        typer.Option("--register", help="Register the best trial's model as NAME (alias champion)."),
    ] = None,
) -> None:
    """Search learning rate and layer sizes with Optuna; every trial a nested MLflow run."""
    from bplab import sweep as verb

    rc = verb.sweep_command(
        config,
        overrides(set_, bare),
        n_trials=n_trials,
        workers=workers,
        study=study,
        storage=storage,
        timeout=timeout,
        heartbeat=heartbeat,
        population=population,
        register=register,
    )
    if rc:
        raise typer.Exit(rc)


@app.command(epilog=EXAMPLES["worker"])
def worker(
    study: Annotated[str, typer.Option("--study", help="The study to join (created by `bplab sweep`).")],
    storage: StorageOpt = None,
    n_trials: Annotated[
        int | None, typer.Option(min=1, help="At most this many trials from this worker.")
    ] = None,
    heartbeat: HeartbeatOpt = 10,
    population: PopulationOpt = None,
) -> None:
    """Join an existing sweep: its config, budget and parent run come from the study."""
    from bplab import sweep as verb

    rc = verb.worker_command(
        study, storage=storage, n_trials=n_trials, heartbeat=heartbeat, population=population
    )
    if rc:
        raise typer.Exit(rc)


# --- regress, schedule, replay -------------------------------------------------------------------


@app.command(epilog=EXAMPLES["regress"])
def regress(
    suite: SuiteArg = None,
    update_baseline: Annotated[
        bool, typer.Option("--update-baseline", help="Write this run's numbers as the new baseline.")
    ] = False,
) -> None:
    """Run the regression suite against its baselines; exit 1 when anything got worse."""
    from bplab import regress as verb

    verb.command(suite, update_baseline=update_baseline)


@app.command(epilog=EXAMPLES["schedule"])
def schedule(
    cron: Annotated[str, typer.Option("--cron", help='A 5-field crontab expression, e.g. "0 3 * * *".')],
    suite: Annotated[
        str | None, typer.Option("--suite", help="The suite to run (default: regression).")
    ] = None,
    once_after: OnceAfterOpt = None,
) -> None:
    """Run the regression suite on a cron schedule until SIGTERM (APScheduler)."""
    from bplab import schedule as verb

    verb.command(cron, suite=suite, once_after=once_after)


@app.command(epilog=EXAMPLES["replay"])
def replay(
    run_id: Annotated[str, typer.Argument(help="The MLflow run to re-run from its recorded config.")],
    rtol: RtolOpt = None,
) -> None:
    """Re-run a logged run from its config and seeds; exit 1 unless losses and gradients match."""
    from bplab import replay as verb

    verb.command(run_id, rtol=rtol)


# --- bench ---------------------------------------------------------------------------------------


@app.command(epilog=EXAMPLES["bench"])
def bench(
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    quick: Annotated[bool, typer.Option(help="Fewer repeats and a smaller epoch (a smoke run).")] = False,
) -> None:
    """Benchmark the core: manual vs jax.grad per step, fused epoch vs Python loop, numpy reference."""
    from bplab import bench as verb

    verb.command(json_out=json_out, quick=quick)


app.add_typer(runs_app, name="runs")  # bplab runs reconcile


# --- best, dashboard, config --------------------------------------------------------------------


@app.command(epilog=EXAMPLES["best"])
def best(
    study: StudyArg = None,
    storage: StorageOpt = None,
    out: OutOpt = None,
) -> None:
    """Print a sweep's best trial (params, value, run URL) and write the config that reproduces it."""
    from bplab import best as verb

    verb.command(study, storage=storage, out=out)


@app.command(epilog=EXAMPLES["dashboard"])
def dashboard(study: StudyArg = None, storage: StorageOpt = None, port: PortOpt = 8080) -> None:
    """Serve optuna-dashboard on the sweep's storage on 127.0.0.1 until Ctrl-C; print its URL."""
    from bplab import dashboard as verb

    verb.command(study, storage=storage, port=port)


@app.command(epilog=EXAMPLES["config"])
def config(
    config: Annotated[Path | None, typer.Argument(help="A TOML config to resolve and validate.")] = None,
    bare: OverridesArg = None,
    set_: SetOpt = None,
    schema: Annotated[bool, typer.Option("--schema", help="Print the config file's JSON Schema.")] = False,
) -> None:
    """Print a config resolved and validated (its sweep table too), or the JSON Schema of config files."""
    from bplab import config as verb

    verb.command(config, overrides(set_, bare), schema_only=schema)


@app.callback()
def _group(
    version: VersionOpt = False,
) -> None:
    """Backprop Lab: hand-written backprop in JAX, checked against autodiff, swept and tracked."""


def usage_error(e: typer.TyperException) -> str:
    """A usage error (a missing argument, an unknown option, a value out of range) and where the
    help is, on one line: click's own message takes four."""
    message = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    return message if ctx is None else f"{message} (see '{ctx.command_path} --help')"


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the app and turns the project's errors into exit codes."""
    collect_less_often()  # before the verb imports JAX, MLflow and Optuna
    no_collection_at_exit()
    try:
        rc = app(args=argv, prog_name="bplab", standalone_mode=False)
    except BadInput as e:
        print(f"bplab: error: {e}", file=sys.stderr)
        sys.exit(2)
    except (OutOfMemory, TrackingUnavailable) as e:  # the machine or the store failed, not a check
        print(f"bplab: error: {e}", file=sys.stderr)
        sys.exit(1)
    except CheckFailed as e:
        print(f"bplab: check failed: {e}", file=sys.stderr)
        sys.exit(1)
    except typer.Abort:
        print("bplab: aborted", file=sys.stderr)
        sys.exit(130)
    except NoArgsIsHelpError as e:  # `bplab` or a group alone: its help
        e.show()
        sys.exit(2)
    except typer.TyperException as e:  # click's usage errors (typer vendors click): one line, as ours
        print(f"bplab: error: {usage_error(e)}", file=sys.stderr)
        sys.exit(2)
    except OSError as e:
        if not is_disk_full(e):
            raise
        print(f"bplab: error: no room to write: {e}", file=sys.stderr)  # the output's disk, say
        sys.exit(1)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
