"""The journal reports benchmark runs and prints one row per repeat (its numbers are not judged)."""

from __future__ import annotations

import re

from benchmarks.journal_reports import main, report_all


def test_both_sides_report_every_value_and_print_a_row_per_repeat(capsys):
    assert report_all(batched=True, populations=1, size=2, epochs=2) > 0
    main(["--populations", "1", "--size", "2", "--epochs", "2", "--repeats", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4 reports: 1 populations of 2 trials x 2 epochs"
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert re.fullmatch(r"median ratio \d+\.\dx", lines[-1])
