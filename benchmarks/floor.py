"""The compute floor of a sweep: its trials' training alone, compiled, in one process.

A sweep can never be faster than the work its trials do; this measures that work so the benchmark
can say how far above it ``bplab sweep`` lands. It reads the trials a finished sweep actually ran
(their params, from the study's journal), turns each into its run config the way the sweep does, and
trains it as the sweep's loop does: the core's ``train_epoch`` and a validation ``evaluate`` every
epoch with one fetch, the test split once at the end, as many trials at once as the sweep trains.
Every distinct program (shapes, activation, cost, batch size, gradient mode) is compiled and run
once before the clock starts; only the warm training is timed. No tracking, no gradient check, no
Optuna: those are the sweep's overheads.

    python -m benchmarks.floor --journal DIR/optuna.journal --study NAME [--config P] [--set k=v …]

Prints one JSON object: ``seconds`` (the floor), ``trials``, ``programs``, ``compile_seconds``, and
with ``--peer-storage``/``--peer-study`` ``same_params_as_peer``.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import jax.numpy as jnp
import optuna

from backprop_core import evaluate, init_params, precision, train_epoch
from experiments.config import RunConfig, load_config
from experiments.cpu_threads import largest_product
from experiments.data import Dataset, load_dataset
from experiments.run import layer_sizes
from sweeps.objective import trial_config
from sweeps.preflight import lanes_for, lanes_wanted

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "digits.toml"


def sampled(journal: Path, study: str) -> list[dict]:
    """The params of every trial the study sampled, in trial order."""
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(journal)))
    return [t.params for t in optuna.load_study(study_name=study, storage=storage).trials if t.params]


def same_as_peer(ours: list[dict], storage: str, study: str) -> int:
    """How many trials sampled exactly the peer's params (trial by trial). With equal sampler seeds the
    seeded random start-up trials of TPE agree, which proves both sides search the same space; a
    product that derives its own seed makes the count 0 without making the space differ."""
    theirs = [t.params for t in optuna.load_study(study_name=study, storage=storage).trials]
    return sum(a == b for a, b in zip(ours, theirs, strict=False))


def train(cfg: RunConfig, ds: Dataset, *, epochs: int) -> float:
    """Trains ``cfg`` for ``epochs`` epochs as a sweep trial does (seed split, per-epoch validation
    and fetch, a final test evaluation); returns the last validation accuracy."""
    tr, model = cfg.train, cfg.model
    kw = {"activation": model.activation, "cost": model.cost}
    with precision(tr.dtype) as dtype:
        init_key, shuffle_key = jax.random.split(jax.random.key(tr.seed))
        sizes = (ds.n_inputs, *model.hidden, ds.n_outputs)
        params = init_params(init_key, sizes, init=model.init, dtype=dtype)
        x, y, xv, yv, xt, yt = (
            jnp.asarray(a, dtype) for a in (ds.x_train, ds.y_train, ds.x_val, ds.y_val, ds.x_test, ds.y_test)
        )
        lr = jnp.asarray(tr.lr, dtype)
        val_acc = None
        for key in jax.random.split(shuffle_key, tr.epochs)[:epochs]:
            params, m = train_epoch(params, x, y, key, lr=lr, batch_size=tr.batch_size, grad=tr.grad, **kw)
            val = evaluate(params, xv, yv, classification=ds.is_classification, **kw)
            _, (_, val_acc) = jax.device_get((m, val))  # the epoch's one fetch, as the sweep's loop
        jax.device_get(evaluate(params, xt, yt, classification=ds.is_classification, **kw))
        return float(val_acc)


def program(cfg: RunConfig) -> tuple:
    """What decides a compiled program: trials with equal keys share every compilation."""
    m, t = cfg.model, cfg.train
    return (tuple(m.hidden), m.activation, m.cost, t.batch_size, t.grad, t.dtype)


def measure(configs: list[RunConfig]) -> dict[str, float | int]:
    """Compiles each distinct program once (one epoch, untimed for the floor), then times every trial,
    on the XLA CPU threads a sweep of them would have (before the first JAX computation), as many at
    once as the sweep trains (:mod:`sweeps.lanes`)."""
    ds = load_dataset(configs[0].data, configs[0].train.seed)
    largest = max(largest_product(layer_sizes(c, ds), c.train.batch_size) for c in configs)
    lanes = lanes_for(largest, lanes_wanted())
    t0 = time.perf_counter()
    firsts = {program(c): c for c in reversed(configs)}
    for cfg in firsts.values():
        train(cfg, ds, epochs=1)
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(lanes) as pool:  # side by side where the sweep trains them so
        list(pool.map(lambda cfg: train(cfg, ds, epochs=cfg.train.epochs), configs))
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "trials": len(configs),
        "programs": len(firsts),
        "compile_seconds": compile_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    """Command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--journal", type=Path, required=True)
    ap.add_argument("--study", required=True)
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--peer-storage", help="the peer's Optuna storage URL, to count identical samples")
    ap.add_argument("--peer-study", help="the peer's study in --peer-storage")
    args = ap.parse_args(argv)
    params = sampled(args.journal, args.study)
    if not params:
        raise SystemExit(f"study {args.study!r} in {args.journal} has no sampled trials")
    base = load_config(args.config, args.overrides)
    result = measure([trial_config(base, p) for p in params])
    if args.peer_storage and args.peer_study:
        result["same_params_as_peer"] = same_as_peer(params, args.peer_storage, args.peer_study)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
