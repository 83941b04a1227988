"""Unit masks and populations: one compiled program for many widths, against one program per width.

Run from the repository root (each cold part starts its own interpreter, so its jit cache is
empty; the persistent compilation cache is switched off)::

    python -m benchmarks.masking                # every part, then the table
    python -m benchmarks.masking --epochs 5     # quicker

The net is ``[64, w, 10]``, sigmoid + quadratic, manual gradients, batch 10, on digits-sized random
data (1200 × 64, one-hot over 10 classes); 16 true widths ``w`` from 32 to 256. Parts:
  a. cold: 16 unpadded widths, each its own compiled epoch; wall time of all 16 runs incl. compile.
  b. cold: the same 16 trials padded to 256 under unit masks: one compiled epoch. Twice, each in a
     fresh interpreter: initialised by ``init_params`` then ``pad_params`` (the random draws
     compile once per width), and by ``init_padded_params`` (the same weights, one program).
  c. b again in the same process (warm).
  d. warm: a population of the 16 (one vmapped program) against c's 16 sequential masked trials.
  e. warm: seconds per epoch of a true width padded to ``P`` over the unpadded true width
     (medians of alternated epochs, so drifting load hits both alike).
Every trial fetches its epoch metrics once per epoch, as a tracked run does. Each time is given
twice: wall seconds and the process's CPU seconds (all threads); on a shared machine the CPU
seconds are the steadier measure of the work, the wall seconds what a user waits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

WIDTHS = [round(32 + i * (256 - 32) / 15) for i in range(16)]  # 32, 47, …, 241, 256
PADDED = 256


class Clock:
    """Wall and process CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


N_IN, N_OUT, N, BATCH, LR = 64, 10, 1200, 10, 0.5


def _setup():
    import jax

    jax.config.update("jax_enable_compilation_cache", False)  # cold means cold
    k_x, k_y = jax.random.split(jax.random.key(0))
    x = jax.random.normal(k_x, (N, N_IN))
    y = jax.nn.one_hot(jax.random.randint(k_y, (N,), 0, N_OUT), N_OUT)
    return x.block_until_ready(), y.block_until_ready()


def run_trials(x, y, widths, *, padded: int | None, epochs: int, one_init=True) -> tuple[float, float]:
    """Seconds to train one trial per width, one after the other (``padded``: under unit masks;
    ``one_init``: initialised by ``init_padded_params``, else by ``init_params`` + ``pad_params``)."""
    import jax

    import backprop_core as bc

    clock = Clock()
    for w in widths:
        key, sizes, masks = jax.random.key(w), (N_IN, w, N_OUT), None
        if padded is None:
            params = bc.init_params(key, sizes)
        else:
            params = (
                bc.init_padded_params(key, sizes, (padded,))
                if one_init
                else bc.pad_params(bc.init_params(key, sizes), (padded,))
            )
            masks = bc.unit_masks((w,), (padded,))
        for key in jax.random.split(jax.random.key(1), epochs):
            params, m = bc.train_epoch(params, x, y, key, lr=LR, batch_size=BATCH, unit_masks=masks)
            float(m.train_loss)  # fetched once per epoch, as a tracked run does
    return clock.read()


def run_population(x, y, widths, *, epochs: int) -> tuple[float, float]:
    """Seconds to train the same trials as one population padded to ``PADDED``."""
    import jax
    import jax.numpy as jnp

    import backprop_core as bc

    clock = Clock()
    params_K = bc.stack_params(
        [bc.init_padded_params(jax.random.key(w), (N_IN, w, N_OUT), (PADDED,)) for w in widths]
    )
    masks_K = bc.stack_params([bc.unit_masks((w,), (PADDED,)) for w in widths])
    lr_K, active_K = jnp.full((len(widths),), LR), jnp.ones((len(widths),), bool)
    for key in jax.random.split(jax.random.key(1), epochs):
        keys_K = jax.random.split(key, len(widths))
        params_K, m = bc.population_epoch(
            params_K, x, y, keys_K, lr_K=lr_K, unit_masks_K=masks_K, active_K=active_K, batch_size=BATCH
        )
        m.train_loss.tolist()
    return clock.read()


def epoch_ratios(x, y, true_widths, padded_widths, *, repeats: int) -> dict[str, float]:
    """Median CPU seconds per epoch of each true width padded to each larger width, over unpadded."""
    import jax

    import backprop_core as bc

    configs = {}
    for w in true_widths:
        base = bc.init_params(jax.random.key(w), (N_IN, w, N_OUT))
        configs[(w, w)] = (base, None)
        for p in padded_widths:
            if p > w:
                configs[(w, p)] = (bc.pad_params(base, (p,)), bc.unit_masks((w,), (p,)))
    times = {c: [] for c in configs}
    key = jax.random.key(2)
    for rep in range(repeats + 1):
        for c, (params, masks) in configs.items():
            clock = Clock()
            _, m = bc.train_epoch(params, x, y, key, lr=LR, batch_size=BATCH, unit_masks=masks)
            float(m.train_loss)
            if rep:  # the first round compiles
                times[c].append(clock.read()[1])
    med = {c: statistics.median(t) for c, t in times.items()}
    return {f"{w}->{p}": med[(w, p)] / med[(w, w)] for (w, p) in med if p > w} | {
        f"{w}": med[(w, w)] for w in true_widths
    }


def part(name: str, epochs: int) -> dict:
    """One part, in this interpreter."""
    x, y = _setup()
    if name == "a":
        return {"a_unpadded_cold_s": run_trials(x, y, WIDTHS, padded=None, epochs=epochs)}
    if name == "b_eager_init":
        return {
            "b_masked_cold_eager_init_s": run_trials(
                x, y, WIDTHS, padded=PADDED, epochs=epochs, one_init=False
            )
        }
    if name == "bcd":
        b = run_trials(x, y, WIDTHS, padded=PADDED, epochs=epochs)
        c = run_trials(x, y, WIDTHS, padded=PADDED, epochs=epochs)
        run_population(x, y, WIDTHS, epochs=1)  # compile the population
        seq, pop = [], []
        for _ in range(3):  # alternate: drifting load hits both alike
            seq.append(run_trials(x, y, WIDTHS, padded=PADDED, epochs=epochs))
            pop.append(run_population(x, y, WIDTHS, epochs=epochs))
        return {
            "b_masked_cold_s": b,
            "c_masked_warm_s": c,
            "d_sequential_warm_s": [statistics.median(t[i] for t in seq) for i in (0, 1)],
            "d_population_warm_s": [statistics.median(t[i] for t in pop) for i in (0, 1)],
        }
    if name == "e":
        return epoch_ratios(x, y, (32, 64, 128), (64, 128, 256, 512, 1024), repeats=15)
    raise ValueError(name)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part, print JSON
    args = parser.parse_args(argv)
    if args.part:
        print(json.dumps(part(args.part, args.epochs)))
        return
    results: dict = {}
    for name in ("a", "b_eager_init", "bcd", "e"):  # a fresh interpreter each: an empty jit cache
        cmd = [sys.executable, "-m", "benchmarks.masking", "--part", name, "--epochs", str(args.epochs)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results |= json.loads(out.strip().splitlines()[-1])
    n = len(WIDTHS)
    print(f"[{N_IN}, w, {N_OUT}], batch {BATCH}, {args.epochs} epochs, {n} widths {WIDTHS[0]}..{WIDTHS[-1]}")
    print(f"{'part':<52}{'wall s':>10}{'CPU s':>10}")
    rows = [
        ("a  16 unpadded programs, cold (incl. compile)", "a_unpadded_cold_s"),
        ("b  1 masked program at 256, cold, init_params+pad", "b_masked_cold_eager_init_s"),
        ("b  1 masked program at 256, cold, init_padded", "b_masked_cold_s"),
        ("c  1 masked program at 256, warm", "c_masked_warm_s"),
        ("d  16 masked trials one after the other, warm", "d_sequential_warm_s"),
        ("d  population of 16 at 256 (vmap), warm", "d_population_warm_s"),
    ]
    for label, key in rows:
        wall, cpu = results[key]
        print(f"{label:<52}{wall:>10.2f}{cpu:>10.2f}")
    print("\ne  CPU seconds per epoch, padded over unpadded (true width -> padded width)")
    for w in (32, 64, 128):
        mine = {k.split("->")[1]: v for k, v in results.items() if k.startswith(f"{w}->")}
        ratios = "  ".join(f"{p}: {v:.2f}x" for p, v in mine.items())
        print(f"   {w:>4} ({results[str(w)] * 1e3:.1f} ms/epoch unpadded)  {ratios}")


if __name__ == "__main__":
    main()
