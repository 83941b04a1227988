"""``bplab schedule``: the regression suite on a cron schedule."""

from sweeps.schedule import run_schedule


def command(cron: str, *, suite, once_after) -> None:
    run_schedule(cron, suite=suite, once_after=once_after)
