"""Which storage a ``--storage`` (or the environment, or nothing) means."""

from __future__ import annotations

import pytest
from optuna.storages._rdb.models import StudyModel

from experiments.errors import BadInput
from sweeps.study.locks import study_lock
from sweeps.study.url import STUDY_NAME_MAX, StorageURL, check_study_name, resolve_storage
from tests.support.processes import run_bplab
from tests.sweeps.conftest import write_config
from tests.sweeps.inprocess import bplab_main


def test_storage_resolution(tmp_path, monkeypatch):
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    assert resolve_storage(None, cwd=tmp_path).target == str(tmp_path / "optuna.journal")
    monkeypatch.setenv("BPLAB_OPTUNA_STORAGE", "postgresql://u:secret@h/db")
    url = resolve_storage(None, cwd=tmp_path)
    assert url.kind == "postgresql" and "secret" not in url.redacted()
    with pytest.raises(BadInput, match="--storage 'mysql://x'"):
        resolve_storage("mysql://x", cwd=tmp_path)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("postgresql://u:p@h:notaport/db", "not a valid database URL"),
        ("postgresql://[::1", "not a valid database URL"),
        ("postgresql+psycopg2://u:p@h:70000/db", "port 70000 is not in 1..65535"),
    ],
)
def test_a_malformed_database_url_is_one_line(tmp_path, text, why):
    with pytest.raises(BadInput, match=why) as e:
        resolve_storage(text, cwd=tmp_path)
    assert "\n" not in str(e.value) and ":p@" not in str(e.value)


def test_a_study_name_longer_than_the_storage_holds(tmp_path):
    assert StudyModel.__table__.c.study_name.type.length == STUDY_NAME_MAX["postgresql"]
    long = "s" * 513
    for url in (StorageURL("postgresql", "postgresql+psycopg2://h/db"), StorageURL("sqlite", "sqlite:///x")):
        with pytest.raises(BadInput, match=r"513 characters; a \w+ storage holds at most 512"):
            check_study_name(url, long)
        check_study_name(url, long[:512])
    check_study_name(StorageURL("journal", str(tmp_path / "j.journal")), long * 4)  # JSON: no limit
    lock = study_lock(StorageURL("sqlite", f"sqlite:///{tmp_path}/x.db"), long)
    with pytest.raises(BadInput, match="at most 512"), lock:  # every creation passes the study lock first
        pass


def test_bplab_sweep_refuses_bad_storage_urls_in_one_line(tmp_path, monkeypatch, capsys):
    cfg = write_config(tmp_path, name="u")
    # the installed binary once (its exit code and stderr), the other refusals in-process
    r = run_bplab(["sweep", cfg, "--storage", "postgresql://u:p@h:notaport/db"], tmp_path)
    assert r.returncode == 2
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("bplab: error: --storage postgresql+psycopg2://") and "not a valid" in line
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BPLAB_OPTUNA_STORAGE", raising=False)
    rc, _out, err = bplab_main(["sweep", cfg, "--storage", "postgresql://[::1"], capsys)
    assert rc == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("bplab: error: --storage postgresql+psycopg2://") and "not a valid" in line
    rc, _out, err = bplab_main(
        ["sweep", cfg, "--study", "s" * 600, "--storage", f"sqlite:///{tmp_path}/o.db"], capsys
    )
    assert rc == 2 and err.strip().splitlines()[-1].endswith("holds at most 512"), err
