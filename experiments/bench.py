"""``bplab bench``: how fast the core is, as ratios against baselines measured in the same run.

Every number is a median over repeats taken after warm-up (compilation excluded), each repeat ended
by ``jax.block_until_ready``. Machines here are shared and noisy, so each comparison interleaves its
two sides repeat by repeat, alternating which goes first (A B, B A, …): a burst of load from another
process lands on both sides instead of on one. Targets are ratios, never absolute times.

Rows (one table, one run):

* ``step``: one jitted SGD step (gradient + update, :func:`backprop_core.sgd_step`) with the manual
  backward pass vs ``jax.grad``, µs per step, on four shapes. Target: manual/jax.grad in 0.95–1.05.
* ``epoch``: one whole epoch as a single ``lax.scan`` (:func:`backprop_core.train_epoch`) vs a
  Python loop of jitted ``sgd_step`` calls over the same :func:`backprop_core.epoch_batches`,
  samples/s. Target: ≥ 4× on the digits shape.
* ``numpy``: the fused epoch vs the per-sample numpy reference of the classic notes
  (:mod:`experiments.numpy_reference`), samples/s on [784,30,10] batch 10. Target: ≥ 25×.
* ``peak``: a float32 2048³ matmul under ``jit`` (this machine's GFLOP/s), interleaved with the big
  net's manual step; the big net's GFLOP/s count ``6 × params × batch`` flops per step (2 forward,
  4 backward). Target: ≥ 80% of the matmul.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import backprop_core as bc
from experiments import numpy_reference as npr

LR = 0.1

# (sizes, batch) of the per-step comparison, smallest first.
STEP_SHAPES: tuple[tuple[tuple[int, ...], int], ...] = (
    ((64, 30, 10), 10),
    ((784, 30, 10), 10),
    ((784, 100, 10), 128),
    ((784, 1024, 1024, 10), 256),
)
BIG = STEP_SHAPES[-1]
DIGITS = ((64, 30, 10), 10, 1_200)  # sizes, batch, training samples (sklearn digits' train split)
MNIST = ((784, 30, 10), 10, 60_000)
MATMUL_N = 2048


@dataclass(frozen=True)
class Settings:
    """How hard to measure.

    Attributes:
      repeats: the fewest interleaved repeats per comparison (the median is taken over them).
      budget_s: a comparison keeps repeating until it has ``repeats`` and has run this long (at
        most ``max_repeats``): short blocks and many pairs average out a shared machine's load.
      max_repeats: the most repeats per comparison.
      block_s: target duration of one timed block; fast calls are repeated inside a block so that
        the timer's resolution does not dominate.
      mnist_samples: training samples of the [784,30,10] epoch (60,000 in a full run).
      numpy_samples: samples the numpy reference trains on per repeat.
    """

    repeats: int
    budget_s: float
    max_repeats: int
    block_s: float
    mnist_samples: int
    numpy_samples: int


FULL = Settings(
    repeats=21, budget_s=6.0, max_repeats=301, block_s=0.03, mnist_samples=MNIST[2], numpy_samples=3_000
)
QUICK = Settings(repeats=5, budget_s=0.0, max_repeats=5, block_s=0.02, mnist_samples=3_000, numpy_samples=500)


@dataclass
class Row:
    """One line of the table: ``value`` is ours, ``baseline`` what it is compared with.

    ``value`` and ``baseline`` are medians over repeats, in ``unit``. ``ratio`` is the median of the
    per-repeat ratios (see :meth:`Timings.ratio`), oriented as ``value / baseline``: for the step
    rows a time ratio (below 1, manual is faster), otherwise a throughput ratio (above 1, ours is
    faster). It is close to, but not exactly, ``value / baseline``. ``met`` is ``None`` where a row
    has no target. ``spread`` holds the quartiles of the per-repeat ratios and ``repeats`` their
    number: a wide spread means the machine was busy.
    """

    kind: str
    name: str
    value: float
    value_label: str
    baseline: float
    baseline_label: str
    unit: str
    ratio: float
    spread: tuple[float, float]
    repeats: int
    target: str
    met: bool | None


# --- timing ---------------------------------------------------------------------------------------


class Timings:
    """Seconds per call of several runners, one sample per repeat, taken side by side."""

    def __init__(self, samples: dict[str, list[float]]):
        self.samples = samples

    def median(self, name: str) -> float:
        """Median seconds per call of ``name``."""
        return statistics.median(self.samples[name])

    def ratio(self, a: str, b: str) -> float:
        """Median over repeats of ``time(a) / time(b)`` within each repeat.

        Pairing the two sides repeat by repeat cancels load that drifts on the scale of a repeat,
        which a ratio of the two medians would not.
        """
        return statistics.median(self._ratios(a, b))

    def spread(self, a: str, b: str) -> tuple[float, float]:
        """The quartiles of the per-repeat ratios ``time(a) / time(b)``: how noisy the pairs were."""
        q1, _, q3 = statistics.quantiles(self._ratios(a, b), n=4)
        return q1, q3

    def _ratios(self, a: str, b: str) -> list[float]:
        return [ta / tb for ta, tb in zip(self.samples[a], self.samples[b], strict=True)]

    @property
    def repeats(self) -> int:
        """How many repeats were taken."""
        return len(next(iter(self.samples.values())))


def _interleaved(
    runners: dict[str, Callable[[int], Any]], *, settings: Settings, same_calls: tuple[str, ...] = ()
) -> Timings:
    """Times every runner once per repeat, alternating the order (A B, B A, …).

    Each runner ``run(k)`` performs ``k`` calls and blocks until their results are ready. One call
    of each is made first to warm up (compile), then the median of three more chooses ``k`` so that
    a block lasts about ``settings.block_s`` (the same ``k`` for the runners named in ``same_calls``).
    """
    calls = {}
    for name, run in runners.items():
        run(1)  # warm-up: compile and touch every buffer once
        once = []
        for _ in range(3):
            t0 = time.perf_counter()
            run(1)
            once.append(time.perf_counter() - t0)
        calls[name] = max(1, round(settings.block_s / max(statistics.median(once), 1e-7)))
    if same_calls:
        # Runners doing the same work get equal blocks, so the per-block fixed costs (the final
        # sync, the pipeline's first dispatch) weigh the same on either side of their ratio.
        k = min(calls[name] for name in same_calls)
        calls.update(dict.fromkeys(same_calls, k))
    samples: dict[str, list[float]] = {name: [] for name in runners}
    names = list(runners)
    start = time.perf_counter()
    r = 0
    while r < settings.repeats or (
        r < settings.max_repeats and time.perf_counter() - start < settings.budget_s
    ):
        for name in names if r % 2 == 0 else reversed(names):
            t0 = time.perf_counter()
            runners[name](calls[name])
            samples[name].append((time.perf_counter() - t0) / calls[name])
        r += 1
    return Timings(samples)


def _random_problem(seed: int, sizes: tuple[int, ...], n: int) -> tuple[bc.Params, jax.Array, jax.Array]:
    """Scaled-init params and ``n`` random samples: inputs and targets uniform in [0, 1).

    Drawn with numpy and moved to the device: ``jax.random`` would compile a sampler per shape,
    seconds of a quick run that measure nothing.
    """
    rng = np.random.default_rng(seed)
    params = tuple(
        (
            jnp.asarray(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), jnp.float32),
            jnp.asarray(rng.normal(0, 1, n_out), jnp.float32),
        )
        for n_in, n_out in itertools.pairwise(sizes)
    )
    x = jnp.asarray(rng.random((n, sizes[0]), np.float32))
    y = jnp.asarray(rng.random((n, sizes[-1]), np.float32))
    return params, x, y


def _step_runner(params: bc.Params, x: jax.Array, y: jax.Array, grad: str) -> Callable[[int], None]:
    """``run(k)``: ``k`` chained jitted SGD steps on one fixed batch (each step needs the last)."""
    state = {"params": params}

    def run(k: int) -> None:
        p = state["params"]
        for _ in range(k):
            p, _ = bc.sgd_step(p, x, y, lr=LR, grad=grad)
        state["params"] = jax.block_until_ready(p)

    return run


def _matmul_runner(n: int) -> Callable[[int], None]:
    """``run(k)``: ``k`` float32 ``n × n`` matmuls under ``jit``."""
    rng = np.random.default_rng(1)
    a, b = (jnp.asarray(rng.standard_normal((n, n), np.float32)) for _ in range(2))
    matmul = jax.jit(jnp.matmul)

    def run(k: int) -> None:
        jax.block_until_ready([matmul(a, b) for _ in range(k)])

    return run


# --- the measurements -----------------------------------------------------------------------------


def _shape_name(sizes: tuple[int, ...], batch: int) -> str:
    return f"[{','.join(map(str, sizes))}] b{batch}"


def bench_steps(settings: Settings) -> list[Row]:
    """Manual vs ``jax.grad`` per step on every shape; the big shape also times the matmul peak.

    Returns:
      One row per shape, then the big net's fraction of the matmul peak.
    """
    rows = []
    for i, (sizes, batch) in enumerate(STEP_SHAPES):
        params, x, y = _random_problem(10 + i, sizes, batch)
        runners = {grad: _step_runner(params, x, y, grad) for grad in ("manual", "autodiff")}
        if (sizes, batch) == BIG:
            # Interleaved with the big net's steps so that the fraction of peak is side by side too.
            runners["matmul"] = _matmul_runner(MATMUL_N)
        t = _interleaved(runners, settings=settings, same_calls=("manual", "autodiff"))
        ratio = t.ratio("manual", "autodiff")
        rows.append(
            Row(
                kind="step",
                name=f"step {_shape_name(sizes, batch)}",
                value=t.median("manual") * 1e6,
                value_label="manual",
                baseline=t.median("autodiff") * 1e6,
                baseline_label="jax.grad",
                unit="µs/step",
                ratio=ratio,
                spread=t.spread("manual", "autodiff"),
                repeats=t.repeats,
                target="0.95–1.05",
                met=0.95 <= ratio <= 1.05,
            )
        )
        if (sizes, batch) == BIG:
            rows.append(_peak_row(t, sizes, batch))
    return rows


def _peak_row(t: Timings, sizes: tuple[int, ...], batch: int) -> Row:
    """The big net's manual step in GFLOP/s (``6 × params × batch`` flops) over the matmul's."""
    n_params = sum(n_in * n_out + n_out for n_in, n_out in itertools.pairwise(sizes))
    step_flops, matmul_flops = 6 * n_params * batch, 2 * MATMUL_N**3
    fraction = step_flops / matmul_flops * t.ratio("matmul", "manual")
    return Row(
        kind="peak",
        name=f"big net {_shape_name(sizes, batch)} vs matmul {MATMUL_N}³",
        value=step_flops / t.median("manual") / 1e9,
        value_label="manual step",
        baseline=matmul_flops / t.median("matmul") / 1e9,
        baseline_label="f32 matmul",
        unit="GFLOP/s",
        ratio=fraction,
        spread=tuple(step_flops / matmul_flops * q for q in t.spread("matmul", "manual")),
        repeats=t.repeats,
        target="≥ 0.80",
        met=fraction >= 0.80,
    )


def _epoch_runners(
    params: bc.Params, x: jax.Array, y: jax.Array, *, batch: int, seed: int
) -> dict[str, Callable[[int], None]]:
    """Fused epoch (one ``train_epoch`` call) and the Python loop of ``sgd_step`` over the same batches."""
    n = x.shape[0]
    key = jax.random.key(seed)
    fused_state = {"params": params}
    loop_state = {"params": params}

    def fused(k: int) -> None:
        p = fused_state["params"]
        for _ in range(k):
            p, _ = bc.train_epoch(p, x, y, key, lr=LR, batch_size=batch)
        fused_state["params"] = jax.block_until_ready(p)

    def loop(k: int) -> None:
        p = loop_state["params"]
        for _ in range(k):
            # The same shuffle and padding mask the fused epoch draws; the batches are gathered in one
            # op and iterated as device arrays, the cheapest way a Python loop can feed its steps.
            indices, masks = bc.epoch_batches(key, n, batch)
            for xb, yb, mb in zip(x[indices], y[indices], masks):
                p, _ = bc.sgd_step(p, xb, yb, lr=LR, mask=mb)
        loop_state["params"] = jax.block_until_ready(p)

    return {"fused": fused, "loop": loop}


def bench_epochs(settings: Settings) -> list[Row]:
    """Fused epoch vs Python loop on the digits shape and the [784,30,10] shape."""
    rows = []
    for (sizes, batch, n), seed, target in (
        (DIGITS, 100, 4.0),
        ((MNIST[0], MNIST[1], settings.mnist_samples), 200, None),
    ):
        params, x, y = _random_problem(seed, sizes, n)
        t = _interleaved(_epoch_runners(params, x, y, batch=batch, seed=seed), settings=settings)
        fused, loop = n / t.median("fused"), n / t.median("loop")
        ratio = t.ratio("loop", "fused")  # samples/s of fused over loop = time of loop over fused
        rows.append(
            Row(
                kind="epoch",
                name=f"epoch {_shape_name(sizes, batch)} n={n:,}",
                value=fused,
                value_label="lax.scan epoch",
                baseline=loop,
                baseline_label="Python loop of jitted steps",
                unit="samples/s",
                ratio=ratio,
                spread=t.spread("loop", "fused"),
                repeats=t.repeats,
                target="≥ 4×" if target else "—",
                met=ratio >= target if target else None,
            )
        )
    return rows


def bench_numpy(settings: Settings) -> Row:
    """The per-sample numpy reference vs the fused JAX epoch, interleaved, on [784,30,10] batch 10."""
    sizes, batch, _ = MNIST
    n = settings.numpy_samples
    params, x, y = _random_problem(300, sizes, n)
    # Both sides start from the same weights and train on the same samples, in float32.
    np_params = [(np.asarray(W), np.asarray(b)) for W, b in params]
    np_x, np_y = np.asarray(x), np.asarray(y)
    state = {"params": np_params}

    def numpy_epoch(k: int) -> None:
        for _ in range(k):
            state["params"] = npr.sgd_epoch(state["params"], np_x, np_y, eta=LR, batch_size=batch)

    runners = _epoch_runners(params, x, y, batch=batch, seed=300)
    t = _interleaved({"fused": runners["fused"], "numpy": numpy_epoch}, settings=settings)
    ratio = t.ratio("numpy", "fused")
    return Row(
        kind="numpy",
        name=f"fused epoch vs numpy {_shape_name(sizes, batch)} n={n:,}",
        value=n / t.median("fused"),
        value_label="lax.scan epoch",
        baseline=n / t.median("numpy"),
        baseline_label="numpy per-sample",
        unit="samples/s",
        ratio=ratio,
        spread=t.spread("numpy", "fused"),
        repeats=t.repeats,
        target="≥ 25×",
        met=ratio >= 25,
    )


# --- the table ------------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """jax version, backend, device kind and the host, for the table's title and the JSON."""
    device = jax.devices()[0]
    return {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "device_kind": device.device_kind,
        "device_count": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _fmt(x: float) -> str:
    if x >= 1e5:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def table_rows(result: dict[str, Any]) -> list[list[str]]:
    """The table's cells, one list of strings per row (header first)."""
    out = [["measure", "ours", "baseline", "unit", "ratio", "IQR (n)", "target", "result"]]
    for r in result["rows"]:
        precise = r["kind"] in ("step", "peak")
        ratio = f"{r['ratio']:.3f}" if precise else f"{r['ratio']:.1f}×"
        q1, q3 = r["spread"]
        spread = (f"{q1:.3f}–{q3:.3f}" if precise else f"{q1:.1f}–{q3:.1f}") + f" ({r['repeats']})"
        verdict = "—" if r["met"] is None else ("pass" if r["met"] else "MISS")
        out.append(
            [
                r["name"],
                f"{_fmt(r['value'])} {r['value_label']}",
                f"{_fmt(r['baseline'])} {r['baseline_label']}",
                r["unit"],
                ratio,
                spread,
                r["target"],
                verdict,
            ]
        )
    return out


def title(result: dict[str, Any]) -> str:
    """One line: what ran where."""
    env = result["env"]
    mode = "quick" if result["quick"] else "full"
    return (
        f"bplab bench ({mode}) — jax {env['jax']}, backend {env['backend']}, "
        f"device {env['device_kind']}, {env['cpu_count']} CPUs"
    )


def notes(result: dict[str, Any]) -> str:
    """The table's footnote: how the numbers were taken, and what a quick run left out."""
    s = result["settings"]
    text = (
        "medians of n interleaved repeats after warm-up; ratio = median of the per-repeat "
        "ours / baseline (step rows: time ratio, below 1 = manual faster); IQR = its quartiles"
    )
    if result["quick"]:
        text += f"; QUICK: [784,30,10] epoch on {s['mnist_samples']:,} samples, not 60,000"
    return text


def to_markdown(result: dict[str, Any]) -> str:
    """The table as GitHub markdown, for docs/PERFORMANCE.md."""
    rows = table_rows(result)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return f"{title(result)}\n\n" + "\n".join(lines) + f"\n\n{notes(result)}\n"


def render(result: dict[str, Any], file=None) -> None:
    """Prints the table: with rich when it is installed, as plain aligned text otherwise."""
    file = file or sys.stdout
    rows = table_rows(result)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # the plain fallback keeps the GPU script independent of rich
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print(title(result), file=file)
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)), file=file)
        print(notes(result), file=file)
        return
    table = Table(title=title(result), caption=notes(result))
    for i, head in enumerate(rows[0]):
        table.add_column(head, justify="left" if i in (0, 3, 6) else "right", no_wrap=i != 0)
    for r in rows[1:]:
        style = "red" if r[-1] == "MISS" else None
        table.add_row(*r, style=style)
    # A file or pipe gets a wide, uncoloured table instead of rich's 80-column default.
    console = Console(file=file, width=None if file.isatty() else 200)
    console.print(table)


# --- entry point ----------------------------------------------------------------------------------


def measure(*, quick: bool) -> dict[str, Any]:
    """Runs every measurement once and returns the JSON-ready result (nothing printed)."""
    settings = QUICK if quick else FULL
    rows = [*bench_steps(settings), *bench_epochs(settings), bench_numpy(settings)]
    return {
        "env": environment(),
        "quick": quick,
        "settings": asdict(settings),
        "rows": [asdict(r) for r in rows],
    }


def run_bench(*, json_out: bool, quick: bool) -> dict[str, Any]:
    """``bplab bench``: measures everything once, then prints the table (or JSON only).

    Args:
      json_out: print the result as JSON and nothing else.
      quick: fewer repeats and smaller epochs (a smoke run; the table says so).

    Returns:
      The result: ``env``, ``quick``, ``settings`` and ``rows`` (see :class:`Row`).
    """
    result = measure(quick=quick)
    if json_out:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        render(result)
    return result
