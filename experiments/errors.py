"""The two ways a command fails on purpose; the CLI maps them to exit codes."""


class BadInput(Exception):
    """Bad usage or input (exit 2): one line saying what and where, raised before any run opens."""


class CheckFailed(Exception):
    """A check did not pass (exit 1): gradients disagree, a regression was found, a replay differs."""
