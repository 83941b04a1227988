"""Signals, in one place: SIGTERM is handled like Ctrl-C, so one ``except KeyboardInterrupt`` ends a
run KILLED whether a person or a process manager stopped it."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread, like Ctrl-C.

    So a run killed by a process manager ends KILLED instead of vanishing as RUNNING. Does nothing
    outside the main thread (Python delivers signals to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
