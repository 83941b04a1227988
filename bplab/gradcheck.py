"""``bplab gradcheck``: the gradient-check table, and the equation that disagrees."""

from experiments.gradcheck import run_gradcheck


def command(config, overrides=(), *, x64: bool, epochs: int) -> None:
    run_gradcheck(config, overrides, x64=x64, epochs=epochs)
