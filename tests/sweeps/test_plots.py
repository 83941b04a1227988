"""Every plot artifact renders in a browser with the network blocked: the study page and the run PNGs;
drawing them imports neither scikit-learn (the study page) nor pyplot (the PNGs)."""

from __future__ import annotations

import functools
import http.server
import math
import threading
from pathlib import Path

import optuna
import pytest

from experiments import plots
from sweeps.plots import PAGE, write_plots
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import python_prints

pytestmark = pytest.mark.integration


def _study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 0.3, 10, log=True)
        width = trial.suggest_int("width_1", 32, 256, step=32)
        trial.suggest_categorical("init", ["normal", "scaled"])
        return 0.9 - abs(math.log(lr / 3)) / 10 + width / 1e4

    study.optimize(objective, n_trials=12)
    return study


@pytest.fixture
def served(tmp_path: Path):
    """The plot files in ``tmp_path`` served on 127.0.0.1 by a thread; yields the base URL."""
    history = [{"train_loss": 1 / e, "val_loss": 1.2 / e, "grad_norm/W1": 0.1 * e} for e in range(1, 6)]
    plots.loss_curves(history, tmp_path / "loss.png")
    plots.grad_norms(history, tmp_path / "grad_norms.png")
    assert write_plots(_study(), tmp_path) == {}
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_the_study_page_is_self_contained(tmp_path):
    write_plots(_study(), tmp_path)
    page = (tmp_path / PAGE).read_text()
    assert "<script src=" not in page  # nothing loaded from elsewhere
    assert 3_000_000 < len(page) < 6_000_000  # plotly.js inline, once (~4.7 MB a copy)
    assert all(f'id="{name}"' in page for name in ("optimization_history", "slice", "contour"))


def test_every_plot_renders_with_the_network_blocked(served):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(served):
            return r.continue_()
        blocked.append(r.request.url)
        return r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.route("**/*", route)
            page.goto(f"{served}/{PAGE}", timeout=60_000)
            page.wait_for_function(
                "document.querySelectorAll('.plot-container svg').length >= 5", timeout=60_000
            )
            assert page.evaluate("document.querySelectorAll('.js-plotly-plot').length") == 5
            assert (
                page.evaluate(
                    "document.querySelectorAll('.plot-container .point, .plot-container path').length"
                )
                > 0
            )
            for png in ("loss.png", "grad_norms.png"):
                page.goto(f"{served}/{png}", timeout=60_000)
                assert page.evaluate("document.images[0].complete && document.images[0].naturalWidth") > 0
        finally:
            browser.close()
    assert blocked == []  # nothing tried to reach a CDN


def test_a_study_with_no_complete_trial_still_gets_its_page(tmp_path):
    """An all-failed sweep must not crash its finalize: importances are empty, the contour is skipped."""
    study = optuna.create_study()
    for _ in range(2):
        study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    skipped = write_plots(study, tmp_path)
    assert "contour" in skipped


# In a fresh process: the test's own may have imported scikit-learn already, and then nothing refuses it.
UNUSED_IMPORT = """
import sys, tempfile, threading
from pathlib import Path
from sweeps import plots
from tests.sweeps.test_plots import _study
page = Path(tempfile.mkdtemp()) / plots.PAGE
print(plots.write_plots(_study(), page.parent), 'id="param_importances"' in page.read_text())
print("sklearn" in sys.modules)
with plots._refused("sklearn"):
    try:
        import sklearn
    except ModuleNotFoundError:
        print("refused here")
    elsewhere = threading.Thread(target=__import__, args=("sklearn.ensemble",))
    elsewhere.start()
    elsewhere.join()
    print("sklearn" in sys.modules)
"""


def test_the_importances_are_drawn_without_importing_scikit_learn_and_only_that_thread_is_refused():
    out = python_prints(UNUSED_IMPORT)
    assert out.split("\n")[:4] == ["{} True", "False", "refused here", "True"], out


RUN_PNGS = """
import sys, tempfile
from pathlib import Path
from experiments import plots
history = [{"train_loss": 0.4 * 0.8**e, "val_loss": 0.5 * 0.8**e, "val_accuracy": 0.9} for e in range(5)]
path = plots.loss_curves(history, Path(tempfile.mkdtemp()) / "loss.png")
print(path.read_bytes()[:4] == b"\\x89PNG", "matplotlib.pyplot" in sys.modules)
"""


def test_a_runs_pngs_leave_pyplot_and_its_backend_alone():
    """A notebook that imports bplab keeps its own matplotlib backend and figure registry."""
    out = python_prints(RUN_PNGS)
    assert out.split() == ["True", "False"], out
