"""``bplab runs …``: housekeeping of the MLflow runs themselves.

``bplab runs reconcile`` ends the runs that a dead process left RUNNING (see
:mod:`experiments.tracking.reconcile` for how a gone process is told from a live one); ``bplab
sweep``, ``bplab worker`` and ``bplab schedule`` do the same at start (``reconcile_at_start``).
"""

from __future__ import annotations

from typing import Annotated

import typer

runs_app = typer.Typer(
    no_args_is_help=True,
    help="Housekeeping of MLflow runs: end the runs a dead process left RUNNING.",
)


@runs_app.command()
def reconcile(
    stale_after: Annotated[
        float | None,
        typer.Option(
            "--stale-after",
            min=0,
            help="Also end runs of OTHER hosts (or with no recorded process) idle this many seconds; "
            "by default only this host's runs are judged, by their pid and its start time.",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be ended.")] = False,
) -> None:
    """End runs left RUNNING by a process that is gone: FAILED with bplab.failure=worker_lost.

    Example: bplab runs reconcile --stale-after 86400
    """
    from experiments import tracking  # lazy: mlflow costs ~1.5 s of import; `bplab --help` needs none
    from experiments.tracking.reconcile import describe, reconcile_runs  # lazy: as above

    uri = tracking.ensure_reachable()
    verb = "would end" if dry_run else "ended"
    ended = reconcile_runs(
        stale_after=stale_after, dry_run=dry_run, on_ended=lambda item: print(f"{verb} {describe(item)}")
    )
    print(f"{verb} {len(ended)} run(s) left RUNNING by a gone process in {uri}")
