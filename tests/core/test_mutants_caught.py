"""The core checks have power: every planted bug of the backward pass is caught and located.

Each mutant of :mod:`tests.mutants` runs through the nets of the covering grid, in order, as the
real backward pass does in ``test_grads``, until the gradient comparison catches it. On that net
the first equation that disagrees with autodiff must be the one the mutant breaks, and on every net
before it (where its gradient passed) no equation may disagree.
"""

from __future__ import annotations

import jax
import pytest

from tests.core.grid import CASES, backward_pass, disagree, first_disagreeing_equation, outcome
from tests.mutants import EQUATION, MUTANTS


def gradients_disagree(fn, case) -> bool:
    """The grid test's own verdict (same tolerances) on the gradient of the backward pass ``fn``."""
    grads, auto = backward_pass(fn, case).grads, outcome(case).auto
    return disagree(case.dtype, jax.tree.leaves(grads), jax.tree.leaves(auto))


@pytest.mark.parametrize("name", list(MUTANTS))
def test_each_mutant_is_caught_and_its_equation_named(name):
    mutant = MUTANTS[name]
    for case in CASES:
        if gradients_disagree(mutant, case):
            assert first_disagreeing_equation(mutant, case) == EQUATION[name], case
            return
        assert first_disagreeing_equation(mutant, case) is None, case
    pytest.fail(f"{name} passes every net of the grid")
