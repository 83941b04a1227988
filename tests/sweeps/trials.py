"""Frozen trials built by hand, for the budget and progress arithmetic."""

from __future__ import annotations

from optuna.distributions import FloatDistribution
from optuna.trial import FrozenTrial, TrialState, create_trial


def make_trial(number: int, state: TrialState, *, retry_of: int | None = None, value=None) -> FrozenTrial:
    """Trial ``number`` in ``state``; ``retry_of`` marks it as a retry the way Optuna does."""
    system_attrs = {} if retry_of is None else {"failed_trial": retry_of, "retry_history": [retry_of]}
    t = create_trial(
        state=state,
        value=value if state == TrialState.COMPLETE else None,
        params={"lr": 0.5},
        distributions={"lr": FloatDistribution(0.1, 1.0)},
        system_attrs=system_attrs,
    )
    t.number = number
    return t


def with_a_retried_failure() -> list[FrozenTrial]:
    """Four trials of a budget of three: trial 1 failed (its worker died) and trial 3 repeats it."""
    return [
        make_trial(0, TrialState.COMPLETE, value=0.3),
        make_trial(1, TrialState.FAIL),
        make_trial(2, TrialState.PRUNED),
        make_trial(3, TrialState.COMPLETE, retry_of=1, value=0.2),
    ]
