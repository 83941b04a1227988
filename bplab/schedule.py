"""``bplab schedule``: the regression suite on a cron schedule."""

from experiments.tracking.reconcile import reconcile_at_start
from sweeps.cron import cron_trigger
from sweeps.schedule import run_schedule


def command(cron: str, *, suite, once_after) -> None:
    cron_trigger(cron)  # a bad expression is refused before the store is touched
    reconcile_at_start("schedule")
    run_schedule(cron, suite=suite, once_after=once_after)
