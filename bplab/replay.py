"""``bplab replay``: re-run a logged run and compare."""

from experiments.replay import replay_command


def command(run_id: str, *, rtol) -> None:
    replay_command(run_id, rtol=rtol)
