"""``bplab bench``: how fast the core is, as ratios against baselines measured in the same run.

Every number is a median over interleaved repeats after warm-up (:mod:`experiments.timing`); targets
are ratios, never absolute times. Rows: ``step`` (manual vs ``jax.grad``, target 0.95–1.05), ``peak``
(the big net's fraction of a matmul's GFLOP/s, ≥ 0.80), ``epoch`` (fused ``lax.scan`` epoch vs a
Python loop of steps, ≥ 4× on digits) and ``numpy`` (fused epoch vs the per-sample numpy reference,
≥ 25×). Rendering lives in the CLI layer.
"""

from experiments.bench.measure import measure, result
from experiments.bench.row import Row
from experiments.bench.settings import FULL, QUICK, Settings

__all__ = ["FULL", "QUICK", "Row", "Settings", "measure", "result"]
