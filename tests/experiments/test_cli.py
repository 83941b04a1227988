"""`bplab train | gradcheck | ui`: the real CLI, read back with MlflowClient.

One subprocess per verb wires the exit codes (marked ``integration``; ``bplab ui``'s is in
``tests/bplab/test_mlflow_ui.py``, which shares its server with the browser tests); bad input is
tested in-process against the function that refuses it, and a planted bug enters the in-process CLI
through ``grad=``.
"""

from __future__ import annotations

import functools
import json
import signal
import socket
import subprocess
import time

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from backprop_core import predict
from bplab.app import main
from experiments.config import load_config
from experiments.data import load_dataset
from experiments.errors import BadInput
from experiments.gradcheck.command import run_gradcheck
from experiments.run import train_run
from experiments.tracking import load_weights
from tests.mutants import bp2_no_sigma_prime
from tests.sweeps.inprocess import bplab_main

from .conftest import BPLAB, CONFIGS, clean_env, free_port, run_bplab

EPOCHS = 2


def _client(tmp_path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")


def _only_run(client: MlflowClient, experiment: str):
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1
    return runs[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One real `bplab train` on iris in a fresh folder (default store), shared by the read-back tests."""
    folder = tmp_path_factory.mktemp("train")
    config = folder / "iris.toml"
    config.write_text(
        '[experiment]\nname = "iris-test"\n\n[data]\ndataset = "iris"\n\n'
        '[model]\nhidden = [5]\ninit = "scaled"\n\n'
        f"[train]\nlr = 0.5\nbatch_size = 8\nepochs = {EPOCHS}\ngradcheck_every = 1\n",
        encoding="utf-8",
    )
    jax_cache = folder / "jax-cache"  # its own, to see what this run leaves in it
    proc = run_bplab(["train", config, "--set", "train.seed=3"], folder, BPLAB_JAX_CACHE=str(jax_cache))
    assert proc.returncode == 0, proc.stderr
    client = MlflowClient(f"sqlite:///{folder / 'mlflow.db'}")
    return folder, proc, client, _only_run(client, "iris-test")


@pytest.mark.integration
def test_train_prints_progress_and_the_run(trained):
    _, proc, _, run = trained
    lines = proc.stdout.splitlines()
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    assert run.info.run_id in proc.stdout
    assert "test_accuracy=" in proc.stdout


@pytest.mark.integration
def test_train_leaves_its_compiled_programs_in_the_private_cache(trained):
    folder = trained[0]
    cache = folder / "jax-cache"
    assert cache.stat().st_mode & 0o777 == 0o700
    assert len(list(cache.iterdir())) >= 3  # the epoch, evaluation and the gradient check at least


@pytest.mark.integration
def test_default_store_is_sqlite_and_mlartifacts_in_the_working_folder(trained):
    folder, _, _, run = trained
    assert (folder / "mlflow.db").is_file()
    assert run.info.artifact_uri.startswith((folder / "mlartifacts").as_uri())
    assert not (folder / "mlruns").exists()


@pytest.mark.integration
def test_status_and_tags(trained):
    _, _, _, run = trained
    assert run.info.status == "FINISHED"
    assert run.data.tags["bplab.kind"] == "run"
    assert run.data.tags["bplab.grad"] == "manual"


@pytest.mark.integration
def test_params_hold_the_resolved_config_and_the_environment(trained):
    _, _, _, run = trained
    p = run.data.params
    assert p["train.seed"] == "3" and p["train.lr"] == "0.5" and p["model.hidden"] == "[5]"
    assert p["data.dataset"] == "iris" and p["model.init"] == "scaled"
    assert p["n_params"] == str(4 * 5 + 5 + 5 * 3 + 3)
    for key in ("jax_version", "backend", "device_kind", "git_commit"):
        assert p[key]


@pytest.mark.integration
def test_one_metric_point_per_epoch_for_each_name(trained):
    _, _, client, run = trained
    per_epoch = ["train_loss", "val_loss", "val_accuracy", "samples_per_sec", "gradcheck/max_rel_err"]
    for l in (1, 2):
        per_epoch += [f"grad_norm/W{l}", f"grad_norm/b{l}", f"saturation/layer{l}", f"gradcheck/rel_err/W{l}"]
    for name in per_epoch:
        history = client.get_metric_history(run.info.run_id, name)
        assert sorted(m.step for m in history) == list(range(1, EPOCHS + 1)), name
    for name in ("test_loss", "test_accuracy"):
        assert [m.step for m in client.get_metric_history(run.info.run_id, name)] == [EPOCHS]
    assert run.data.metrics["gradcheck/max_rel_err"] <= 1e-4


@pytest.mark.integration
def test_artifacts(trained, tmp_path):
    _, _, client, run = trained
    rid = run.info.run_id
    top = {a.path for a in client.list_artifacts(rid)}
    assert {"config.toml", "params.npz", "plots", "gradcheck.json", "gradcheck_table.json"} <= top
    models = client.search_logged_models([run.info.experiment_id])  # the model is a LoggedModel
    assert [m.source_run_id for m in models if m.source_run_id == rid] == [rid]
    assert {a.path for a in client.list_artifacts(rid, "plots")} == {"plots/loss.png", "plots/grad_norms.png"}
    local = client.download_artifacts(rid, "", str(tmp_path))
    for png in ("plots/loss.png", "plots/grad_norms.png"):
        assert (tmp_path / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = json.loads((tmp_path / "gradcheck.json").read_text())
    assert {row["equation"] for row in table} == {"BP1", "BP2", "BP3", "BP4"}
    assert all(row["ok"] for row in table)
    logged_table = json.loads((tmp_path / "gradcheck_table.json").read_text())
    assert "tensor" in logged_table["columns"]  # mlflow.log_table's format
    assert "gradcheck_table.json" in run.data.tags["mlflow.loggedArtifacts"]
    params, _, _ = load_weights(tmp_path / "params.npz")  # allow_pickle=False inside
    assert [W.shape for W, _ in params] == [(5, 4), (3, 5)]
    assert local


@pytest.mark.integration
def test_logged_config_runs_again(trained, tmp_path):
    _, _, client, run = trained
    path = client.download_artifacts(run.info.run_id, "config.toml", str(tmp_path))
    cfg = load_config(path)
    assert cfg.train.seed == 3 and cfg.model.hidden == (5,)
    assert cfg.to_dict() == load_config(path).to_dict()
    # Trained again (in-process, untracked: the CLI path is the `trained` fixture), the same run.
    again = train_run(cfg, track=False)
    assert again.final["test_loss"] == pytest.approx(run.data.metrics["test_loss"], rel=1e-5)


@pytest.mark.integration
def test_pyfunc_round_trip(trained, tmp_path):
    _, _, client, run = trained
    models = client.search_logged_models([run.info.experiment_id])
    logged = [m for m in models if m.source_run_id == run.info.run_id]
    model = mlflow.pyfunc.load_model(logged[0].artifact_location)
    cfg = load_config(client.download_artifacts(run.info.run_id, "config.toml", str(tmp_path)))
    ds = load_dataset(cfg.data, cfg.train.seed)
    raw_x = ds.x_test * ds.x_scale + ds.x_shift  # the model takes unscaled inputs
    out = np.asarray(model.predict(raw_x))
    assert out.shape == (len(ds.x_test), 3)
    params, _, _ = load_weights(client.download_artifacts(run.info.run_id, "params.npz", str(tmp_path)))
    expected = np.asarray(predict(params, ds.x_test.astype(np.float32)))
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    accuracy = np.mean(out.argmax(1) == ds.y_test.argmax(1))
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


@pytest.mark.integration
def test_sigterm_leaves_the_run_killed(tmp_path):
    proc = subprocess.Popen(
        [str(BPLAB), "train", str(CONFIGS / "xor.toml"), "--set", "train.epochs=1000000"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("epoch 1/")  # the run is open and training
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    run = _only_run(_client(tmp_path), "xor")
    assert run.info.status == "KILLED"
    assert "SIGTERM" in run.data.tags["bplab.stop_reason"]
    assert "Traceback" not in err


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


BAD = {
    "unknown key": ("ok", ["--set", "train.momentum=0.9"], "train.momentum"),
    "unknown key in file": ("[train]\nlearning_rate = 1.0\n", [], "train.learning_rate"),
    "wrong type": ("ok", ["--set", 'train.epochs="ten"'], "train.epochs"),
    "lr <= 0": ("ok", ["--set", "train.lr=0"], "train.lr"),
    "zero width": ("ok", ["--set", "model.hidden=[30,0]"], "model.hidden"),
    "epochs < 1": ("ok", ["--set", "train.epochs=0"], "train.epochs"),
    "batch > train set": ("ok", ["--set", "train.batch_size=100000"], "train.batch_size"),
    "unknown activation": ("ok", ["--set", "model.activation=swish"], "model.activation"),
    "unknown cost": ("ok", ["--set", "model.cost=hinge"], "model.cost"),
    "unknown dataset": ("ok", ["--set", "data.dataset=mnist"], "data.dataset"),
    "softmax on one real output": (
        "ok",
        ["--set", "data.dataset=diabetes", "--set", "model.cost=softmax_cross_entropy"],
        "model.cost",
    ),
    "toml syntax": ("[train\nlr = 1\n", [], "TOML syntax error"),
    "missing config": (None, [], "no such config file"),
    "missing data file": ("ok", ["--set", "data.dataset=file", "--set", "data.path=nope.csv"], "data.path"),
}


def _bad_config(tmp_path, case):
    text, args, needle = BAD[case]
    if text is None:
        config = tmp_path / "missing.toml"
    elif text == "ok":
        config = _write(tmp_path, "c.toml", '[data]\ndataset = "iris"\n[train]\nepochs = 2\n')
    else:
        config = _write(tmp_path, "c.toml", text)
    return config, [a for a in args if a != "--set"], needle


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_naming_the_file_and_writes_nothing(tmp_path, monkeypatch, case):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config, overrides, needle = _bad_config(tmp_path, case)
    with pytest.raises(BadInput) as e:
        train_run(load_config(config, overrides))
    message = str(e.value)
    assert "\n" not in message
    assert config.name in message and needle in message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([config.name] if config.exists() else [])


def test_bad_input_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    # In-process `bplab train` (the binary's exit codes are wired by the `trained` and SIGTERM tests).
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config, _, _ = _bad_config(tmp_path, "unknown key")
    with pytest.raises(SystemExit) as e:
        main(["train", str(config), "--set", "train.momentum=0.9"])
    out, err = capsys.readouterr()
    assert e.value.code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("bplab: error: ") and "train.momentum" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def test_unreachable_server_is_refused_within_about_10_seconds(tmp_path, monkeypatch):
    port = free_port()  # nothing listens there
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    config = _write(tmp_path, "c.toml", '[data]\ndataset = "iris"\n[train]\nepochs = 2\n')
    t0 = time.monotonic()
    with pytest.raises(BadInput) as e:
        train_run(load_config(config))
    elapsed = time.monotonic() - t0
    assert f"cannot reach MLflow at http://127.0.0.1:{port}" in str(e.value)
    assert 8 <= elapsed < 30  # retried for ~10 s, then gave up
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


# Through the in-process CLI once; every planted bug (BP1–BP4) is located in test_gradcheck.py.
def test_gradcheck_names_the_planted_bug(tmp_path, monkeypatch, capsys, sqlite_store):
    config = _write(
        tmp_path, "c.toml", '[data]\ndataset = "xor"\n[model]\nhidden = [3, 2]\n[train]\nbatch_size = 4\n'
    )
    monkeypatch.setattr(
        "bplab.gradcheck.run_gradcheck", functools.partial(run_gradcheck, grad=bp2_no_sigma_prime)
    )
    with pytest.raises(SystemExit) as e:
        main(["gradcheck", str(config), "--x64", "--epochs", "1"])
    out, err = capsys.readouterr()
    assert e.value.code == 1, err
    assert err.strip().splitlines()[-1].startswith("bplab: check failed: BP2 disagrees")
    assert "FAIL" in out and "after 1 epoch" in out
    run = _only_run(_client(tmp_path), "default")
    assert run.info.status == "FAILED"
    assert run.data.tags["bplab.kind"] == "gradcheck"
    assert run.data.tags["bplab.fault"] == "bp2_no_sigma_prime"
    assert run.data.tags["bplab.gradcheck.equation"] == "BP2"
    assert "gradcheck.json" in {a.path for a in _client(tmp_path).list_artifacts(run.info.run_id)}


# In-process; the binary's exit 0 is tests/bplab/test_mlflow_ui.py's (it runs `bplab gradcheck`).
def test_gradcheck_passes_on_the_real_backward_pass(tmp_path, capsys, sqlite_store):
    rc, out, err = bplab_main(["gradcheck", CONFIGS / "xor.toml", "--x64", "--epochs", "1"], capsys)
    assert rc == 0, err
    assert "ok: manual gradients agree with jax.grad within 1e-10 (float64)" in out
    for equation in ("BP1", "BP2", "BP3", "BP4"):
        assert equation in out
    run = _only_run(_client(tmp_path), "xor")
    assert run.info.status == "FINISHED" and run.data.tags["bplab.kind"] == "gradcheck"
    assert run.data.metrics["gradcheck/max_rel_err"] <= 1e-10


def test_ui_refuses_a_busy_port(tmp_path, monkeypatch, capsys):
    # In-process: the port is checked before any server starts (the binary: tests/bplab/test_mlflow_ui.py).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(SystemExit) as e:
            main(["ui", "--port", str(s.getsockname()[1])])
    assert e.value.code == 2
    assert "in use" in capsys.readouterr().err.strip().splitlines()[-1]
