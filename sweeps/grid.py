"""The grid sampler's points: a few values per range of a :class:`~sweeps.space.SweepSpec`, under the
parameter names :mod:`sweeps.objective` suggests."""

from __future__ import annotations

import math

from sweeps.space import Range, SweepSpec


def grid_values(r: Range, points: int, *, integer: bool) -> list[float] | list[int]:
    """``points`` values spanning ``r`` (log-spaced when ``r.log``), for the grid sampler.

    Integer ranges with no more than ``points`` values are listed whole.
    """
    if integer and r.high - r.low + 1 <= points:
        return list(range(int(r.low), int(r.high) + 1))
    if points == 1:
        return [int(r.low) if integer else r.low]
    if r.log:
        lo, hi = math.log(r.low), math.log(r.high)
        values = [math.exp(lo + (hi - lo) * i / (points - 1)) for i in range(points)]
    else:
        values = [r.low + (r.high - r.low) * i / (points - 1) for i in range(points)]
    values[0], values[-1] = r.low, r.high  # exact ends, so the grid stays inside the distribution
    return sorted({round(v) for v in values}) if integer else values


def grid_space(spec: SweepSpec) -> dict[str, list]:
    """The grid sampler's search space, with the parameter names :mod:`sweeps.objective` suggests.

    Every ``width_l`` up to the largest ``n_layers`` is on the grid, so grid points that differ only in
    the width of a layer a shallower trial does not have run the same network twice.
    """
    s = spec.space
    grid: dict[str, list] = {"lr": grid_values(s.lr, spec.grid_points, integer=False)}
    grid["n_layers"] = grid_values(s.n_layers, spec.grid_points, integer=True)
    widths = grid_values(s.width, spec.grid_points, integer=True)
    widths = sorted(
        {int(s.width.low) + s.width.step * round((w - s.width.low) / s.width.step) for w in widths}
    )
    for l in range(1, int(s.n_layers.high) + 1):
        grid[f"width_{l}"] = widths
    if s.batch_size:
        grid["batch_size"] = list(s.batch_size)
    if s.activation:
        grid["activation"] = list(s.activation)
    if s.init:
        grid["init"] = list(s.init)
    if s.epochs:
        grid["epochs"] = grid_values(s.epochs, spec.grid_points, integer=True)
    return grid
