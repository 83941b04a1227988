"""The regression suite: pinned cases, a versioned baseline, one parent run with a report.

A suite is a TOML file (``experiments/configs/regression.toml``)::

    [suite]
    name = "regression"                        # the MLflow experiment of the parent and its children
    baseline = "../baselines/regression.json"  # relative to the suite file, versioned in the repo

    [[case]]
    name = "xor"
    kind = "train"                             # train | gradcheck | throughput
    config = "xor.toml"                        # relative to the suite file
    set = ["train.epochs=400"]                 # overrides, as with --set
    [case.tolerance]
    loss_rel = 0.05

What each kind measures, and the rule each number must keep (the report shows all of them):

- ``train``: trains the config as a child run. ``train_loss``, ``val_loss`` and ``test_loss`` must lie
  within ``loss_abs + loss_rel·|baseline|`` of the baseline, ``val_accuracy`` and ``test_accuracy``
  within ``accuracy_abs``; both ways, because a backprop bug can make a loss *lower* (a gradient twice
  too large acts like a larger learning rate). The final manual-vs-autodiff check,
  ``gradcheck/max_rel_err``, must be ≤ ``grad_rel_err_max``: agreement is a property of the code, not
  a trend, so its limit is absolute. A run that ends FAILED (diverged, gradient mismatch) fails the case.
- ``gradcheck``: manual vs ``jax.grad`` on every tensor (``δ^l``, ``∂C/∂b^l``, ``∂C/∂W^l``) at
  initialisation and after ``epochs`` epochs, and ``jax.grad`` vs central differences:
  ``max_rel_err`` ≤ ``grad_rel_err_max`` and ``fd_rel_err`` ≤ ``fd_rel_err_max``.
- ``throughput``: one epoch with the manual backward pass against the same epoch with ``jax.grad``,
  timed alternately in this process after a warm-up; ``throughput_ratio`` (manual over autodiff
  samples per second, the median of per-pair ratios) must be ≥ ``min_fraction`` × the baseline's.
  A ratio against a reference measured in the same run, not an absolute time: the reference shares
  the machine's noise. The absolute samples per second are reported, not judged.

A case whose baseline lacks a judged metric fails ("no baseline"): a suite that cannot compare
cannot pass. ``--update-baseline`` rewrites the baseline from the run, unless an absolute rule
(gradient agreement, a failed run) broke: a broken backward pass never becomes the baseline.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments.config import RunConfig, load_config, read_toml
from experiments.errors import BadInput, CheckFailed

CONFIGS_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_SUITE = CONFIGS_DIR / "regression.toml"
CASE_KINDS = ("train", "gradcheck", "throughput")
BASELINE_FORMAT = 1

# Rules per kind, with defaults a case's [case.tolerance] may override.
TOLERANCE_DEFAULTS: dict[str, dict[str, float]] = {
    "train": {"loss_rel": 0.05, "loss_abs": 1e-4, "accuracy_abs": 0.02, "grad_rel_err_max": 1e-4},
    "gradcheck": {"grad_rel_err_max": 1e-10, "fd_rel_err_max": 1e-5},
    "throughput": {"min_fraction": 0.5},
}
CASE_KEYS = {
    "train": {"name", "kind", "config", "set", "tolerance"},
    "gradcheck": {"name", "kind", "config", "set", "tolerance", "epochs"},
    "throughput": {"name", "kind", "config", "set", "tolerance", "repeats"},
}
LOSSES = ("train_loss", "val_loss", "test_loss")
ACCURACIES = ("val_accuracy", "test_accuracy")


# --- the suite file -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One pinned case.

    Attributes:
      name: unique in the suite; the child run's name and the baseline's key.
      kind: ``train``, ``gradcheck`` or ``throughput``.
      config: the validated run config (its experiment name replaced by the suite's).
      tolerance: the rules' numbers (defaults of the kind, overridden by ``[case.tolerance]``).
      epochs: ``gradcheck``: epochs trained between the two checks.
      repeats: ``throughput``: timed pairs after the warm-up.
    """

    name: str
    kind: str
    config: RunConfig
    tolerance: Mapping[str, float]
    epochs: int = 3
    repeats: int = 9


@dataclass(frozen=True)
class Suite:
    """A parsed suite file: its name (the MLflow experiment), where it and its baseline live, its cases."""

    name: str
    path: Path
    baseline_path: Path
    cases: tuple[Case, ...]


def resolve_suite_path(suite: str | Path | None) -> Path:
    """A suite argument as a file: an existing path, or a name in ``experiments/configs/``.

    Raises:
      BadInput: neither exists.
    """
    if suite is None or str(suite) == "":
        return DEFAULT_SUITE
    p = Path(suite)
    if p.is_file():
        return p
    named = CONFIGS_DIR / f"{suite}.toml"
    if p.suffix == "" and named.is_file():
        return named
    raise BadInput(f"{suite}: no such suite file (nor experiments/configs/{suite}.toml)")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _parse_tolerance(kind: str, table: Any, where: str) -> dict[str, float]:
    if not isinstance(table, Mapping):
        raise BadInput(f"{where}.tolerance must be a table")
    tol = dict(TOLERANCE_DEFAULTS[kind])
    for key, value in table.items():
        if key not in tol:
            raise BadInput(f"{where}.tolerance.{key}: unknown for a {kind} case; expected {', '.join(tol)}")
        if not _number(value) or value < 0:
            raise BadInput(f"{where}.tolerance.{key} = {value!r}: must be a number ≥ 0")
        tol[key] = float(value)
    return tol


def _positive_int(table: Mapping[str, Any], key: str, default: int, where: str, minimum: int) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadInput(f"{where}.{key} = {value!r}: must be an integer ≥ {minimum}")
    return value


def _parse_case(table: Any, index: int, suite_name: str, source: Path) -> Case:
    where = f"{source}: case[{index}]"
    if not isinstance(table, Mapping):
        raise BadInput(f"{where} must be a table")
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise BadInput(f"{where}.name: a non-empty string is required")
    where = f"{source}: case {name!r}"
    kind = table.get("kind", "train")
    if kind not in CASE_KINDS:
        raise BadInput(f"{where}.kind = {kind!r}: expected one of {', '.join(CASE_KINDS)}")
    unknown = sorted(set(table) - CASE_KEYS[kind])
    if unknown:
        raise BadInput(f"{where}: unknown key {unknown[0]!r}; expected {', '.join(sorted(CASE_KEYS[kind]))}")
    config = table.get("config")
    if not isinstance(config, str):
        raise BadInput(f"{where}.config: a path to a run config is required")
    overrides = table.get("set", [])
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise BadInput(f'{where}.set must be a list of strings such as "train.epochs=5"')
    cfg = load_config(source.parent / config, overrides).with_values({"experiment.name": suite_name})
    return Case(
        name=name,
        kind=kind,
        config=cfg,
        tolerance=_parse_tolerance(kind, table.get("tolerance", {}), where),
        epochs=_positive_int(table, "epochs", 3, where, 0),
        repeats=_positive_int(table, "repeats", 9, where, 3),
    )


def load_suite(path: str | Path) -> Suite:
    """Reads and validates a suite file (every case's config too).

    Raises:
      BadInput: a missing file, a TOML error, an unknown key, a bad value, a duplicate case name or
        a bad case config; one line naming the file and the key.
    """
    path = Path(path)
    d = read_toml(path, kind="suite")
    unknown = sorted(set(d) - {"suite", "case"})
    if unknown:
        raise BadInput(f"{path}: unknown section [{unknown[0]}]; expected [suite] and [[case]]")
    head = d.get("suite", {})
    if not isinstance(head, Mapping) or set(head) - {"name", "baseline"}:
        raise BadInput(f"{path}: [suite] takes only name and baseline")
    name = head.get("name", path.stem)
    baseline = head.get("baseline", f"../baselines/{path.stem}.json")
    if not isinstance(name, str) or not name.strip() or not isinstance(baseline, str):
        raise BadInput(f"{path}: suite.name and suite.baseline must be non-empty strings")
    tables = d.get("case", [])
    if not isinstance(tables, list) or not tables:
        raise BadInput(f"{path}: no [[case]] in the suite")
    cases = tuple(_parse_case(t, i, name, path) for i, t in enumerate(tables))
    names = [c.name for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"{path}: case name {dupes[0]!r} appears twice")
    return Suite(name, path, (path.parent / baseline).resolve(), cases)


# --- the baseline file ----------------------------------------------------------------------------


def load_baseline(path: Path) -> dict[str, Any]:
    """The baseline JSON, or an empty one when the file does not exist yet.

    Raises:
      BadInput: the file is not JSON or not of the expected shape.
    """
    if not path.exists():
        return {"format": BASELINE_FORMAT, "cases": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"{path}: not a readable baseline: {' '.join(str(e).split())}") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, dict) or not all(
        isinstance(v, dict) and all(_number(x) for x in v.values()) for v in cases.values()
    ):
        raise BadInput(f'{path}: expected {{"cases": {{case: {{metric: number}}}}}}')
    return data


def baseline_document(
    suite: Suite, measured: Mapping[str, Mapping[str, float]], environment: Mapping[str, Any]
) -> dict[str, Any]:
    """What ``--update-baseline`` writes: every case's measured numbers and where they came from."""
    return {
        "format": BASELINE_FORMAT,
        "suite": suite.name,
        "updated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": dict(environment),
        "cases": {name: dict(sorted(values.items())) for name, values in measured.items()},
    }


def write_baseline(path: Path, document: Mapping[str, Any]) -> None:
    """Writes the baseline atomically (a reader never sees half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


# --- the rules (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One row of the report.

    Attributes:
      case, metric: what was measured.
      baseline, now: the numbers (``None`` when missing).
      limit: the rule in words, e.g. ``±(0.0001 + 5%)``, ``≤ 1e-10``, ``≥ 0.5× baseline``.
      passed: whether the rule held (always ``True`` for a row that is not ``gated``).
      gated: ``False`` for numbers reported for context only.
      absolute: the rule does not depend on the baseline (gradient agreement, a run that failed).
      note: why it failed, when that is not obvious from the numbers.
    """

    case: str
    metric: str
    baseline: float | None
    now: float | None
    limit: str
    passed: bool
    gated: bool = True
    absolute: bool = False
    note: str = ""

    @property
    def delta(self) -> float | None:
        """``now − baseline`` (``None`` when either is missing)."""
        if self.baseline is None or self.now is None:
            return None
        return self.now - self.baseline

    @property
    def result(self) -> str:
        """``pass``, ``FAIL`` or ``info``."""
        if not self.gated:
            return "info"
        return "pass" if self.passed else "FAIL"


NO_BASELINE = "no baseline (run bplab regress --update-baseline)"


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def near(case: str, metric: str, now: float | None, base: float | None, *, rel: float, abs_: float) -> Check:
    """``|now − baseline| ≤ abs_ + rel·|baseline|`` (both ways)."""
    limit = f"±({abs_:g} + {rel:g}·|baseline|)"
    if base is None:
        return Check(case, metric, None, now, limit, False, note=NO_BASELINE)
    ok = _finite(now) and abs(now - base) <= abs_ + rel * abs(base)
    return Check(case, metric, base, now, limit, ok)


def at_most(case: str, metric: str, now: float | None, base: float | None, *, limit: float) -> Check:
    """``now ≤ limit`` whatever the baseline (which is shown for context)."""
    return Check(case, metric, base, now, f"≤ {limit:g}", _finite(now) and now <= limit, absolute=True)


def at_least_fraction(
    case: str, metric: str, now: float | None, base: float | None, *, fraction: float
) -> Check:
    """``now ≥ fraction × baseline``."""
    limit = f"≥ {fraction:g}× baseline"
    if base is None:
        return Check(case, metric, None, now, limit, False, note=NO_BASELINE)
    return Check(case, metric, base, now, limit, _finite(now) and now >= fraction * base)


def info(case: str, metric: str, now: float | None, base: float | None) -> Check:
    """A number reported for context, not judged."""
    return Check(case, metric, base, now, "—", True, gated=False)


def failed_run(case: str, reason: str) -> Check:
    """The row of a case whose run itself failed."""
    return Check(case, "run", None, None, "finishes", False, absolute=True, note=reason)


def judge(case: Case, now: Mapping[str, float], base: Mapping[str, float]) -> list[Check]:
    """The report rows of one case from its measured numbers and its baseline."""
    tol, name = case.tolerance, case.name
    rows: list[Check] = []
    if case.kind == "train":
        for m in LOSSES:
            rows.append(near(name, m, now.get(m), base.get(m), rel=tol["loss_rel"], abs_=tol["loss_abs"]))
        for m in ACCURACIES:
            if m in now or m in base:
                rows.append(near(name, m, now.get(m), base.get(m), rel=0.0, abs_=tol["accuracy_abs"]))
        m = "gradcheck/max_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["grad_rel_err_max"]))
    elif case.kind == "gradcheck":
        m = "max_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["grad_rel_err_max"]))
        m = "fd_rel_err"
        rows.append(at_most(name, m, now.get(m), base.get(m), limit=tol["fd_rel_err_max"]))
    else:
        m = "throughput_ratio"
        rows.append(at_least_fraction(name, m, now.get(m), base.get(m), fraction=tol["min_fraction"]))
        for m in ("manual_samples_per_sec", "autodiff_samples_per_sec"):
            rows.append(info(name, m, now.get(m), base.get(m)))
    return rows


# --- the report (pure) ----------------------------------------------------------------------------


def fmt(x: float | None) -> str:
    """A number for the report (``—`` when missing)."""
    return "—" if x is None else f"{x:.6g}"


def fmt_delta(c: Check) -> str:
    """``+0.0012 (+3.1%)`` or ``—``."""
    d = c.delta
    if d is None:
        return "—"
    pct = f" ({100 * d / abs(c.baseline):+.3g}%)" if c.baseline else ""
    return f"{d:+.3g}{pct}"


REPORT_COLUMNS = ("case", "metric", "baseline", "now", "delta", "limit", "result")


def report_rows(checks: Sequence[Check]) -> list[list[str]]:
    """The table as strings, in :data:`REPORT_COLUMNS` order (notes go after the result)."""
    out = []
    for c in checks:
        result = c.result if not c.note else f"{c.result}: {c.note}"
        out.append([c.case, c.metric, fmt(c.baseline), fmt(c.now), fmt_delta(c), c.limit, result])
    return out


def report_markdown(title: str, facts: Mapping[str, str], checks: Sequence[Check]) -> str:
    """The report as Markdown: a heading, the facts as a list, the table."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = [f"# {title}", ""]
    lines += [f"- **{k}**: {cell(v)}" for k, v in facts.items()]
    lines += ["", "| " + " | ".join(REPORT_COLUMNS) + " |", "|" + "---|" * len(REPORT_COLUMNS)]
    lines += ["| " + " | ".join(cell(s) for s in row) + " |" for row in report_rows(checks)]
    return "\n".join(lines) + "\n"


def report_html(title: str, facts: Mapping[str, str], checks: Sequence[Check]) -> str:
    """The report as a self-contained HTML page; failed rows are highlighted."""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in REPORT_COLUMNS)
    body = []
    for c, row in zip(checks, report_rows(checks)):
        cls = {"FAIL": "fail", "pass": "pass"}.get(c.result, "info")
        body.append(f'<tr class="{cls}">' + "".join(f"<td>{e(s)}</td>" for s in row) + "</tr>")
    fact_items = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in facts.items())
    style = (
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "tr.fail{background:#fdd}tr.pass{background:#efe}tr.info{color:#666}"
    )
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{style}</style></head><body>\n<h1>{e(title)}</h1>\n<ul>{fact_items}</ul>\n"
        f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>\n"
        "</body></html>\n"
    )


# --- measuring ------------------------------------------------------------------------------------


def _finite_max(values) -> float:
    """The largest value; ``inf`` when any is NaN (a NaN error is the worst error, not a missing one)."""
    values = [float(v) for v in values]
    return math.inf if any(math.isnan(v) for v in values) else max(values)


def measure_gradcheck(case: Case, ds, backward_fn) -> tuple[dict[str, float], list[dict], str]:
    """Manual vs autodiff (every tensor) and autodiff vs finite differences, at init and after training.

    Returns:
      ``({"max_rel_err", "fd_rel_err"}, table rows, the first failure's one-line description or "")``.
    """
    import jax
    import jax.numpy as jnp

    from backprop_core import init_params, precision, train_epoch
    from experiments.gradcheck import check_batch, check_gradients

    cfg = case.config
    tr, model = cfg.train, cfg.model
    with precision(tr.dtype) as dtype:
        init_key, shuffle_key, fd_key = jax.random.split(jax.random.key(tr.seed), 3)
        params = init_params(
            init_key, (ds.n_inputs, *model.hidden, ds.n_outputs), init=model.init, dtype=dtype
        )
        xb, yb = (jnp.asarray(a, dtype) for a in check_batch(ds.x_train, ds.y_train, tr.batch_size))

        def check(p, finite_differences: bool):
            return check_gradients(
                p, xb, yb, activation=model.activation, cost=model.cost, dtype=tr.dtype,
                backward_fn=backward_fn, finite_differences=finite_differences, key=fd_key,
            )  # fmt: skip

        # Central differences once, at init: they judge jax.grad itself, and each costs a compile.
        stages = [("init", check(params, True))]
        if case.epochs:
            # Trained with jax.grad, so a wrong manual pass cannot steer where the second check happens.
            x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
            for k in jax.random.split(shuffle_key, case.epochs):
                params, _ = train_epoch(
                    params, x, y, k, lr=jnp.asarray(tr.lr, dtype), batch_size=tr.batch_size,
                    activation=model.activation, cost=model.cost, grad="autodiff",
                )  # fmt: skip
            stages.append((f"after {case.epochs} epochs", check(params, False)))
    rows = [r for _, res in stages for r in res.rows]
    fd = [r.fd_rel_err for r in stages[0][1].rows if r.equation in ("BP3", "BP4")]
    measured = {"max_rel_err": _finite_max(r.rel_err for r in rows), "fd_rel_err": _finite_max(fd)}
    failure = next((f"{res.describe_failure()} at {name}" for name, res in stages if not res.ok), "")
    table = [row for name, res in stages for row in res.table(stage=name)]
    return measured, table, failure


def measure_throughput(case: Case, ds, backward_fn) -> dict[str, float]:
    """Manual vs ``jax.grad`` epochs, timed alternately after a warm-up; medians.

    Why pairs: each manual epoch is timed next to an autodiff one, in alternating order, so a burst
    of load from elsewhere on the machine hits both sides of the ratio.
    """
    import jax
    import jax.numpy as jnp

    from backprop_core import init_params, precision, train_epoch

    cfg = case.config
    tr, model = cfg.train, cfg.model
    with precision(tr.dtype) as dtype:
        init_key, key = jax.random.split(jax.random.key(tr.seed))
        params = init_params(
            init_key, (ds.n_inputs, *model.hidden, ds.n_outputs), init=model.init, dtype=dtype
        )
        x, y = jnp.asarray(ds.x_train, dtype), jnp.asarray(ds.y_train, dtype)
        lr = jnp.asarray(tr.lr, dtype)

        def timed(grad) -> float:
            t0 = time.perf_counter()
            out = train_epoch(
                params, x, y, key, lr=lr, batch_size=tr.batch_size,
                activation=model.activation, cost=model.cost, grad=grad,
            )  # fmt: skip
            jax.block_until_ready(out)
            return time.perf_counter() - t0

        manual = backward_fn if backward_fn is not None else "manual"
        timed(manual), timed("autodiff")  # compile both first: the warm-up is not measured
        manual_s, auto_s = [], []
        for i in range(case.repeats):
            if i % 2:
                auto_s.append(timed("autodiff"))
                manual_s.append(timed(manual))
            else:
                manual_s.append(timed(manual))
                auto_s.append(timed("autodiff"))
    n = ds.n_train
    return {
        "throughput_ratio": statistics.median(a / m for m, a in zip(manual_s, auto_s)),
        "manual_samples_per_sec": n / statistics.median(manual_s),
        "autodiff_samples_per_sec": n / statistics.median(auto_s),
    }


# --- the run --------------------------------------------------------------------------------------


@dataclass
class SuiteResult:
    """What a suite run produced: the parent run, every case's numbers, the report rows."""

    suite: Suite
    parent_run_id: str
    measured: dict[str, dict[str, float]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    child_runs: dict[str, str] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Every gated rule held."""
        return all(c.passed for c in self.checks)

    @property
    def failed_cases(self) -> list[str]:
        """Names of the cases with a failed rule, in suite order."""
        return list(dict.fromkeys(c.case for c in self.checks if not c.passed))


def _case_tags(case: Case) -> dict[str, str]:
    return {"bplab.kind": "regression", "regression.case": case.name, "regression.case_kind": case.kind}


def _run_train_case(case: Case, parent_run_id: str) -> tuple[dict[str, float], str | None, str]:
    """Trains the case as a child run; returns ``(numbers, run id, failure or "")``."""
    from experiments.errors import RunFailed
    from experiments.runner import train_run

    try:
        result = train_run(
            case.config,
            parent_run_id=parent_run_id,
            tags=_case_tags(case),
            run_name=case.name,
            show_progress=False,
        )
    except RunFailed as e:
        return {}, e.run_id, f"{e.kind}: {e.message}"
    measured = dict(result.final)
    measured["gradcheck/max_rel_err"] = float(result.gradcheck.max_rel_err)
    return measured, result.run_id, ""


def _run_measured_case(case: Case, parent_run_id: str, ds, backward_fn) -> tuple[dict, str, str]:
    """A gradcheck or throughput case as a child run that this module opens and closes."""
    from experiments import tracking

    run_id = tracking.start_run(
        case.config.experiment.name,
        run_name=case.name,
        parent_run_id=parent_run_id,
        tags=_case_tags(case),
    )
    status, failure = "FINISHED", ""
    try:
        tracking.log_params(run_id, case.config.flat())
        if case.kind == "gradcheck":
            measured, table, failure = measure_gradcheck(case, ds, backward_fn)
            tracking.log_dict(run_id, table, "gradcheck.json")
            tracking.log_table(run_id, table, "gradcheck_table.json")
            metrics = {f"gradcheck/{k}": v for k, v in measured.items() if math.isfinite(v)}
            if failure:
                status = "FAILED"
                tracking.set_tags(
                    run_id, {"bplab.failure": "gradient_mismatch", "bplab.failure_reason": failure}
                )
        else:
            measured = measure_throughput(case, ds, backward_fn)
            metrics = {f"throughput/{k}": v for k, v in measured.items()}
        tracking.log_metrics(run_id, metrics, step=0, synchronous=True)
    except KeyboardInterrupt:
        tracking.end_run(run_id, "KILLED")
        raise
    except Exception:
        tracking.end_run(run_id, "FAILED")
        raise
    tracking.end_run(run_id, status)
    return measured, run_id, failure


def run_case(case: Case, parent_run_id: str, ds, backward_fn) -> tuple[dict[str, float], str | None, str]:
    """Runs one case; returns ``(numbers, child run id, failure reason or "")``.

    An unexpected exception inside a case is a failed case, not the end of the suite: the nightly
    report should list every case.
    """
    try:
        if case.kind == "train":
            return _run_train_case(case, parent_run_id)
        return _run_measured_case(case, parent_run_id, ds, backward_fn)
    except Exception as e:
        return {}, None, f"exception: {type(e).__name__}: {' '.join(str(e).split())}"[:500]


def _facts(suite: Suite, baseline: Mapping[str, Any], env: Mapping[str, Any], fault: str | None) -> dict:
    base_env = baseline.get("environment", {})
    facts = {
        "suite": str(suite.path),
        "baseline": f"{suite.baseline_path} (updated {baseline.get('updated_at', 'never')}, "
        f"jax {base_env.get('jax_version', '?')} on {base_env.get('backend', '?')})",
        "now": f"jax {env['jax_version']} on {env['backend']} ({env['device_kind']}), "
        f"commit {env.get('git_commit', 'unknown')}",
    }
    if fault:
        facts["planted fault"] = f"BPLAB_FAULT={fault} (test-only seam)"
    return facts


def run_suite(suite: Suite, baseline: Mapping[str, Any], *, log=print) -> SuiteResult:
    """Runs every case under one parent run and logs the report; returns the result.

    Raises:
      BadInput: a case's data, an unknown ``BPLAB_FAULT``, an unreachable store or refused credentials
        (before any run opens).
      KeyboardInterrupt: SIGINT/SIGTERM; the parent run ends KILLED.
    """
    from experiments import faults, tracking
    from experiments.environment import environment
    from experiments.runner import prepare
    from experiments.signals import terminate_as_interrupt

    datasets = {case.name: prepare(case.config, track=True) for case in suite.cases}  # preflight
    fault = faults.active_fault()
    backward_fn = faults.backward_fn()
    env = environment()
    tags = {"bplab.kind": "regression", "regression.suite": suite.name}
    if fault:
        tags["bplab.fault"] = fault
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    parent = tracking.start_run(suite.name, run_name=f"{suite.name} {stamp}", tags=tags)
    result = SuiteResult(suite, parent)
    try:
        with terminate_as_interrupt():
            tracking.log_params(
                parent,
                {
                    "suite": str(suite.path),
                    "baseline": str(suite.baseline_path),
                    "cases": ",".join(c.name for c in suite.cases),
                    **env,
                },
            )
            for case in suite.cases:
                t0 = time.perf_counter()
                measured, child, failure = run_case(case, parent, datasets[case.name], backward_fn)
                rows = judge(case, measured, baseline.get("cases", {}).get(case.name, {}))
                if failure:
                    rows.insert(0, failed_run(case.name, failure))
                result.measured[case.name] = measured
                result.checks += rows
                if child:
                    result.child_runs[case.name] = child
                    ok = all(r.passed for r in rows)
                    tracking.set_tags(child, {"regression.case_passed": str(ok).lower()})
                verdict = "pass" if all(r.passed for r in rows) else "FAIL"
                log(f"case {case.name} ({case.kind}): {verdict} in {time.perf_counter() - t0:.1f}s")
            _log_report(result, baseline, env, fault)
    except KeyboardInterrupt:
        tracking.set_tags(parent, {"bplab.stop_reason": "interrupted (SIGINT or SIGTERM)"})
        tracking.end_run(parent, "KILLED")
        raise
    except BaseException as e:
        reason = f"{type(e).__name__}: {' '.join(str(e).split())}"[:500]
        tracking.set_tags(parent, {"bplab.failure": "exception", "bplab.failure_reason": reason})
        tracking.end_run(parent, "FAILED")
        raise
    return result


def report_title(result: SuiteResult) -> str:
    """``Regression suite `regression`: PASSED`` (or FAILED with the cases)."""
    verdict = "PASSED" if result.passed else f"FAILED ({', '.join(result.failed_cases)})"
    return f"Regression suite `{result.suite.name}`: {verdict}"


def _log_report(result: SuiteResult, baseline: Mapping[str, Any], env, fault: str | None) -> None:
    """Report artifacts, summary metrics, the ``regression.passed`` tag and the parent's status."""
    from experiments import tracking

    parent, checks = result.parent_run_id, result.checks
    title = report_title(result)
    facts = _facts(result.suite, baseline, env, fault)
    tracking.log_text(parent, report_markdown(title, facts, checks), "report.md")
    tracking.log_text(parent, report_html(title, facts, checks), "report.html")
    rows = [{k: v for k, v in zip(REPORT_COLUMNS, row)} for row in report_rows(checks)]
    tracking.log_dict(parent, rows, "report.json")
    tracking.log_metrics(
        parent,
        {
            "regression/checks": sum(c.gated for c in checks),
            "regression/failed_checks": sum(not c.passed for c in checks),
            "regression/failed_cases": len(result.failed_cases),
        },
        step=0,
        synchronous=True,
    )
    tags = {"regression.passed": str(result.passed).lower()}
    if not result.passed:
        tags["regression.failed_cases"] = ",".join(result.failed_cases)
        tags["bplab.failure"] = "regression"
        tags["bplab.failure_reason"] = "; ".join(f"{c.case} {c.metric}" for c in checks if not c.passed)[:500]
    tracking.set_tags(parent, tags)
    tracking.end_run(parent, "FINISHED" if result.passed else "FAILED")


# --- the `bplab regress` command ------------------------------------------------------------------


def _print_table(result: SuiteResult) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=report_title(result))
    for col in REPORT_COLUMNS:
        table.add_column(col, justify="right" if col in ("baseline", "now", "delta") else "left")
    for c, row in zip(result.checks, report_rows(result.checks)):
        table.add_row(*row, style="red" if not c.passed else None)
    Console(width=140).print(table)


def regress_command(suite: str | Path | None = None, *, update_baseline: bool = False) -> SuiteResult:
    """``bplab regress [SUITE] [--update-baseline]``.

    Raises:
      BadInput: a bad suite, case config or baseline file; an unreachable store (exit 2, no run).
      CheckFailed: a regression (exit 1); with ``--update-baseline``, an absolute rule that broke.
    """
    from experiments import tracking
    from experiments.environment import environment

    s = load_suite(resolve_suite_path(suite))
    baseline = load_baseline(s.baseline_path)
    result = run_suite(s, baseline)
    _print_table(result)
    url = tracking.run_url(result.parent_run_id)
    print(f"report: run {result.parent_run_id} (report.md, report.html): {url}")
    if update_baseline:
        broken = [c for c in result.checks if c.absolute and not c.passed]
        if broken:
            raise CheckFailed(
                f"not updating {s.baseline_path}: {broken[0].case} {broken[0].metric} broke "
                f"({broken[0].note or fmt(broken[0].now) + ' ' + broken[0].limit})"
            )
        write_baseline(s.baseline_path, baseline_document(s, result.measured, environment()))
        print(f"baseline updated: {s.baseline_path}")
        return result
    if not result.passed:
        first = next(c for c in result.checks if not c.passed)
        detail = first.note or f"now {fmt(first.now)}, baseline {fmt(first.baseline)}, limit {first.limit}"
        raise CheckFailed(
            f"regression in {', '.join(result.failed_cases)}: {first.case} {first.metric}: {detail} "
            f"(report: {url})"
        )
    print(f"regression suite passed: {sum(c.gated for c in result.checks)} checks", file=sys.stdout)
    return result
