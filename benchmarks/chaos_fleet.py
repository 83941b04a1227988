"""The chaos benchmark's workers: ``bplab worker`` processes that are SIGKILLed and started again.

SIGKILL, not SIGTERM: a killed process gets no chance to fail its trial, end its MLflow run or let
go of the study lock, so whatever is consistent afterwards was made so by the survivors (heartbeat,
reaper, reconcile). Each worker leads its own process group, so a kill takes whatever it started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOG_TAIL = 1500  # characters of a crashed worker's log shown in the report


@dataclass
class Fleet:
    """``size`` copies of ``argv``, each logging into ``logs/worker-<slot>.log`` (appended per start)."""

    argv: Sequence[str]
    cwd: Path
    env: Mapping[str, str]
    size: int
    logs: Path
    procs: list[subprocess.Popen | None] = field(default_factory=list)
    kills: int = 0
    starts: int = 0
    crashes: list[str] = field(default_factory=list)  # "slot N exited RC: tail" for unexpected exits

    def log(self, slot: int) -> Path:
        return self.logs / f"worker-{slot}.log"

    def start(self, slot: int) -> None:
        """Starts (or restarts) the worker in ``slot``."""
        with self.log(slot).open("ab") as out:
            out.write(f"\n=== start {self.starts} at {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            proc = subprocess.Popen(
                list(self.argv), cwd=self.cwd, env=dict(self.env), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        while len(self.procs) <= slot:
            self.procs.append(None)
        self.procs[slot] = proc
        self.starts += 1

    def start_all(self) -> None:
        for slot in range(self.size):
            self.start(slot)

    def kill(self, slot: int) -> None:
        """SIGKILLs the worker in ``slot`` (when it is alive) and starts it again."""
        proc = self.procs[slot]
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
                self.kills += 1
            except ProcessLookupError:  # exited between the poll and the kill
                pass
            proc.wait()
        self.start(slot)

    def collect_exits(self, *, restart: bool) -> None:
        """Notes workers that exited non-zero by themselves (a crash: SIGKILLs are ours and restarted
        at once), restarting them when ``restart``; a worker that exits 0 found the budget spent."""
        for slot, proc in enumerate(self.procs):
            if proc is None or proc.poll() is None:
                continue
            if proc.returncode != 0:
                tail = self.log(slot).read_text(errors="replace")[-LOG_TAIL:]
                self.crashes.append(f"slot {slot} exited {proc.returncode}:\n{tail}")
            self.procs[slot] = None
            if restart and proc.returncode != 0:
                self.start(slot)

    def alive(self) -> int:
        return sum(p is not None and p.poll() is None for p in self.procs)

    def stop(self) -> None:
        """SIGKILLs every live worker (the benchmark is ending early); nothing is restarted."""
        for slot, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            self.procs[slot] = None

    def wait_all(self, timeout: float) -> int:
        """Waits up to ``timeout`` s for every worker to leave by itself, then SIGKILLs the rest;
        returns how many had to be killed (a worker that does not leave a finished study is a bug)."""
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.5)  # polling interval: the processes' exits decide
        self.collect_exits(restart=False)
        stuck = sum(p is not None for p in self.procs)
        self.stop()
        return stuck
