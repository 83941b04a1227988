"""A covering design: rows in which every pair of values of any two factors meets at least once.

A full product of test factors grows as the product of their sizes; a pairwise design grows about
as the product of the two largest. Most interaction bugs need only two factors to show (a cost that
mishandles one activation, a dtype that breaks one init), so every such pair is still tried.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence


def pairwise(factors: Mapping[str, Sequence]) -> list[dict]:
    """Greedy all-pairs rows over ``factors`` (name → values); deterministic for the same input.

    Each row starts from the first pair not yet covered (in factor, then value order) and fills the
    other factors, in order, with the value that covers the most uncovered pairs with the values
    already chosen (the first such value on a tie). Rows are added until every pair is covered.

    Returns:
      The rows, each a dict from factor name to value.
    """
    names = list(factors)
    values = [list(factors[n]) for n in names]
    uncovered = {
        _pair(i, vi, j, vj)
        for i, j in itertools.combinations(range(len(names)), 2)
        for vi in range(len(values[i]))
        for vj in range(len(values[j]))
    }
    rows: list[dict[int, int]] = []
    while uncovered:
        (i, vi), (j, vj) = min(uncovered)
        row = {i: vi, j: vj}
        for k in range(len(names)):
            if k not in row:
                gains = [sum(_pair(k, v, m, row[m]) in uncovered for m in row) for v in range(len(values[k]))]
                row[k] = gains.index(max(gains))
        uncovered -= {_pair(a, row[a], b, row[b]) for a, b in itertools.combinations(row, 2)}
        rows.append(row)
    return [{n: values[k][row[k]] for k, n in enumerate(names)} for row in rows]


def _pair(a: int, va: int, b: int, vb: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The pair (factor ``a`` = value ``va``, factor ``b`` = value ``vb``), lower factor first."""
    return ((a, va), (b, vb)) if a < b else ((b, vb), (a, va))


def covers_every_pair(rows: Sequence[Mapping], factors: Mapping[str, Sequence]) -> bool:
    """Whether every pair of values of any two factors appears together in some row."""
    seen = {((a, row[a]), (b, row[b])) for row in rows for a, b in itertools.combinations(factors, 2)}
    return all(
        ((a, va), (b, vb)) in seen
        for a, b in itertools.combinations(factors, 2)
        for va in factors[a]
        for vb in factors[b]
    )
