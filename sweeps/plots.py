"""The study's plots as one page that renders with no network: plotly.js is embedded once, inline.

Optuna's plotly figures (history, importances, parallel coordinates, slice, and a contour of the two
most important params) share one HTML file, ``plots/study.html`` (~4.8 MB, nearly all of it
plotly.js), rendered once when the sweep ends. Measured on a 30-trial digits study: one page per
plot would embed plotly five times (~4.7 MB each, 24 MB); a shared ``plotly.min.js`` beside the
pages does not load in MLflow's artifact viewer, which shows HTML from a ``blob:`` URL; PNGs through
Optuna's matplotlib backend are small (~0.4 MB in all) but take ~3.5 s to draw against ~0.4 s here,
on the sweep's wall time, and lose the hover that names each trial's params.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import importlib.abc
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna

PAGE = "study.html"
# Optuna's ``plot_<name>`` functions, looked up when drawing: ``optuna.visualization`` is imported on
# first use, and it costs ~0.9 s (plotly, matplotlib) that workers and the trials never need.
PLOTS = ("optimization_history", "param_importances", "parallel_coordinate", "slice")
# What drawing imports: ~0.6 s on 2 cores, after `import optuna` (and MLflow, JAX).
PLOT_MODULES = ("optuna.visualization", "optuna.importance")
# Optuna's importance package also imports scikit-learn (1.2 s more, measured beside the above) for
# its fANOVA and mean-decrease-impurity evaluators, which the plots never use: the importances are
# PED-ANOVA's, Optuna's default. Optuna defers an optional import that fails until its evaluator
# is built, so that import is refused while the plotting modules load.
UNUSED = "sklearn"


class _RefusedToThread(importlib.abc.MetaPathFinder):
    """Refuses one top-level package to one thread; any other thread imports it as usual."""

    def __init__(self, name: str, thread: int) -> None:
        self.name, self.thread = name, thread

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name and threading.get_ident() == self.thread:
            raise ModuleNotFoundError(f"{fullname} is not imported for the plots", name=fullname)
        return None  # the next finder's


@contextlib.contextmanager
def _refused(name: str) -> Iterator[None]:
    """``name`` cannot be imported by this thread inside the block (unless it already is)."""
    finder = _RefusedToThread(name, threading.get_ident())
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_plotting() -> None:
    """Imports what :func:`write_plots` needs, so that a thread can do it while trials train."""
    with _refused(UNUSED):
        for name in PLOT_MODULES:
            importlib.import_module(name)


def _most_important(importances_figure, k: int = 2) -> list[str]:
    """The ``k`` params with the largest bars of Optuna's importances figure (computed once)."""
    bars = importances_figure.data[0]
    return [name for _, name in sorted(zip(bars.x, bars.y, strict=True), reverse=True)[:k]]


def figures(study: optuna.Study) -> tuple[dict[str, object], dict[str, str]]:
    """Optuna's figures of ``study`` by name, and ``{plot: reason}`` for those it refused."""
    import_plotting()  # done already where a thread did it while trials trained
    made, skipped = {}, {}
    for name in PLOTS:
        plot = getattr(optuna.visualization, f"plot_{name}")
        try:
            with warnings.catch_warnings():  # "few trials per regime": true, and said in the tags
                warnings.simplefilter("ignore")
                made[name] = plot(study)
        except Exception as e:  # Optuna refuses some plots on too few or identical trials
            skipped[name] = " ".join(str(e).split())[:200] or type(e).__name__
    importances = made.get("param_importances")
    if importances is not None and importances.data and len(importances.data[0].y) >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            made["contour"] = optuna.visualization.plot_contour(study, params=_most_important(importances))
    else:
        skipped["contour"] = "needs the importances of two params"
    return made, skipped


def write_plots(study: optuna.Study, folder: Path) -> dict[str, str]:
    """Writes ``folder/study.html`` with every plot Optuna makes; returns ``{plot: reason}`` skipped."""
    made, skipped = figures(study)
    if not made:
        return skipped
    folder.mkdir(parents=True, exist_ok=True)
    sections = [
        f'<h2 id="{name}">{name.replace("_", " ")}</h2>\n'
        + fig.to_html(full_html=False, include_plotlyjs=i == 0, div_id=f"plot-{name}")
        for i, (name, fig) in enumerate(made.items())
    ]
    title = html.escape(f"Optuna study {study.study_name}")
    page = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
    (folder / PAGE).write_text(page, encoding="utf-8")
    return skipped
