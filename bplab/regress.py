"""``bplab regress``: the regression suite against its baseline."""

from experiments.regression import regress_command


def command(suite, *, update_baseline: bool) -> None:
    regress_command(suite, update_baseline=update_baseline)
