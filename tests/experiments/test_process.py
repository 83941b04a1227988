"""A recorded process is alive only while the same process (same pid, same start time) runs."""

from __future__ import annotations

import os
import socket

from experiments.names import ATTR_HOST, ATTR_PID, ATTR_PID_START
from experiments.process import pid_start_time, process_alive, process_identity


def test_this_process_is_identified_and_alive():
    me = process_identity()
    assert me[ATTR_HOST] == socket.gethostname() and me[ATTR_PID] == os.getpid()
    assert me[ATTR_PID_START] == pid_start_time(os.getpid())
    assert process_alive(me[ATTR_HOST], me[ATTR_PID], me[ATTR_PID_START], this_host=socket.gethostname())


def test_a_reused_pid_is_not_the_recorded_process():
    start = pid_start_time(os.getpid())
    if start is None:  # no /proc: nothing tells a reused pid apart here
        return
    assert not process_alive("h", os.getpid(), start + 1, this_host="h")


def test_another_hosts_process_is_assumed_alive():
    assert process_alive("elsewhere", 1, 0, this_host="here")
    assert process_alive("here", None, None, this_host="here")
