"""`bplab schedule`: cron parsing, the one-job trigger, and stopping a suite in flight."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading

import pytest
from apscheduler.triggers.combining import OrTrigger

from experiments.errors import BadInput
from sweeps import schedule
from sweeps.cron import cron_trigger
from tests.support.processes import wait_for


def test_parse_cron_accepts_five_fields_and_refuses_the_rest():
    trigger = cron_trigger("0 3 * * *", timezone=dt.UTC)
    after = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert trigger.get_next_fire_time(None, after) == dt.datetime(2030, 1, 2, 3, 0, tzinfo=dt.UTC)
    for bad in ("0 3 * *", "0 3 * * * *", "61 * * * *", "x y z w v"):
        with pytest.raises(BadInput, match="--cron"):
            cron_trigger(bad)


def test_once_after_adds_a_date_to_the_cron_in_one_trigger():
    cron = cron_trigger("0 3 * * *", timezone=dt.UTC)
    now = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    soon = now + dt.timedelta(seconds=5)
    trigger = schedule.build_trigger(cron, soon)
    assert isinstance(trigger, OrTrigger)
    assert trigger.get_next_fire_time(None, now) == soon
    assert trigger.get_next_fire_time(soon, soon + dt.timedelta(seconds=1)).hour == 3  # then the cron


def test_scheduler_job_options_are_one_at_a_time_coalesced_with_grace():
    job = schedule.SuiteJob(["true"])
    scheduler = schedule.build_scheduler(job, cron_trigger("0 3 * * *"))
    (j,) = scheduler.get_jobs()
    assert j.max_instances == 1 and j.coalesce is True
    assert j.misfire_grace_time >= 3600


def test_regress_argv_runs_this_interpreter():
    assert schedule.regress_argv("s.toml") == [sys.executable, "-m", "bplab", "regress", "s.toml"]
    assert schedule.regress_argv(None)[-1] == "regress"


def test_stop_forwards_sigterm_to_the_suite_in_flight_and_starts_no_more(tmp_path):
    # a stand-in child that records SIGTERM the way `bplab regress` does (exit 143 after cleanup),
    # and leaves a file once its handler is in place
    ready = tmp_path / "ready"
    child = (
        "import pathlib,signal,sys,time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(143)); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(60)"
    )
    job = schedule.SuiteJob([sys.executable, "-c", child])
    codes = []
    runner = threading.Thread(target=lambda: codes.append(job()))
    runner.start()
    wait_for(lambda: job._proc is not None and ready.exists(), timeout=30, what="the child's handler")
    job.stop(timeout=20)
    runner.join(20)
    assert codes == [143]
    assert job() is None and job.runs == 1  # stopping: no new suite
    assert -signal.SIGKILL not in codes


def test_a_sigterm_while_runs_are_reconciled_stops_it_cleanly(monkeypatch, capsys):
    # Its stop handlers are in place before it touches the store, so a SIGTERM that follows its first
    # line (the reconcile's) stops it cleanly instead of killing it.
    def reconcile(command: str) -> list:
        handler = signal.getsignal(signal.SIGTERM)
        if getattr(handler, "__module__", None) != schedule.__name__:  # a SIGTERM would kill this worker
            raise AssertionError(f"SIGTERM is handled by {handler!r} while the store is reconciled")
        os.kill(os.getpid(), signal.SIGTERM)
        return []

    monkeypatch.setattr(schedule, "reconcile_at_start", reconcile)
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        schedule.run_schedule("0 3 * * *")
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    out = capsys.readouterr().out
    assert "SIGTERM: stopping" in out and "stopped after 0 suite run(s)" in out
