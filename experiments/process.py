"""Which process holds a trial or a run, and whether that process still lives.

A killed worker leaves its trial (and its MLflow run) RUNNING. Host, pid and the pid's start time,
recorded when the work starts, let a survivor tell a dead process from a live one, and from an
unrelated process that was handed the same pid later.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from experiments.names import ATTR_HOST, ATTR_PID, ATTR_PID_START, TAG_HOST, TAG_PID, TAG_PID_START


def pid_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after the closing parenthesis are plain.
    return int(stat.rsplit(")", 1)[1].split()[19])


def process_identity() -> dict[str, Any]:
    """This process as ``{ATTR_HOST: host, ATTR_PID: pid, ATTR_PID_START: ticks}``."""
    return {
        ATTR_HOST: socket.gethostname(),
        ATTR_PID: os.getpid(),
        ATTR_PID_START: pid_start_time(os.getpid()),
    }


def process_tags() -> dict[str, str]:
    """This process as MLflow tags (``bplab.host``, ``bplab.pid``, ``bplab.pid_start``) for every run
    it opens, so that ``bplab runs reconcile`` can tell later whether the run's process is gone."""
    me = process_identity()
    tags = {TAG_HOST: me[ATTR_HOST], TAG_PID: str(me[ATTR_PID])}
    if me[ATTR_PID_START] is not None:
        tags[TAG_PID_START] = str(me[ATTR_PID_START])
    return tags


def process_alive(host: str | None, pid: int | None, start: int | None, *, this_host: str) -> bool:
    """Whether the recorded process still runs. Another host's process is assumed alive (only that
    host could tell); a reused pid is told apart by its start time."""
    if host != this_host or pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start is None or pid_start_time(pid) == start
