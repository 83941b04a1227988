"""``bplab replay RUN_ID``: re-run a logged run from its recorded config and seeds, and compare.

What is read back from the run: its resolved config (the ``config.toml`` artifact, which carries
``train.seed``, the one seed of the data split, the initialisation and the shuffles), its per-epoch
metric histories and its final weights (``params.npz``, read with ``allow_pickle=False``). The config
is trained again, untracked (a replay writes nothing to the store), and compared:

- the loss curves ``train_loss`` and ``val_loss`` (and ``val_accuracy``), epoch by epoch;
- the gradients: the per-layer gradient norms ``grad_norm/W{l}`` and ``grad_norm/b{l}`` of every
  epoch, the last epoch's being the final gradients;
- the final weights ``W{l}``, ``b{l}`` (normwise relative difference).

Tolerance: on the machine kind the run was recorded on (same backend, device kind and jax version)
the same program gives the same bits, so everything must match **exactly**. On another backend the
arithmetic differs in the last bits and SGD amplifies that over epochs, so values must agree to a
relative :data:`CROSS_BACKEND_RTOL` (``--rtol`` overrides either). A mismatch is exit 1.
"""

from __future__ import annotations

import math
import tempfile
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from experiments.config import RunConfig
from experiments.errors import BadInput, CheckFailed

CROSS_BACKEND_RTOL = 1e-3
ENV_KEYS = ("backend", "device_kind", "jax_version")
CURVE_PREFIXES = ("grad_norm/",)
CURVES = ("train_loss", "val_loss", "val_accuracy")


@dataclass(frozen=True)
class Comparison:
    """One compared quantity.

    Attributes:
      name: ``train_loss``, ``grad_norm/W1``, ``W1`` …
      compared: how many values (epochs for a curve, elements for weights).
      first_mismatch: the first epoch that differs (curves), ``None`` when none does.
      max_rel_diff: the largest relative difference seen.
      recorded, replayed: the two values at the first mismatch (curves; ``None`` otherwise).
      matched: within the tolerance everywhere, and nothing missing.
      note: why it did not match when the numbers do not say (missing values).
    """

    name: str
    compared: int
    first_mismatch: int | None
    max_rel_diff: float
    recorded: float | None
    replayed: float | None
    matched: bool
    note: str = ""


def rel_diff(a: float, b: float) -> float:
    """``|a − b| / max(|a|, |b|)``; 0 for two equal values (two NaNs count as equal), ``inf`` for one NaN."""
    if a == b or (math.isnan(a) and math.isnan(b)):
        return 0.0
    if math.isnan(a) or math.isnan(b):
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def values_match(a: float, b: float, rtol: float) -> bool:
    """Exact (bitwise-equal floats) when ``rtol`` is 0, else relative difference ≤ ``rtol``."""
    return rel_diff(a, b) == 0.0 if rtol == 0 else rel_diff(a, b) <= rtol


def compare_curve(
    name: str, recorded: Sequence[tuple[int, float]], replayed: Mapping[int, float], rtol: float
) -> Comparison:
    """Compares a recorded ``[(epoch, value), …]`` with the replay's ``{epoch: value}``."""
    first, worst, at = None, 0.0, (None, None)
    missing = [step for step, _ in recorded if step not in replayed]
    for step, value in recorded:
        if step not in replayed:
            continue
        d = rel_diff(value, replayed[step])
        worst = max(worst, d)
        if first is None and not values_match(value, replayed[step], rtol):
            first, at = step, (value, replayed[step])
    note = f"the replay stopped before epoch {missing[0]}" if missing else ""
    ok = first is None and not missing and bool(recorded)
    if not recorded:
        note = "nothing recorded"
    return Comparison(name, len(recorded) - len(missing), first, worst, *at, ok, note)


def compare_arrays(name: str, recorded: np.ndarray, replayed: np.ndarray, rtol: float) -> Comparison:
    """Compares two weight tensors: exact equality when ``rtol`` is 0, else normwise relative difference."""
    if recorded.shape != replayed.shape:
        return Comparison(
            name, 0, None, math.inf, None, None, False, f"shape {recorded.shape} vs {replayed.shape}"
        )
    a, b = recorded.astype(np.float64), replayed.astype(np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    d = 0.0 if np.array_equal(a, b) else float(np.linalg.norm(a - b)) / (scale or 1.0)
    ok = np.array_equal(a, b) if rtol == 0 else d <= rtol
    return Comparison(name, a.size, None, d, None, None, bool(ok))


def tolerance_for(
    recorded_env: Mapping[str, str], current_env: Mapping[str, str], rtol: float | None
) -> float:
    """``rtol`` if given; 0 (exact) on the recorded machine kind; :data:`CROSS_BACKEND_RTOL` elsewhere."""
    if rtol is not None:
        return rtol
    same = all(str(recorded_env.get(k)) == str(current_env.get(k)) for k in ENV_KEYS)
    return 0.0 if same else CROSS_BACKEND_RTOL


def curve_names(metric_keys: Sequence[str]) -> list[str]:
    """The recorded metrics a replay compares, in a stable order."""
    fixed = [k for k in CURVES if k in metric_keys]
    grads = sorted(k for k in metric_keys if k.startswith(CURVE_PREFIXES))
    return fixed + grads


# --- reading the recorded run ---------------------------------------------------------------------


@dataclass
class Recorded:
    """What the run recorded: config, environment, curves, final weights (``None`` if not logged)."""

    run_id: str
    status: str
    config: RunConfig
    environment: dict[str, str]
    curves: dict[str, list[tuple[int, float]]]
    weights: dict[str, np.ndarray] | None


def _weights_from_npz(path: Path) -> dict[str, np.ndarray]:
    """``W1, b1, …`` from a ``params.npz`` (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files if k[:1] in ("W", "b") and k[1:].isdigit()}


def read_recorded(run_id: str) -> Recorded:
    """Reads a run back from the store in use.

    Raises:
      BadInput: no such run, or it has no ``config.toml`` artifact (not a ``bplab train`` run).
    """
    from experiments import tracking

    tracking.ensure_reachable()
    record = tracking.run_record(run_id)
    with tempfile.TemporaryDirectory() as tmp:
        config_path = tracking.download_artifact(run_id, "config.toml", tmp)
        if config_path is None:
            raise BadInput(f"run {run_id} has no config.toml artifact; only bplab train runs can be replayed")
        source = f"run {run_id} config.toml"
        try:
            cfg = RunConfig.from_dict(tomllib.loads(config_path.read_text(encoding="utf-8")), source)
        except tomllib.TOMLDecodeError as e:
            raise BadInput(f"{source}: TOML syntax error: {e}") from None
        npz = tracking.download_artifact(run_id, "params.npz", tmp)
        weights = _weights_from_npz(npz) if npz is not None else None
    curves = {k: tracking.metric_history(run_id, k) for k in curve_names(list(record["metrics"]))}
    env = {k: record["params"][k] for k in ENV_KEYS if k in record["params"]}
    return Recorded(run_id, record["status"], cfg, env, curves, weights)


# --- replaying ------------------------------------------------------------------------------------


@dataclass
class Replayed:
    """The replay's per-epoch metrics, final weights, and how it ended."""

    history: dict[int, dict[str, float]]
    weights: dict[str, np.ndarray] | None
    failure: str = ""


def replay_training(cfg: RunConfig) -> Replayed:
    """Trains ``cfg`` again, untracked, keeping every epoch's metrics (also of a run that fails)."""
    from experiments.errors import RunFailed
    from experiments.runner import train_run

    history: dict[int, dict[str, float]] = {}

    def keep(epoch: int, metrics: dict[str, float]) -> None:
        history[epoch] = dict(metrics)

    try:
        result = train_run(cfg, on_epoch=keep, track=False, show_progress=False)
    except RunFailed as e:
        return Replayed(history, None, f"{e.kind}: {e.message}")
    for epoch, metrics in enumerate(result.history, start=1):
        history.setdefault(epoch, dict(metrics))  # an epoch on_epoch did not see (none today)
    weights = {}
    for l, (W, b) in enumerate(result.params, start=1):
        weights[f"W{l}"], weights[f"b{l}"] = np.asarray(W), np.asarray(b)
    return Replayed(history, weights)


def compare(recorded: Recorded, replayed: Replayed, rtol: float) -> list[Comparison]:
    """Every curve, then every weight tensor."""
    out = []
    for name, points in recorded.curves.items():
        values = {e: m[name] for e, m in replayed.history.items() if name in m}
        out.append(compare_curve(name, points, values, rtol))
    if recorded.weights is not None:
        for name, W in recorded.weights.items():
            if replayed.weights is None or name not in replayed.weights:
                out.append(Comparison(name, 0, None, math.inf, None, None, False, "no final weights"))
            else:
                out.append(compare_arrays(name, W, replayed.weights[name], rtol))
    return out


def _print(run_id: str, comparisons: Sequence[Comparison], mode: str, failure: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"replay of run {run_id} ({mode})")
    for col in ("quantity", "compared", "first mismatch", "recorded", "replayed", "max rel diff", "result"):
        table.add_column(col)
    for c in comparisons:
        table.add_row(
            c.name,
            str(c.compared),
            "—" if c.first_mismatch is None else f"epoch {c.first_mismatch}",
            "—" if c.recorded is None else f"{c.recorded:.9g}",
            "—" if c.replayed is None else f"{c.replayed:.9g}",
            f"{c.max_rel_diff:.3g}",
            ("match" if c.matched else "MISMATCH") + (f": {c.note}" if c.note else ""),
            style=None if c.matched else "red",
        )
    Console(width=140).print(table)
    if failure:
        print(f"the replay ended early: {failure}")


def replay_command(run_id: str, *, rtol: float | None = None) -> list[Comparison]:
    """``bplab replay RUN_ID [--rtol R]``.

    Raises:
      BadInput: no such run, no config artifact, a negative ``rtol`` (exit 2).
      CheckFailed: something differs (exit 1).
    """
    from experiments import faults
    from experiments.environment import environment

    if rtol is not None and not (rtol >= 0):
        raise BadInput(f"--rtol {rtol}: must be ≥ 0")
    recorded = read_recorded(run_id)
    current = environment()
    tol = tolerance_for(recorded.environment, current, rtol)
    if rtol is not None:
        mode = f"rtol {tol:g}, as asked"
    elif tol == 0:
        mode = f"exact: same backend {current['backend']}, jax {current['jax_version']}"
    else:
        rec = recorded.environment
        mode = (
            f"rtol {tol:g}: recorded on {rec.get('backend', '?')} / jax {rec.get('jax_version', '?')}, "
            f"replayed on {current['backend']} / jax {current['jax_version']}"
        )
    fault = faults.active_fault()
    if fault:
        print(f"note: BPLAB_FAULT={fault} is set (test-only planted bug in the backward pass)")
    epochs = max((len(v) for v in recorded.curves.values()), default=0)
    cfg = recorded.config
    if recorded.status != "FINISHED" and 0 < epochs < cfg.train.epochs:
        cfg = cfg.with_values({"train.epochs": epochs})  # a killed run: replay what it recorded
    replayed = replay_training(cfg)
    comparisons = compare(recorded, replayed, tol)
    _print(run_id, comparisons, mode, replayed.failure)
    bad = [c for c in comparisons if not c.matched]
    if bad:
        first = bad[0]
        where = f"from epoch {first.first_mismatch}" if first.first_mismatch is not None else first.note
        nums = (
            f" (recorded {first.recorded:.9g}, replayed {first.replayed:.9g})"
            if first.recorded is not None
            else f" (relative difference {first.max_rel_diff:.3g})"
        )
        raise CheckFailed(
            f"replay of run {run_id} differs in {len(bad)} of {len(comparisons)} quantities: "
            f"{first.name} {where}{nums}"
        )
    print(f"replay of run {run_id} matches: {len(comparisons)} quantities ({mode})")
    return comparisons
