"""``bplab replay RUN_ID``: re-run a logged run from its recorded config and seeds, and compare.

Compared: the loss curves ``train_loss`` and ``val_loss`` (and ``val_accuracy``) epoch by epoch; the
per-layer gradient norms ``grad_norm/W{l}``, ``grad_norm/b{l}`` of every epoch; the final weights
(normwise). Exact on the recorded machine kind, to a relative tolerance elsewhere
(:mod:`.compare`); :mod:`.recorded` reads the run, :mod:`.replayed` trains it again, :mod:`.command`
decides.
"""

from experiments.replay.command import ReplayFailed, ReplayResult, compare, replay
from experiments.replay.compare import (
    CROSS_BACKEND_RTOL,
    Comparison,
    compare_arrays,
    compare_curve,
    rel_diff,
    tolerance_for,
)
from experiments.replay.recorded import Recorded, read_recorded
from experiments.replay.replayed import Replayed, replay_training

__all__ = [
    "CROSS_BACKEND_RTOL",
    "Comparison",
    "Recorded",
    "ReplayFailed",
    "ReplayResult",
    "Replayed",
    "compare",
    "compare_arrays",
    "compare_curve",
    "read_recorded",
    "rel_diff",
    "replay",
    "replay_training",
    "tolerance_for",
]
