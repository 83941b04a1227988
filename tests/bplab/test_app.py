"""CLI conventions, in-process: examples and environment in every ``--help``, ``--version``,
completion, bare ``key=value`` overrides, and ``bplab config`` (its JSON Schema included)."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from importlib.metadata import version

import pytest
from typer.testing import CliRunner

from bplab.app import app, main
from experiments.collector import THRESHOLDS
from tests.support.processes import CONFIGS

VERBS = ("train", "gradcheck", "ui", "sweep", "worker", "regress", "schedule", "replay", "bench", "best")
VERBS += ("dashboard", "config")
runner = CliRunner()


def _help(*args: str) -> str:
    result = runner.invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_shows_an_example(verb):
    assert f"$ bplab {verb}" in _help(verb)


@pytest.mark.parametrize("verb", ["sweep", "worker", "best", "dashboard"])
def test_the_storage_environment_variable_is_declared(verb):
    assert "env var: BPLAB_OPTUNA_STORAGE" in _help(verb)


@pytest.mark.parametrize("verb", ["train", "gradcheck", "sweep", "replay", "best"])
def test_the_tracking_store_variable_is_named(verb):
    assert "MLFLOW_TRACKING_URI" in _help(verb)


def test_version_and_completion():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"bplab {version('backprop-lab')}"
    assert "--install-completion" in _help() and "--show-completion" in _help()


def _main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


def test_main_sets_the_collector_thresholds_before_the_verb_runs():
    gc.set_threshold(700, 10, 10)  # CPython's default
    try:
        assert _main(["--version"]) == 0
        assert gc.get_threshold() == THRESHOLDS
    finally:
        gc.set_threshold(*THRESHOLDS)  # this process's setting (tests/conftest.py)


@pytest.mark.integration
def test_bplab_runs_its_exit_handlers_but_leaves_the_last_collection_nothing(tmp_path):
    # The last collection, over every live object of JAX and MLflow, took 1.1-1.3 s of each command.
    script = """
import atexit, gc
from bplab.app import main

class Cycle:
    def __del__(self):
        print("collected at exit", flush=True)

gc.disable()  # so that only the collection at exit could find it
cycle = Cycle(); cycle.me = cycle; del cycle
atexit.register(print, "exit handler ran", flush=True)
main(["--version"])
"""
    r = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert r.returncode == 0, r.stderr
    assert "exit handler ran" in r.stdout and "collected at exit" not in r.stdout


def test_bare_overrides_apply_after_set(capsys):
    digits = str(CONFIGS / "digits.toml")
    assert _main(["config", digits, "train.lr=0.5", "model.hidden=[12]", "--set", "train.lr=9.0"]) == 0
    out = capsys.readouterr().out
    assert "lr = 0.5" in out and "12," in out
    assert _main(["config", digits, "lr"]) == 2
    assert "override 'lr' must look like key=value" in capsys.readouterr().err


def test_config_checks_the_sweep_table_too(capsys):
    assert _main(["config", str(CONFIGS / "digits.toml"), 'sweep.pruner="early"']) == 2
    assert "sweep.pruner must be one of median, percentile, asha" in capsys.readouterr().err


def test_config_schema_covers_the_sections_and_the_sweep_space(capsys):
    assert _main(["config", "--schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["$schema"].endswith("2020-12/schema")
    assert set(schema["properties"]) == {"experiment", "data", "model", "train", "sweep"}
    space = schema["properties"]["sweep"]["properties"]["space"]
    assert "width_step" in space["properties"] and "choices" in space["additionalProperties"]["properties"]


@pytest.mark.parametrize(
    "argv, line",
    [
        (["sweep", "x.toml", "--bogus"], "No such option: --bogus (see 'bplab sweep --help')"),
        (["sweep"], "Missing argument 'config'. (see 'bplab sweep --help')"),
        (["nosuchverb"], "No such command 'nosuchverb'. (see 'bplab --help')"),
        (
            ["sweep", str(CONFIGS / "digits.toml"), "--population", "0"],
            "Invalid value for '--population': Input should be greater than or equal to 1 "
            "(see 'bplab sweep --help')",
        ),
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(argv, line, capsys):
    assert _main(argv) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"bplab: error: {line}\n")


def test_bplab_alone_shows_its_help(capsys):
    assert _main([]) == 2
    out, err = capsys.readouterr()
    assert "Usage: bplab [OPTIONS] COMMAND [ARGS]..." in out + err and "Commands" in out + err
