"""The baseline file: read, refused when malformed (before any run opens), written atomically."""

from __future__ import annotations

import json

import pytest

from experiments.errors import BadInput
from experiments.regression import load_suite, regress
from experiments.regression.baseline import baseline_document, load_baseline, write_baseline
from tests.experiments.regression.suites import BASELINE, mini_suite, shipped_case


def test_a_missing_baseline_is_empty_and_a_written_one_reads_back(tmp_path):
    path = tmp_path / "sub" / "baseline.json"
    assert load_baseline(path)["cases"] == {}
    suite = load_suite(mini_suite(tmp_path, [shipped_case("xor")], baseline=path))
    doc = baseline_document(suite, {"xor": {"b": 2.0, "a": 1.0}}, {"backend": "cpu"})
    write_baseline(path, doc)
    back = load_baseline(path)
    assert back["cases"] == {"xor": {"a": 1.0, "b": 2.0}} and back["environment"] == {"backend": "cpu"}
    assert list(back["cases"]["xor"]) == ["a", "b"] and not path.with_suffix(".json.tmp").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(environment="cpu"), r"environment must be a table, got 'cpu'"),
        (lambda d: d["cases"]["xor"].update(test_loss="low"), r'expected \{"cases"'),
        (lambda d: d.pop("cases"), r'expected \{"cases"'),
    ],
)
def test_a_malformed_baseline_is_refused_before_any_run_opens(tmp_path, unopened_store, change, message):
    data = json.loads(BASELINE.read_text())
    change(data)
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps(data))
    suite = mini_suite(tmp_path, [shipped_case("xor")], baseline=baseline)
    with pytest.raises(BadInput, match=message) as e:
        regress(suite)
    assert str(e.value).startswith(str(baseline)) and "\n" not in str(e.value)
    assert not unopened_store.exists()  # the store was not even opened


def test_a_baseline_that_is_not_json_is_one_line(tmp_path):
    path = tmp_path / "baseline.json"
    path.write_text("{ not json")
    with pytest.raises(BadInput, match="not a readable baseline: Expecting property name"):
        load_baseline(path)
