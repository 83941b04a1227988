"""Signals, in one place: SIGTERM is handled like Ctrl-C, so one ``except KeyboardInterrupt`` ends a
run KILLED whether a person or a process manager stopped it.

A signal can land while Python runs a finaliser: a gc callback (JAX registers one), a ``__del__`` or
a weakref callback. An exception raised there never reaches the program: Python hands it to
``sys.unraisablehook`` (which prints "Exception ignored in … Traceback") and drops it. So within the
block that hook sends a dropped interrupt again, silently, for the program to get once out of it."""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from types import FrameType

RESEND_S = 0.02  # a finaliser is over well within this; if not, the signal is dropped and sent again
RESEND_TRIES = 10


def resend(signum: int) -> None:
    """Sends ``signum`` to this process again in :data:`RESEND_S`, from a new thread.

    Returns at once: ``threading.Timer.start`` waits until its thread runs, and on a loaded machine
    the signal it sends could land in that wait, inside the hook that called it.
    """
    _thread.start_new_thread(_kill_later, (os.getpid(), signum))


def _kill_later(pid: int, signum: int) -> None:
    time.sleep(RESEND_S)
    os.kill(pid, signum)


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Raise ``KeyboardInterrupt``, naming the signal, so that a dropped one can be sent again."""
    error = KeyboardInterrupt(f"signal {signum}")
    error.signum = signum
    raise error


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` in the main thread, like Ctrl-C.

    So a run killed by a process manager ends KILLED instead of vanishing as RUNNING. Ctrl-C gets the
    same finaliser-safe handler, unless SIGINT is ignored (a job started with ``&`` by a script), which
    stays so. Does nothing outside the main thread (Python delivers signals to the main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, interrupt)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, interrupt)
    unraisable = sys.unraisablehook

    def dropped(args) -> None:  # a finaliser ate an exception: an interrupt is sent again
        if not isinstance(args.exc_value, KeyboardInterrupt):
            unraisable(args)
            return
        signum = getattr(args.exc_value, "signum", signal.SIGINT)
        for _ in range(RESEND_TRIES):
            try:
                resend(signum)
                return
            except KeyboardInterrupt:  # it landed before this hook returned, where it is dropped too
                continue

    sys.unraisablehook = dropped
    try:
        yield
    finally:
        sys.unraisablehook = unraisable
        for signum, handler in previous.items():
            signal.signal(signum, handler)
