"""``bplab best``: the best trial's params, value and config file, in-process and through the binary."""

from __future__ import annotations

import pytest

from bplab.app import main
from experiments.config import load_config
from tests.bplab.studies import finished_study
from tests.support.processes import run_bplab


def _main(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


def test_best_prints_the_best_trial_and_writes_a_config_that_trains_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    journal = finished_study(tmp_path)
    out = tmp_path / "best.toml"
    assert _main(["best", "--storage", str(journal), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "best trial 1, val_accuracy = 0.75 (maximize)" in text and "model.hidden = [4, 2]" in text
    cfg = load_config(out)
    assert cfg.model.hidden == (4, 2) and cfg.train.lr == 2.5 and cfg.data.dataset == "xor"


def test_an_unknown_study_is_one_line_and_exit_2(tmp_path, capsys):
    assert _main(["best", "nope", "--storage", str(finished_study(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert "study 'nope': no such sweep" in err and "known: tiny" in err and err.count("\n") == 1


def test_several_studies_and_no_name_lists_them(tmp_path, capsys):
    finished_study(tmp_path, name="other")
    assert _main(["best", "--storage", str(finished_study(tmp_path))]) == 2
    assert "2 sweep studies" in capsys.readouterr().err


@pytest.mark.integration
def test_best_through_the_binary_reads_the_storage_from_the_environment(tmp_path):
    finished_study(tmp_path)
    proc = run_bplab(["best"], tmp_path, BPLAB_OPTUNA_STORAGE=str(tmp_path / "optuna.journal"))
    assert proc.returncode == 0, proc.stderr
    assert "study 'tiny': best trial 1" in proc.stdout and (tmp_path / "tiny-best.toml").is_file()
