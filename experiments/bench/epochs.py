"""Per-epoch rows: the fused ``lax.scan`` epoch vs a Python loop of jitted steps, and vs numpy.

The numpy side is the per-sample reference of the classic notes (:mod:`experiments.bench.numpy_reference`),
starting from the same weights and training on the same float32 samples as the fused epoch.
"""

from __future__ import annotations

import numpy as np

from experiments.bench import numpy_reference as npr
from experiments.bench.problems import epoch_runners, random_problem
from experiments.bench.row import Row, compared
from experiments.bench.settings import DIGITS, LR, MNIST, Settings, shape_name, timed


def bench_epochs(settings: Settings) -> list[Row]:
    """Fused epoch vs Python loop on the digits shape (target ≥ 4×) and the [784,30,10] shape."""
    rows = []
    for (sizes, batch, n), seed, target in (
        (DIGITS, 100, 4.0),
        ((MNIST[0], MNIST[1], settings.mnist_samples), 200, None),
    ):
        params, x, y = random_problem(seed, sizes, n)
        t = timed(epoch_runners(params, x, y, batch=batch, seed=seed), settings)
        # samples/s of fused over loop = time of loop over fused
        rows.append(
            compared(
                t, "loop", "fused", kind="epoch", name=f"epoch {shape_name(sizes, batch)} n={n:,}",
                value=(n / t.median("fused"), "lax.scan epoch"),
                baseline=(n / t.median("loop"), "Python loop of jitted steps"),
                unit="samples/s", target="≥ 4×" if target else "—",
                meets=(lambda ratio, target=target: ratio >= target) if target else None,
            )
        )  # fmt: skip
    return rows


def bench_numpy(settings: Settings) -> Row:
    """The per-sample numpy reference vs the fused JAX epoch, interleaved, on [784,30,10] batch 10."""
    sizes, batch, _ = MNIST
    n = settings.numpy_samples
    params, x, y = random_problem(300, sizes, n)
    np_x, np_y = np.asarray(x), np.asarray(y)
    state = {"params": [(np.asarray(W), np.asarray(b)) for W, b in params]}

    def numpy_epoch() -> None:
        state["params"] = npr.sgd_epoch(state["params"], np_x, np_y, eta=LR, batch_size=batch)

    fused = epoch_runners(params, x, y, batch=batch, seed=300)["fused"]
    t = timed({"fused": fused, "numpy": numpy_epoch}, settings)
    return compared(
        t, "numpy", "fused", kind="numpy", name=f"fused epoch vs numpy {shape_name(sizes, batch)} n={n:,}",
        value=(n / t.median("fused"), "lax.scan epoch"), baseline=(n / t.median("numpy"), "numpy per-sample"),
        unit="samples/s", target="≥ 25×", meets=lambda ratio: ratio >= 25,
    )  # fmt: skip
