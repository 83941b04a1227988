"""The sweep benchmark's verdict and table: numbers in, text out, nothing measured here.

Kept apart from the measuring so the targets (what "fast enough" means) read in one place, and the
table can be re-rendered from a saved ``--json`` document.
"""

from __future__ import annotations

# (name, trial count, cache state, the row's value, comparison, bound): the sweep targets on 2 cores.
TARGETS = (
    ("first sweep (empty cache), 30 trials: peer/ours", 30, "empty", "peer_over_ours", ">=", 8),
    ("warm cache, 30 trials: peer/ours", 30, "warm", "peer_over_ours", ">=", 10),
    ("100 trials, empty cache: ours/(floor+start-up)", 100, "empty", "ours_over_floor_plus_startup", "<=", 3),
)


def targets(doc: dict) -> list[dict]:
    """Each target with its measured value and ``met`` (``None`` when its trial count was not run)."""
    rows = {(r["n_trials"], r["cache"]): r for res in doc["results"] for r in res["rows"]}
    out = []
    for name, n, cache, key, op, bound in TARGETS:
        row = rows.get((n, cache))
        value = None if row is None else row[key]
        met = None if value is None else (value >= bound if op == ">=" else value <= bound)
        out.append({"target": name, "bound": f"{op} {bound:g}", "value": value, "met": met})
    return out


def render(doc: dict) -> str:
    """The plain-text report: the side-by-side table, the floor lines, the targets and the notes."""
    head = (
        f"{'N':>4} {'cache (files before→after)':<27} {'ours s':>8} {'peer s':>8} {'ours t/min':>11} "
        f"{'peer t/min':>11} {'peer/ours':>10} {'floor+start s':>14} {'ours/(floor+start)':>19}"
    )
    lines = [
        f"sweep benchmark: {doc['config']}, {doc['epochs']} epochs per trial, no pruning, --workers 1",
        *([f"each row and floor: the median of {doc['repeat']} runs"] if doc.get("repeat", 1) > 1 else []),
        "",
        head,
        "-" * len(head),
    ]
    for res in doc["results"]:
        for r in res["rows"]:
            cache = f"{r['cache']} ({r['cache_entries_before']}→{r.get('cache_entries_after', '?')})"
            lines.append(
                f"{r['n_trials']:>4} {cache:<27} {r['ours_s']:>8.1f} {r['peer_s']:>8.1f} "
                f"{r['ours_trials_per_min']:>11.1f} {r['peer_trials_per_min']:>11.1f} "
                f"{r['peer_over_ours']:>9.2f}× {r['floor_plus_startup_s']:>14.1f} "
                f"{r['ours_over_floor_plus_startup']:>18.2f}×"
            )
    lines.append("")
    lines.append(f"start-up (fresh interpreter, the sweep's imports): {doc['startup_s']:.2f} s")
    for res in doc["results"]:
        f = res["floor"]
        lines.append(
            f"compute floor, N={res['n_trials']}: {f['seconds']:.2f} s for {f['trials']} trials "
            f"({f['programs']} distinct programs, compiled once beforehand in {f['compile_seconds']:.1f} s)"
        )
        if "same_params_as_peer" in f:
            lines.append(
                f"  same sampled params as the peer: {f['same_params_as_peer']} of {f['trials']} trials "
                "(same space and TPE; points agree only while both seed it alike)"
            )
    lines += ["", "targets (2-core machine):"]
    for t in doc["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured (trial count not run)"}[t["met"]]
        value = "" if t["value"] is None else f"{t['value']:.2f}, "
        lines.append(f"  {t['target']} {t['bound']}: {value}{verdict}")
    m = doc["machine"]
    load = lambda xs: " ".join(f"{x:.1f}" for x in xs)  # noqa: E731
    lines += ["", f"machine: {m['cpu_count']} cores, load average {load(m['loadavg_start'])} at start, "
              f"{load(m['loadavg_end'])} at end"]  # fmt: skip
    lines += [f"note: {n}" for n in doc["notes"]]
    code = doc.get("code", {})
    if code.get("start") != code.get("end"):
        lines.append("WARNING: the measured code was edited during the run: rows may time different versions")
    return "\n".join(lines)
