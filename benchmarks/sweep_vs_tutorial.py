"""``bplab sweep`` against the tutorial peer, side by side in one run, as whole commands.

    python -m benchmarks.sweep_vs_tutorial                    # 30 and 100 trials × 30 epochs of digits
    python -m benchmarks.sweep_vs_tutorial --n-trials 30      # one size
    python -m benchmarks.sweep_vs_tutorial --quick            # 4 trials × 3 epochs: a smoke run
    python -m benchmarks.sweep_vs_tutorial --repeat 3         # each row the median of 3 runs
    python -m benchmarks.sweep_vs_tutorial --json             # the same numbers as one JSON document

Per trial count N, in fresh temporary folders, both stores embedded (Optuna journal or SQLite, MLflow
SQLite) and no pruning on either side (every trial trains every epoch, so the ratio compares the cost
of a trial, not two pruners' luck):

- ``ours``: ``bplab sweep CONFIG --n-trials N --workers 1 --study S --set sweep.pruner=none``, with
  ``BPLAB_JAX_CACHE`` at a new empty folder ("empty": a user's first sweep); then the same command with
  another ``--study`` in the same folder over the same cache ("warm": a user's next sweep).
- ``peer``: :mod:`benchmarks.tutorial`, run the same way twice. It has no compilation cache in either
  state, as a tutorial user has none; its "warm" row is its second run, with its stores already made.
- ``floor``: the empty sweep's own trials trained alone, compiled, in one process
  (:mod:`benchmarks.floor`), and ``start-up``: a fresh interpreter importing what a sweep imports
  (:func:`benchmarks.commands.startup_seconds`). ``ours / (floor + start-up)`` says how much of a sweep
  is overhead.

Shared machines are noisy: the load average is recorded; read the ratios, not the absolute seconds.
One run of a row can differ from the next by more than a target's margin (3.41× and 2.99× for the same
code): ``--repeat R`` measures every trial count R times, each in fresh folders, and reports the median
seconds of each row and of the floor (every run's seconds stay in ``--json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.commands import (
    CommandFailed,
    bplab,
    clean_env,
    python,
    run_timed,
    source_fingerprint,
    startup_seconds,
)
from benchmarks.sweep_report import render, targets

CONFIG = Path(__file__).resolve().parent.parent / "experiments" / "configs" / "digits.toml"
STATES = ("empty", "warm")


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _entries(cache: Path) -> int:
    """Files in the compilation cache: a warm run that adds many compiled instead of loading."""
    return sum(1 for _ in cache.rglob("*")) if cache.exists() else 0


def with_rates(row: dict) -> dict:
    """``row`` with what its ``ours_s`` and ``peer_s`` give: trials per minute and ``peer / ours``."""
    n, ours, peer = row["n_trials"], row["ours_s"], row["peer_s"]
    return dict(
        row, ours_trials_per_min=60 * n / ours, peer_trials_per_min=60 * n / peer, peer_over_ours=peer / ours
    )


def measure_n(n: int, epochs: int, *, config: Path, root: Path, timeout: float) -> dict:
    """Both sides in both cache states at ``n`` trials, then the floor of the empty sweep's trials."""
    ours_dir, peer_dir, cache = root / "bplab", root / "tutorial", root / "jax-cache"
    ours_dir.mkdir(parents=True)
    peer_dir.mkdir(parents=True)
    overrides = [f"train.epochs={epochs}", "sweep.pruner=none"]
    sets = [a for o in overrides for a in ("--set", o)]
    ours_env, peer_env = clean_env({"BPLAB_JAX_CACHE": str(cache)}), clean_env()
    rows = []
    for state in STATES:
        study = f"bench-n{n}-{state}"
        ours_cmd = [*bplab(), "sweep", str(config), "--n-trials", str(n), "--workers", "1", "--study", study]
        peer_cmd = [*python(), "-m", "benchmarks.tutorial", "--n-trials", str(n), "--epochs", str(epochs)]
        peer_cmd += ["--study", study, "--config", str(config)]
        entries_before = _entries(cache)
        # Alternate who goes first, so a burst of load from the neighbours does not always hit one side.
        order = [("ours", ours_cmd + sets, ours_dir, ours_env), ("peer", peer_cmd, peer_dir, peer_env)]
        seconds = {}
        for side, cmd, cwd, env in order if state == "empty" else order[::-1]:
            _log(f"N={n} {state}: {side} …")
            seconds[side] = run_timed(cmd, cwd=cwd, env=env, timeout=timeout)[0]
            _log(f"N={n} {state}: {side} {seconds[side]:.1f} s")
        rows.append(
            with_rates(
                {
                    "n_trials": n,
                    "cache": state,
                    "cache_entries_before": entries_before,
                    "cache_entries_after": _entries(cache),
                    "ours_s": seconds["ours"],
                    "peer_s": seconds["peer"],
                }
            )
        )
    _log(f"N={n}: compute floor …")
    floor_cmd = [*python(), "-m", "benchmarks.floor", "--journal", str(ours_dir / "optuna.journal")]
    floor_cmd += ["--study", f"bench-n{n}-empty", "--config", str(config), *sets]
    peer_db = f"sqlite:///{peer_dir / 'optuna.db'}"
    floor_cmd += ["--peer-storage", peer_db, "--peer-study", f"bench-n{n}-empty"]
    floor = json.loads(run_timed(floor_cmd, cwd=ours_dir, env=clean_env(), timeout=timeout)[1])
    if floor["trials"] != n:
        raise CommandFailed(f"the floor found {floor['trials']} trials in the journal, expected {n}")
    _log(f"N={n}: floor {floor['seconds']:.1f} s ({floor['programs']} programs)")
    return {"n_trials": n, "epochs": epochs, "floor": floor, "rows": rows}


def median_result(runs: list[dict]) -> dict:
    """One trial count's result from several runs of :func:`measure_n`: each row's seconds and the
    floor's are the medians, with every run's seconds beside them (``*_runs_s``, ``runs_s``)."""
    first = runs[0]
    rows = []
    for i, row in enumerate(first["rows"]):
        ours, peer = ([run["rows"][i][key] for run in runs] for key in ("ours_s", "peer_s"))
        mid = dict(row, ours_s=statistics.median(ours), peer_s=statistics.median(peer))
        rows.append(with_rates(dict(mid, ours_runs_s=ours, peer_runs_s=peer)))
    floors = [run["floor"]["seconds"] for run in runs]
    floor = dict(first["floor"], seconds=statistics.median(floors), runs_s=floors)
    return dict(first, rows=rows, floor=floor)


def benchmark(ns: list[int], epochs: int, *, config: Path, timeout: float, repeat: int = 1) -> dict:
    """Every measurement of one benchmark run, as the JSON document ``--json`` prints."""
    load_start, code_start = os.getloadavg(), source_fingerprint()
    results = []
    with tempfile.TemporaryDirectory(prefix="bplab-sweep-bench-") as tmp:
        _log("start-up …")
        startup = startup_seconds(cwd=Path(tmp))
        _log(f"start-up {startup:.2f} s")
        for n in ns:
            runs = [
                measure_n(n, epochs, config=config, root=Path(tmp) / f"n{n}-run{r}", timeout=timeout)
                for r in range(repeat)
            ]
            results.append(median_result(runs))
    for result in results:
        base = result["floor"]["seconds"] + startup
        for row in result["rows"]:
            row["floor_plus_startup_s"] = base
            row["ours_over_floor_plus_startup"] = row["ours_s"] / base
    doc = {
        "config": str(config),
        "epochs": epochs,
        "repeat": repeat,
        "startup_s": startup,
        "results": results,
        "machine": {"cpu_count": os.cpu_count(), "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
        "code": {"start": code_start, "end": source_fingerprint()},
        "notes": [
            "peer: no persistent compilation cache in either state (a tutorial user has none); "
            "its warm row is its second run in the same folder",
            "ours warm: the same command again with a new --study, same folder, same BPLAB_JAX_CACHE",
            "shared, loaded machine: absolute seconds are noisy, read the ratios",
        ],
    }
    doc["targets"] = targets(doc)
    return doc


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit code (1: a command failed)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-trials", type=int, nargs="+", default=[30, 100], metavar="N")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="4 trials × 3 epochs: proves the benchmark runs")
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--timeout", type=float, default=3600, help="seconds allowed to each command")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each trial count; rows report medians")
    ap.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = ap.parse_args(argv)
    ns, epochs = ([4], 3) if args.quick else (args.n_trials, args.epochs)
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    try:
        doc = benchmark(ns, epochs, config=args.config.resolve(), timeout=args.timeout, repeat=args.repeat)
    except CommandFailed as e:
        print(f"benchmark failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(doc, indent=2) if args.json else render(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
