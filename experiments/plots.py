"""PNG plots of a run's history (matplotlib, headless): loss curves and per-layer gradient norms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path


def _figure():
    """A 6 x 4 in figure and its axes, drawn by Agg on save.

    A bare :class:`~matplotlib.figure.Figure`, not pyplot: drawing a run's plots then neither
    switches the process's backend (``matplotlib.use("Agg")`` would, under a notebook that imports
    this package) nor leaves figures in pyplot's global registry.
    """
    from matplotlib.figure import Figure  # lazy: ~0.5 s of import, and a sweep's trials never draw

    fig = Figure(figsize=(6, 4), dpi=100)
    return fig, fig.subplots()


def _series(history: Sequence[Mapping[str, float]], key: str) -> tuple[list[int], list[float]]:
    points = [(epoch, h[key]) for epoch, h in enumerate(history, start=1) if key in h]
    return [p[0] for p in points], [p[1] for p in points]


def _layer_then_name(key: str) -> tuple[int, str]:
    """``grad_norm/W2`` → ``(2, "grad_norm/W2")``: legend entries grouped by layer."""
    digits = "".join(ch for ch in key if ch.isdigit())
    return int(digits or 0), key


def loss_curves(history: Sequence[Mapping[str, float]], path: Path, *, title: str = "") -> Path:
    """Train and validation loss per epoch (log scale), and validation accuracy when present."""
    fig, ax = _figure()
    for key in ("train_loss", "val_loss"):
        ax.plot(*_series(history, key), marker=".", label=key)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost")
    if all(v > 0 and math.isfinite(v) for v in _series(history, "train_loss")[1]):
        ax.set_yscale("log")
    if any("val_accuracy" in h for h in history):
        acc = ax.twinx()
        acc.plot(*_series(history, "val_accuracy"), color="tab:green", linestyle="--", label="val_accuracy")
        acc.set_ylabel("validation accuracy")
        acc.set_ylim(0, 1)
        acc.legend(loc="center right")
    ax.legend(loc="upper right")
    ax.set_title(f"{title} loss".strip())
    fig.tight_layout()  # margins from the texts: log-scale tick labels (4×10⁻¹) vary in width
    fig.savefig(path)
    return Path(path)


def grad_norms(history: Sequence[Mapping[str, float]], path: Path, *, title: str = "") -> Path:
    """``‖∂C/∂W^l‖`` and ``‖∂C/∂b^l‖`` per layer over epochs (mean over the epoch's steps)."""
    keys = sorted({k for h in history for k in h if k.startswith("grad_norm/")}, key=_layer_then_name)
    fig, ax = _figure()
    for key in keys:
        ax.plot(*_series(history, key), linestyle="-" if "/W" in key else ":", label=key.split("/", 1)[1])
    ax.set_xlabel("epoch")
    ax.set_ylabel("gradient norm")
    if all(v > 0 and math.isfinite(v) for key in keys for v in _series(history, key)[1]):
        ax.set_yscale("log")
    ax.legend(ncol=2, fontsize="small")
    ax.set_title(f"{title} gradient norms per layer".strip())
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
