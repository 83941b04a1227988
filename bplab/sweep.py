"""``bplab sweep`` and ``bplab worker``."""

from sweeps.sweep import run_sweep, run_worker


def sweep_command(*args, **kwargs) -> int:
    return run_sweep(*args, **kwargs)


def worker_command(*args, **kwargs) -> int:
    return run_worker(*args, **kwargs)
