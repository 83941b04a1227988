"""Will this network fit? An estimate of a run's memory, checked before any run opens.

Without it ``model.hidden=[100000000]`` opens an MLflow run, allocates until the kernel or XLA kills
the process, and leaves a RUNNING run behind; a sweep trial that does so takes its worker with it.
The estimate is a simple model of what one run keeps alive (see :func:`estimate_bytes`), deliberately
on the high side, compared with what this host or device has free, less a :data:`HEADROOM` margin.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from experiments.config import RunConfig
from experiments.data import Dataset
from experiments.errors import BadInput

# A run may use at most this share of what is free: the estimate leaves out XLA's compiler and
# allocator overhead (about 170 MB of RSS beyond the imports for a tiny net on the CPU), and other
# processes (sibling sweep workers, the tracking writer) allocate after the check.
HEADROOM = 0.8
PARAM_COPIES = 3  # the params an epoch receives, the gradients, the updated params it returns
# Per unit and batch row, measured (RSS of one-epoch digits runs): z, a, σ′(z) and δ of the step, and
# the end-of-run gradient check, which runs the manual and the autodiff pass on one batch together.
BATCH_COPIES = 6
EVAL_COPIES = 1  # the widest layer of a whole split: jitted, XLA writes a = σ(z) over z's buffer
HOST_DTYPE_BYTES = 8  # the loaded Dataset is float64 numpy
UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")
CGROUP = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class Estimate:
    """Bytes one run (or a population of trials) needs, part by part: see :func:`estimate_bytes`."""

    parameters: int
    activations: int
    data: int
    epoch_copy: int
    evaluation: int

    @property
    def training(self) -> int:
        """What the epoch adds while it runs (freed when it returns)."""
        return self.activations + self.epoch_copy

    @property
    def total(self) -> int:
        """The peak: parameters and data throughout, plus training or evaluation (never both at once)."""
        return self.parameters + self.data + max(self.training, self.evaluation)

    def describe(self) -> str:
        """``"about 198 GB (parameters 90.0 GB + data 1.6 MB + the larger of training … and …)"``."""
        return (
            f"about {human_bytes(self.total)} (parameters {human_bytes(self.parameters)} + data "
            f"{human_bytes(self.data)} + the larger of training {human_bytes(self.training)} "
            f"and evaluation {human_bytes(self.evaluation)})"
        )


def human_bytes(n: float) -> str:
    """Decimal units, as ``df -H`` and vendors write them: ``2.4 TB``, ``21.3 GB``, ``318 GB``."""
    if n < 1000:
        return f"{int(n)} B"
    exponent = min(int(math.log10(n) // 3), len(UNITS) - 1)
    value = n / 1000**exponent
    if round(value, 1) >= 1000 and exponent < len(UNITS) - 1:  # 999.96 kB reads better as 1.0 MB
        exponent, value = exponent + 1, value / 1000
    return f"{value:.{0 if value >= 99.95 else 1}f} {UNITS[exponent]}"


def estimate_bytes(
    sizes: Sequence[int],
    *,
    batch_size: int,
    n_train: int,
    n_eval: int,
    dtype: str,
    population: int = 1,
    host_copy: bool = True,
) -> Estimate:
    """The memory model of one run of a fully connected net ``sizes = (n_0, n_1, …, n_L)``.

    With ``P = Σ_l n_l (n_{l−1} + 1)`` parameters, ``U = Σ_{l≥1} n_l`` units, ``M = max_{l≥2} (n_{l−1} +
    n_l)`` (the widest matmul's input and output), ``w = n_0 + n_L`` values per data row and ``s`` bytes
    per value of ``dtype``:

    - parameters: ``3 P s`` — an epoch holds its input params, the gradients and the updated params;
    - activations: ``6 U B s`` — z, a, σ′(z) and δ of each layer for a mini-batch of ``B`` rows, and
      the final gradient check's manual and autodiff passes over one batch;
    - data: ``(n_train + 2 n_eval) w s`` on the device (validation and test, each at most ``n_eval``
      rows), plus ``8 (n_train + 2 n_eval) w`` for the float64 Dataset when ``host_copy``;
    - epoch copy: ``⌈n_train / B⌉ B w s`` — the one gather of the shuffled (padded) epoch;
    - evaluation: ``M n_eval s`` — a whole split goes forward at once; inside one jitted program
      only the layer being computed and its input are alive.

    The peak is parameters + data + the larger of (activations + epoch copy) and evaluation: the
    epoch's buffers are freed before validation runs. Measured against the peak RSS of one-epoch
    digits runs on the CPU, [64, H, 10] for H from 65,536 to 1,048,576 and batches of 10 and 500,
    the real growth was 0.73–0.98 of this estimate.

    A population of ``K`` trials (one vmapped program, or ``K`` slots) multiplies every part except
    the data, which the slots share.

    Args:
      sizes: the layer widths, input and output included.
      batch_size: the mini-batch size ``B``; n_train: training rows; n_eval: rows of the largest of
        the validation and test splits.
      dtype: the run's dtype (``"float32"``, ``"float64"``).
      population: trials trained together in this process.
      host_copy: whether the host's float64 data lives in the same memory (the CPU backend).
    """
    s = np.dtype(dtype).itemsize
    P = sum(n * (m + 1) for m, n in itertools.pairwise(sizes))
    U = sum(sizes[1:])
    M = max((m + n for m, n in itertools.pairwise(sizes[1:])), default=sizes[-1])
    w = sizes[0] + sizes[-1]
    rows = n_train + 2 * n_eval
    padded_epoch = math.ceil(n_train / batch_size) * batch_size
    return Estimate(
        parameters=population * PARAM_COPIES * P * s,
        activations=population * BATCH_COPIES * U * batch_size * s,
        data=rows * w * s + (rows * w * HOST_DTYPE_BYTES if host_copy else 0),
        epoch_copy=population * padded_epoch * w * s,
        evaluation=population * EVAL_COPIES * M * n_eval * s,
    )


def _cgroup_free() -> int | None:
    """What the cgroup v2 memory limit leaves (a container's ``mem_limit``), or ``None`` when unlimited."""
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((CGROUP / "memory.current").read_text())
    except (OSError, ValueError):
        return None


def host_available_bytes() -> int:
    """Free host memory: ``MemAvailable`` (what can be had without swapping), capped by the cgroup."""
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if free is None:  # not Linux: free pages only (ignores reclaimable cache, so it is cautious)
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    cgroup = _cgroup_free()
    return free if cgroup is None else min(free, cgroup)


def available_bytes(backend: str | None = None) -> int:
    """Bytes free for a run on ``backend`` (default: JAX's default backend).

    On an accelerator: the first device's ``bytes_limit − bytes_in_use`` (the pool XLA may use). This
    initialises that backend in the calling process (on a GPU XLA preallocates its pool then), so call
    it where the run will train, not in a parent that only spawns workers. On the CPU, or a device
    without memory statistics: the host's free memory.
    """
    backend = backend or jax.default_backend()
    if backend != "cpu":
        stats = jax.devices(backend)[0].memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return host_available_bytes()


def check_fits(estimate: Estimate, available: int, *, what: str, where: str = "") -> None:
    """Refuses a run whose estimate exceeds :data:`HEADROOM` of ``available``.

    Args:
      estimate: from :func:`estimate_bytes`; available: from :func:`available_bytes`.
      what: names the culprit, e.g. ``"model.hidden=[100000000]"``; where: e.g. ``"cpu"``.

    Raises:
      BadInput: one line with the estimate, its parts and what is available.
    """
    if estimate.total <= HEADROOM * available:
        return
    on = f" on {where}" if where else ""
    raise BadInput(
        f"{what} needs {estimate.describe()} but {human_bytes(max(available, 0))} is available{on} "
        f"(a run may use {HEADROOM:.0%} of it)"
    )


def check_run_fits(
    cfg: RunConfig,
    ds: Dataset,
    *,
    hidden: Sequence[int] | None = None,
    batch_size: int | None = None,
    processes: int = 1,
    backend: str | None = None,
) -> None:
    """Refuses ``cfg`` on ``ds`` before a run opens if the net cannot fit; a sweep passes its largest point.

    Args:
      cfg, ds: the config and its loaded data (input and output widths, split sizes, dtype).
      hidden, batch_size: override the config's (a sweep space's largest widths and batch).
      processes: runs sharing this memory at once (a sweep's local workers) — each gets its share.
      backend: where the run trains (default: JAX's; see :func:`available_bytes` before passing
        ``None`` in a process that does not train).

    Raises:
      BadInput: ``"<config>: model.hidden=[…] with train.batch_size=… needs about … but … is available
        on cpu (…)"``.
    """
    backend = backend or jax.default_backend()
    hidden = list(cfg.model.hidden if hidden is None else hidden)
    batch_size = batch_size or cfg.train.batch_size
    estimate = estimate_bytes(
        (ds.n_inputs, *hidden, ds.n_outputs), batch_size=batch_size, n_train=ds.n_train,
        n_eval=max(len(ds.x_val), len(ds.x_test)), dtype=cfg.train.dtype, host_copy=backend == "cpu",
    )  # fmt: skip
    what = f"{cfg.source}: model.hidden={hidden} with train.batch_size={batch_size}"
    share = f"{backend}, shared by {processes} workers" if processes > 1 else backend
    check_fits(estimate, available_bytes(backend) // processes, what=what, where=share)
