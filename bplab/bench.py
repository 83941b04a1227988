"""``bplab bench``: is manual backprop as fast as jax.grad on this machine?"""

from experiments.bench import run_bench


def command(*, json_out: bool, quick: bool) -> None:
    run_bench(json_out=json_out, quick=quick)
