"""The suite file: one-line errors naming the file and the key; the shipped suite's cases."""

from __future__ import annotations

import pytest

from experiments.errors import BadInput
from experiments.regression.suite import load_suite, resolve_suite_path
from tests.experiments.regression.suites import BASELINE, SUITE

XOR = SUITE.parent / "xor.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f'[[case]]\nname = "a"\nconfig = "{XOR}"\nbogus = 1\n', r"bad.toml: case 'a': unknown key 'bogus'"),
        (
            f'[[case]]\nname = "a"\nconfig = "{XOR}"\n[case.tolerance]\nloss_rel = -1\n',
            r"bad.toml: case 'a'.tolerance.loss_rel must be a number ≥ 0, got -1",
        ),
        (
            f'[[case]]\nname = "a"\nconfig = "{XOR}"\n[case.tolerance]\nfd_rel_err_max = 1\n',
            r"case 'a'.tolerance.fd_rel_err_max must be one of loss_rel, .*\(a train case\)",
        ),
        (
            f'[[case]]\nname = "a"\nkind = "speed"\nconfig = "{XOR}"\n',
            r"case 'a'.kind must be one of train, ",
        ),
        (
            f'[[case]]\nname = "a"\nkind = "throughput"\nconfig = "{XOR}"\nrepeats = 2\n',
            r"case 'a'.repeats must be an integer ≥ 3, got 2",
        ),
        (f'[[case]]\nname = ""\nconfig = "{XOR}"\n', r"case\[0\].name must be a non-empty string"),
        (
            f'[[case]]\nname = "a"\nconfig = "{XOR}"\n[[case]]\nname = "a"\nconfig = "{XOR}"\n',
            "appears twice",
        ),
        ('[suite]\nname = "s"\n', r"no \[\[case\]\] in the suite"),
        ("[sweet]\n", r"unknown section \[sweet\]"),
    ],
)
def test_suite_validation_is_one_line_naming_file_and_key(tmp_path, text, message):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(BadInput, match=message) as e:
        load_suite(bad)
    assert "\n" not in str(e.value)


def test_suite_paths_resolve_from_a_name_or_a_file():
    assert resolve_suite_path(None) == SUITE
    assert resolve_suite_path("regression") == SUITE
    assert resolve_suite_path(str(SUITE)) == SUITE
    with pytest.raises(BadInput, match="no such suite"):
        resolve_suite_path("no-such-suite")


def test_shipped_suite_has_the_required_cases():
    suite = load_suite(SUITE)
    assert {c.name: c.kind for c in suite.cases} == {
        "xor": "train",
        "digits": "train",
        "gradcheck-float64": "gradcheck",
        "throughput": "throughput",
    }
    assert next(c for c in suite.cases if c.kind == "gradcheck").config.train.dtype == "float64"
    assert suite.baseline_path == BASELINE
    assert all(c.config.experiment.name == "regression" for c in suite.cases)
