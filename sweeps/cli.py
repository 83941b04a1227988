"""The `bplab` command line. Each command parses its arguments and calls one library function.

Exit codes: 0 success, 1 a check failed, 2 bad usage or input (one line on stderr, no traceback).
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


# --- bench (issue 2) -----------------------------------------------------------------------------


@app.command()
def bench(
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
    quick: Annotated[bool, typer.Option(help="Fewer repeats and a smaller epoch (a smoke run).")] = False,
) -> None:
    """Benchmark the core: manual vs jax.grad per step, fused epoch vs Python loop, numpy reference."""
    from experiments.bench import run_bench

    run_bench(json_out=json_out, quick=quick)


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
