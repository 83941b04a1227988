"""``bplab schedule``: the regression suite on a cron schedule, on APScheduler 3.x.

One job, one trigger: the crontab expression, read as crontab(5) reads it (:mod:`sweeps.cron`),
optionally OR-ed with a one-off ``DateTrigger`` (``--once-after SECONDS``) so a deployment can prove
its wiring right away. The job runs ``bplab regress SUITE`` as a child process:

- a crash, a leak or a wedged JAX runtime in one night's suite cannot take the scheduler down;
- ``max_instances=1`` and ``coalesce=True``: never two suites at once, and runs missed while the
  machine slept collapse into one;
- ``misfire_grace_time`` of an hour: a run that starts late (a busy host) still runs.

SIGTERM or SIGINT stops it cleanly: the running suite, if any, gets SIGTERM too (its runs end KILLED,
not RUNNING), is waited for, and the scheduler exits 0. The compose ``scheduler`` service runs this;
without a long-lived process the plain crontab line in the README does the same job.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.date import DateTrigger

from experiments.regression import load_suite, resolve_suite_path
from experiments.tracking.reconcile import reconcile_at_start
from sweeps.cron import cron_trigger

MISFIRE_GRACE_S = 3600
STOP_GRACE_S = 45.0  # how long a suite in flight gets to mark its runs KILLED after SIGTERM
JOB_ID = "regression-suite"


def build_trigger(cron: BaseTrigger, once_at: dt.datetime | None):
    """The cron trigger, or cron OR a one-off date when ``once_at`` is given."""
    if once_at is None:
        return cron
    return OrTrigger([cron, DateTrigger(run_date=once_at)])


def regress_argv(suite: str | None) -> list[str]:
    """The child process: this interpreter running ``bplab regress [SUITE]``."""
    argv = [sys.executable, "-m", "bplab", "regress"]
    return [*argv, suite] if suite else argv


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _say(text: str) -> None:
    print(f"bplab schedule: {_stamp()} {text}", flush=True)


class SuiteJob:
    """Runs the suite as a child process; remembers it so that a stop can forward SIGTERM.

    Attributes:
      argv: the child's command line.
      runs: how many suites were started (for logs and tests).
    """

    def __init__(self, argv: Sequence[str]):
        self.argv = list(argv)
        self.runs = 0
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._stopping = False

    def __call__(self) -> int | None:
        """One suite run; returns its exit code (1 means a regression was found), ``None`` if stopping."""
        with self._lock:
            if self._stopping:
                return None
            self.runs += 1
            _say(f"regression suite run {self.runs} starting: {' '.join(self.argv[1:])}")
            # Its own session: a Ctrl-C on the terminal reaches the scheduler only, which forwards
            # exactly one SIGTERM (a second signal could cut short the child's marking runs KILLED).
            self._proc = subprocess.Popen(self.argv, start_new_session=True)
        rc = self._proc.wait()
        verdict = {0: "passed", 1: "found a regression"}.get(rc, f"failed (exit {rc})")
        _say(f"regression suite run {self.runs} {verdict}")
        with self._lock:
            self._proc = None
        return rc

    def stop(self, timeout: float = STOP_GRACE_S) -> None:
        """No new runs; SIGTERM the running suite and wait for it (SIGKILL after ``timeout``)."""
        with self._lock:
            self._stopping = True
            proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def build_scheduler(job: SuiteJob, trigger) -> BlockingScheduler:
    """A blocking scheduler with the one suite job: one at a time, coalesced, an hour of grace."""
    scheduler = BlockingScheduler()
    scheduler.add_job(
        job,
        trigger,
        id=JOB_ID,
        name="bplab regress",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_S,
    )
    return scheduler


def run_schedule(cron: str, *, suite: str | None = None, once_after: float | None = None) -> None:
    """``bplab schedule --cron EXPR [--suite S] [--once-after SECONDS]``: blocks until SIGTERM/SIGINT.

    The cron expression and the suite file are validated first, so a typo fails now (exit 2), not at
    3 a.m., and before the store is touched. Then the runs of dead processes are reconciled, with the
    stop handlers already in place: a SIGTERM from then on stops the scheduler cleanly.

    Raises:
      BadInput: a bad cron expression or suite.
    """
    trigger_cron = cron_trigger(cron)
    suite_path = resolve_suite_path(suite)
    load_suite(suite_path)
    once_at = None
    if once_after is not None:
        once_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=once_after)
    job = SuiteJob(regress_argv(str(suite_path)))
    trigger = build_trigger(trigger_cron, once_at)
    scheduler = build_scheduler(job, trigger)
    stop_requested = threading.Event()

    def stop(signum, frame) -> None:
        # Runs in the main thread, which is waiting inside scheduler.start(); shutdown wakes it.
        stop_requested.set()
        _say(f"{signal.Signals(signum).name}: stopping")
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    reconcile_at_start("schedule")
    first = trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))
    _say(f"scheduled {suite_path} on {cron!r}; next run {first.isoformat() if first else 'never'}")
    if not stop_requested.is_set():
        scheduler.start()  # blocks until stop() shuts it down
    job.stop()
    _say(f"stopped after {job.runs} suite run(s)")
