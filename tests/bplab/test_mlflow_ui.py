"""What a new user gets from the real CLI, seen in a real browser and a real model server.

``bplab train --system-metrics`` and ``bplab gradcheck`` run in a fresh folder, ``bplab ui --port``
serves it (until SIGTERM, which stops its MLflow server too); every printed URL opens in a fresh
Chromium profile on the training views (never on MLflow 3's GenAI pages); the run has its dataset,
source tags, system metrics and a LoggedModel, which ``mlflow models serve`` answers for float,
integer and DataFrame input. Screenshots land in ``/tmp/ui_*.png``.
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS
from tests.support.processes import BPLAB, REPO, VENV_BIN, Procs, bplab, clean_env, free_port, wait_for

pytestmark = pytest.mark.integration

GENAI_ONLY = ("Evaluation runs", "Judges")  # in the GenAI sidebar, never in the training one
URL = re.compile(r"https?://\S+")


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """A folder where ``bplab train`` and ``bplab gradcheck`` ran, served by ``bplab ui --port``."""
    folder = tmp_path_factory.mktemp("cli")
    port = free_port()
    env = clean_env(BPLAB_UI_URL=f"http://127.0.0.1:{port}")
    config = REPO / "experiments" / "configs" / "digits.toml"
    procs = Procs(folder)
    try:
        # The store's schema is made first, so that the two commands below do not both make it.
        client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
        client.search_experiments()
        check = procs.start([BPLAB, "gradcheck", config, "--epochs", "1"], cwd=folder, env=env)
        train = bplab(["train", config, "--set", "train.epochs=2", "--system-metrics"], cwd=folder, env=env)
        assert train.returncode == 0, train.stderr[-3000:]
        ui = procs.start([BPLAB, "ui", "--port", str(port)], cwd=folder, env=clean_env(), name="ui")
        check_out, check_err = check.communicate(timeout=600)
        assert check.returncode == 0, check_err[-3000:]
        printed = re.compile(r"MLflow UI for \S+: (\S+)")
        line = wait_for(lambda: printed.search(procs.log_tail(ui)), timeout=120, what="the UI", proc=ui)
        yield {
            "folder": folder,
            "port": port,
            "client": client,
            "ui": line.group(1),
            "ui_process": ui,
            "train": URL.findall(train.stdout)[-1],
            "gradcheck": URL.findall(check_out)[-1],
        }
    finally:
        procs.stop_all()


def _run(cli, kind: str):
    runs = cli["client"].search_runs(
        [e.experiment_id for e in cli["client"].search_experiments()], f"tags.`bplab.kind` = '{kind}'"
    )
    assert len(runs) == 1
    return runs[0]


def test_printed_urls_use_the_ui_port_and_open_on_training(cli):
    run = _run(cli, "run")
    exp = run.info.experiment_id
    base = f"http://127.0.0.1:{cli['port']}/#/experiments/{exp}"
    assert cli["ui"] == f"{base}/runs?workflowType=machine_learning"
    assert cli["train"] == f"{base}/runs/{run.info.run_id}?workflowType=machine_learning"
    check = _run(cli, "gradcheck").info.run_id
    assert cli["gradcheck"] == f"{base}/runs/{check}?workflowType=machine_learning"


def test_the_run_follows_mlflow_conventions(cli):
    run = _run(cli, "run")
    assert re.fullmatch(r"digits-h30-lr3-[0-9a-f]{4}", run.info.run_name)
    assert run.data.tags["mlflow.source.name"] == "bplab train" and run.data.tags["mlflow.user"]
    assert "system/cpu_utilization_percentage" in run.data.metrics
    contexts = {d.tags[0].value: d.dataset for d in run.inputs.dataset_inputs}
    assert sorted(contexts) == ["test", "training", "validation"]
    assert json.loads(contexts["training"].profile)["features_shape"][1] == 64
    models = cli["client"].search_logged_models([run.info.experiment_id])
    assert [(m.name, m.source_run_id) for m in models] == [("model", run.info.run_id)]
    assert {m.key for m in models[0].metrics} >= {"val_accuracy", "test_accuracy"}


def _page_text(browser, url: str, shot: str, expect: str) -> str:
    """The page's text once ``expect`` shows, in a fresh profile (a new context); screenshot kept."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_text(expect, exact=False).first.wait_for(timeout=60_000)
        text = _settled_text(page)
        page.screenshot(path=f"/tmp/ui_{shot}.png")
        return text
    finally:
        context.close()


def _settled_text(page, *, quiet_ms: int = 300, timeout_s: float = 30) -> str:
    """The page's text once it stays the same for ``quiet_ms``: the sidebar picks its workflow only
    after the page's data arrive, and MLflow's UI keeps polling, so the network never goes idle."""
    deadline = time.monotonic() + timeout_s
    text = page.inner_text("body")
    while time.monotonic() < deadline:
        page.wait_for_timeout(quiet_ms)  # polling interval, not synchronisation: equal texts decide
        text, before = page.inner_text("body"), text
        if text == before:
            return text
    pytest.fail(f"the page kept changing for {timeout_s} s")


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_every_printed_url_shows_runs_not_genai_pages(cli, browser):
    run = _run(cli, "run")
    pages = {
        "runs_table": (cli["ui"], run.info.run_name),
        "train_run": (cli["train"], "train_loss"),
        "gradcheck_run": (cli["gradcheck"], "gradcheck/max_rel_err"),
    }
    texts = {shot: _page_text(browser, url, shot, expect) for shot, (url, expect) in pages.items()}
    for shot, text in texts.items():
        assert "Model training" in text, shot
        assert not [w for w in GENAI_ONLY if w in text], f"{shot}: GenAI pages in {pages[shot][0]}"
    assert run.info.run_id in texts["train_run"]
    assert f"{run.data.metrics['train_loss']}"[:6] in texts["train_run"]  # the metrics table, with values
    models = cli["ui"].replace("/runs?", "/models?")
    assert "model" in _page_text(browser, models, "models_tab", "Models")
    # The same table without the query opens a fresh profile on GenAI: the check above can fail.
    bare = _page_text(browser, cli["ui"].split("?")[0], "bare_genai", run.info.run_name)
    assert all(w in bare for w in GENAI_ONLY)


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_mlflow_models_serve_answers_every_input_kind(cli):
    run = _run(cli, "run")
    port = free_port()
    procs = Procs(cli["folder"])
    serve = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", f"runs:/{run.info.run_id}/model"]
    env = clean_env(MLFLOW_TRACKING_URI=f"sqlite:///{cli['folder'] / 'mlflow.db'}")
    try:
        server = procs.start(
            [*serve, "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
            cwd=cli["folder"], env=env, name="serve",
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_for(up, timeout=180, what="mlflow models serve", proc=server)
        floats = [[float(i % 17) for i in range(64)], [0.5] * 64]
        ints = [[i % 17 for i in range(64)], [0] * 64]
        columns = [f"pixel{i}" for i in range(64)]
        answers = {
            "float": _post(f"{url}/invocations", {"inputs": floats}),
            "int": _post(f"{url}/invocations", {"inputs": ints}),
            "dataframe": _post(f"{url}/invocations", {"dataframe_split": {"columns": columns, "data": ints}}),
        }
        for kind, (status, body) in answers.items():
            assert status == 200, (kind, body)
            assert np.asarray(body["predictions"]).shape == (2, 10), kind
        np.testing.assert_allclose(
            answers["int"][1]["predictions"], answers["dataframe"][1]["predictions"], rtol=1e-5
        )
        status, body = _post(f"{url}/invocations", {"inputs": [[1.0] * 10]})
        assert status == 400 and "missing inputs" in body["message"]  # too narrow: refused, not guessed
    finally:
        procs.stop_all()


def test_sigterm_stops_the_ui_and_its_server(cli):
    # Last in this file: it stops the server the tests above share.
    health = f"http://127.0.0.1:{cli['port']}/health"
    with urllib.request.urlopen(health, timeout=10) as r:
        assert r.status == 200
    ui = cli["ui_process"]
    ui.send_signal(signal.SIGTERM)
    ui.wait(timeout=30)
    with pytest.raises(OSError):  # the MLflow server went away with it
        urllib.request.urlopen(health, timeout=2)
    # The browser tests above loaded pages from it: the terminal got none of its requests, nor the
    # deprecation warning of MLflow's own imports; the URL line is there.
    output = Path(ui.log).read_text()
    assert "MLflow UI for " in output
    assert not re.search(r'"(GET|POST) /', output) and "StarletteDeprecationWarning" not in output, output
