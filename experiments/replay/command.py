"""``bplab replay RUN_ID``'s library side: read the run, train it again, compare, decide."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from experiments.environment import environment
from experiments.errors import BadInput, CheckFailed
from experiments.replay.compare import (
    Comparison,
    compare_arrays,
    compare_curve,
    missing_weights,
    tolerance_for,
)
from experiments.replay.recorded import Recorded, read_recorded
from experiments.replay.replayed import Replayed, replay_training


@dataclass(frozen=True)
class ReplayResult:
    """A replay's outcome.

    Attributes:
      run_id: the replayed run.
      mode: how values were compared, in words (``exact: same backend cpu, jax 0.10.2`` …).
      comparisons: every curve, then every weight tensor.
      failure: why the replay's training ended early (empty when it finished).
    """

    run_id: str
    mode: str
    comparisons: list[Comparison]
    failure: str = ""

    @property
    def mismatches(self) -> list[Comparison]:
        """The quantities that did not match."""
        return [c for c in self.comparisons if not c.matched]


class ReplayFailed(CheckFailed):
    """Something differs (exit 1); ``result`` holds every comparison, for the table."""

    def __init__(self, result: ReplayResult):
        first, bad = result.mismatches[0], result.mismatches
        where = f"from epoch {first.first_mismatch}" if first.first_mismatch is not None else first.note
        nums = (
            f" (recorded {first.recorded:.9g}, replayed {first.replayed:.9g})"
            if first.recorded is not None
            else f" (relative difference {first.max_rel_diff:.3g})"
        )
        super().__init__(
            f"replay of run {result.run_id} differs in {len(bad)} of {len(result.comparisons)} quantities: "
            f"{first.name} {where}{nums}"
        )
        self.result = result


def replay(run_id: str, *, rtol: float | None = None, grad: Callable | None = None) -> ReplayResult:
    """Re-runs a logged run from its recorded config and seeds, untracked, and compares.

    Args:
      run_id: the MLflow run (a ``bplab train`` run, with its ``config.toml`` artifact).
      rtol: relative tolerance; ``None``: exact on the recorded machine kind, else
        :data:`experiments.replay.compare.CROSS_BACKEND_RTOL`.
      grad: a replacement for :func:`backprop_core.backward` in the replay (``None``: the real one).

    Raises:
      BadInput: no such run, no config artifact, a negative ``rtol`` (exit 2).
      ReplayFailed: something differs (exit 1).
    """
    if rtol is not None and not (rtol >= 0):
        raise BadInput(f"--rtol {rtol}: must be ≥ 0")
    recorded = read_recorded(run_id)
    current = environment()
    tol = tolerance_for(recorded.environment, current, rtol)
    epochs = max((len(v) for v in recorded.curves.values()), default=0)
    cfg = recorded.config
    if recorded.status != "FINISHED" and 0 < epochs < cfg.train.epochs:
        cfg = cfg.with_values({"train.epochs": epochs})  # a killed run: replay what it recorded
    replayed = replay_training(cfg, grad=grad)
    result = ReplayResult(
        run_id,
        describe(tol, rtol, recorded.environment, current),
        compare(recorded, replayed, tol),
        replayed.failure,
    )
    if result.mismatches:
        raise ReplayFailed(result)
    return result


def describe(tol: float, rtol: float | None, recorded: Mapping[str, str], current: Mapping[str, str]) -> str:
    """The comparison mode in words, for the table's title."""
    if rtol is not None:
        return f"rtol {tol:g}, as asked"
    if tol == 0:
        return f"exact: same backend {current['backend']}, jax {current['jax_version']}"
    return (
        f"rtol {tol:g}: recorded on {recorded.get('backend', '?')} / jax {recorded.get('jax_version', '?')}, "
        f"replayed on {current['backend']} / jax {current['jax_version']}"
    )


def compare(recorded: Recorded, replayed: Replayed, rtol: float) -> list[Comparison]:
    """Every curve, then every weight tensor."""
    out = []
    for name, points in recorded.curves.items():
        values = {e: m[name] for e, m in replayed.history.items() if name in m}
        out.append(compare_curve(name, points, values, rtol))
    if recorded.weights is not None:
        for name, W in recorded.weights.items():
            if replayed.weights is None or name not in replayed.weights:
                out.append(missing_weights(name))
            else:
                out.append(compare_arrays(name, W, replayed.weights[name], rtol))
    return out
