"""One XLA CPU thread against the default pool (one per core): epochs of small and large nets, and sweeps.

    python -m benchmarks.cpu_threads             # the epoch table (about a minute on 2 cores)
    python -m benchmarks.cpu_threads --sweeps 3  # then 3 alternated pairs of warm 30-trial digits sweeps

XLA's CPU client sizes its pool once per process from ``NPROC`` (:mod:`experiments.cpu_threads`), so
every measurement is a fresh interpreter with ``NPROC`` set one way or the other.

- *epochs*: ``train_epoch`` (manual gradients, sigmoid, quadratic, float32) on random data of the
  net's shape; the best of 3 blocks of epochs after a compiled warm-up, in ms per epoch.
- *sweeps*: ``bplab sweep experiments/configs/digits.toml --n-trials 30 --workers 1`` without pruning,
  as whole commands over one warm compilation cache (filled by an untimed sweep first), alternating
  bplab's own choice (no ``NPROC``: one thread for this space) with ``NPROC`` = the cores (the pool
  every sweep had before the choice).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.commands import REPO, bplab, clean_env, python, run_timed
from experiments.cpu_threads import largest_product

NETS = [  # (sizes, batch, samples, epochs per block)
    ((64, 256, 10), 10, 1200, 20),
    ((64, 256, 256, 10), 10, 1200, 10),
    ((64, 512, 512, 10), 10, 1200, 5),
    ((64, 256, 256, 10), 100, 2000, 10),
    ((784, 384, 10), 32, 4096, 5),
    ((784, 512, 10), 64, 4096, 5),
    ((784, 1024, 1024, 10), 256, 4096, 2),
]

EPOCHS = """
import sys, time
import jax, jax.numpy as jnp
from backprop_core import init_params, train_epoch
sizes, batch, n, epochs = eval(sys.argv[1])
kx, ky, kp = jax.random.split(jax.random.key(0), 3)
x = jax.random.uniform(kx, (n, sizes[0]))
y = jax.nn.one_hot(jax.random.randint(ky, (n,), 0, sizes[-1]), sizes[-1])
params = init_params(kp, sizes)
def block(k):
    global params
    for i in range(k):
        params, _ = train_epoch(params, x, y, jax.random.key(i), lr=jnp.float32(0.1), batch_size=batch,
                                activation="sigmoid", cost="quadratic")
    jax.block_until_ready(params)
block(1)
best = float("inf")
for _ in range(3):
    t0 = time.perf_counter(); block(epochs); best = min(best, time.perf_counter() - t0)
print(1000 * best / epochs)
"""


def cores() -> int:
    return len(os.sched_getaffinity(0))


def epoch_ms(net: tuple, threads: int) -> float:
    env = clean_env({"NPROC": str(threads), "JAX_PLATFORMS": "cpu"})
    r = subprocess.run(
        [*python(), "-c", EPOCHS, repr(net)], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    return float(r.stdout.strip())


def epochs_table() -> None:
    n = cores()
    print(f"ms per epoch, best of 3 blocks ({n} cores)")
    print(f"{'net':<24}{'batch':>6}{'product':>12}{f'{n} threads':>12}{'1 thread':>10}{'1 / ' + str(n):>8}")
    for sizes, batch, samples, epochs in NETS:
        pool = epoch_ms((sizes, batch, samples, epochs), n)
        one = epoch_ms((sizes, batch, samples, epochs), 1)
        product = largest_product(sizes, batch) / 1e6
        net = "[" + ", ".join(map(str, sizes)) + "]"
        print(f"{net:<24}{batch:>6}{product:>10.2f} M{pool:>12.2f}{one:>10.2f}{one / pool:>8.2f}")


def sweeps(pairs: int) -> None:
    config = REPO / "experiments" / "configs" / "digits.toml"
    with tempfile.TemporaryDirectory(prefix="bplab-threads-") as tmp:
        folder = Path(tmp)
        base = clean_env({"BPLAB_JAX_CACHE": str(folder / "cache")})
        pool = {**base, "NPROC": str(cores())}

        def sweep(study: str, env: dict) -> float:
            cmd = [*bplab(), "sweep", str(config), "--n-trials", "30", "--workers", "1", "--study", study]
            return run_timed([*cmd, "--set", "sweep.pruner=none"], cwd=folder, env=env, timeout=900)[0]

        sweep("warm-up", base)
        ours, theirs = [], []
        for i in range(pairs):
            order = [("one", ours, base), ("pool", theirs, pool)]
            for side, seconds, env in order if i % 2 == 0 else order[::-1]:
                seconds.append(sweep(f"s{i}-{side}", env))
        print(f"\nwarm 30-trial digits sweeps, whole commands ({pairs} alternated pairs)")
        print("  bplab's choice (1 thread): " + ", ".join(f"{s:.1f}" for s in ours) + " s")
        print(f"  NPROC={cores()} (the pool):".ljust(29) + ", ".join(f"{s:.1f}" for s in theirs) + " s")
        ratio = statistics.median(ours) / statistics.median(theirs)
        print(f"  median one / pool: {ratio:.2f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweeps", type=int, default=0, metavar="PAIRS", help="also time warm sweeps")
    args = ap.parse_args(argv)
    epochs_table()
    if args.sweeps:
        sweeps(args.sweeps)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
