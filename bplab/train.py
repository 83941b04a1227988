"""``bplab train``: train one config, print where the run is and how it ended."""

from experiments.runner import train_command


def command(config, overrides=()) -> None:
    train_command(config, overrides)
