"""Which hidden widths a trial is padded to, so that trials of one depth share compiled programs.

A trial padded to the space's largest widths under unit masks trains the same numbers as its own
net (:mod:`backprop_core.padding`), in the programs (epoch, evaluation, gradient check) that every
trial of its depth shares: a new width compiles nothing. The price is the padded net's extra work.

The rule (:func:`pad_widths`), measured with ``python -m benchmarks.masking --part e`` on the 2-core
CPU machine ([64, w, 10], 1200 samples, batch 10; CPU seconds per epoch, padded over unpadded)::

    true → padded   64      128     256     512     1024      unpadded epoch
    32              0.94×   1.18×   1.73×   2.76×   7.05×     2.1 ms
    64                      1.19×   1.70×   2.80×   6.77×     2.1 ms
    128                             1.37×   2.12×   5.51×     2.8 ms

Each new width costs about 1.5 s of compiling on that machine (three programs of ~0.5 s), which
padding to 256 repays unless a trial trains for well over a thousand 1200-sample epochs; beyond 256
the padded epoch grows as fast as the work, and on larger data sets the extra work soon exceeds a
compile. So on CPU a layer is padded when its padded width is at most :data:`CPU_MAX_WIDTH` or at
most :data:`CPU_MAX_RATIO` times its true width (every layer, or none). On an accelerator the padded
matrix products fill tiles the hardware computes anyway, while a compile costs seconds: always pad.
``BPLAB_PAD=1`` pads always and ``BPLAB_PAD=0`` never (to measure either side).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import jax

from experiments.config import RunConfig
from sweeps.space import SearchSpace

CPU_MAX_WIDTH = 256
CPU_MAX_RATIO = 2.0
ENV = "BPLAB_PAD"


def pad_widths(true_hidden: Sequence[int], space_max: Sequence[int], backend: str) -> tuple[int, ...] | None:
    """The hidden widths to pad ``true_hidden`` to, or ``None`` to train it unpadded.

    Args:
      true_hidden: the trial's hidden widths ``(n_1, …, n_{L−1})``.
      space_max: the largest width the space offers each of those layers.
      backend: ``jax.default_backend()``: ``cpu``, ``gpu`` or ``tpu``.
    """
    true_hidden, space_max = tuple(map(int, true_hidden)), tuple(map(int, space_max))
    if len(true_hidden) != len(space_max) or any(n > p for n, p in zip(true_hidden, space_max)):
        return None  # outside the space (a base config, a retried old trial): its own program
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return space_max if forced == "1" else None
    if backend != "cpu":
        return space_max
    cheap = all(p <= CPU_MAX_WIDTH or p <= CPU_MAX_RATIO * n for n, p in zip(true_hidden, space_max))
    return space_max if cheap else None


def space_depths(space: SearchSpace) -> list[int]:
    """The numbers of hidden layers a trial of ``space`` can have."""
    hidden = space.param("model.hidden")
    if hidden is not None:
        return sorted({len(choice) for choice in hidden.choices})
    return list(range(int(space.n_layers.low), int(space.n_layers.high) + 1))


def space_max_widths(space: SearchSpace, depth: int) -> tuple[int, ...]:
    """The largest width ``space`` offers each of ``depth`` hidden layers: per layer over the
    ``"model.hidden"`` choices of that depth when it searches them, else ``width``'s high bound."""
    hidden = space.param("model.hidden")
    if hidden is not None:
        same_depth = [choice for choice in hidden.choices if len(choice) == depth]
        if same_depth:
            return tuple(max(int(c[l]) for c in same_depth) for l in range(depth))
    return (int(space.width.high),) * depth


def pad_for(cfg: RunConfig, space: SearchSpace) -> tuple[int, ...] | None:
    """``train_run``'s ``pad_to`` for a trial's config in a sweep over ``space``."""
    hidden = cfg.model.hidden
    return pad_widths(hidden, space_max_widths(space, len(hidden)), jax.default_backend())
