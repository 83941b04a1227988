"""Signals, in one place: SIGTERM is handled like Ctrl-C, so one ``except KeyboardInterrupt`` ends a
run KILLED whether a person or a process manager stopped it.

A signal can land while Python runs a finaliser: a gc callback (JAX registers one), a ``__del__`` or
a weakref callback. An exception raised there never reaches the program: Python prints "Exception
ignored in … Traceback" and drops it. So the handler defers the interrupt while it can see that it
is in a finaliser, and an interrupt Python dropped anyway is sent again, silently, once out of it."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

RESEND_S = 0.02  # a finaliser is over well within this; if not, the signal is deferred again


def in_finaliser(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside a gc callback or a ``__del__``, where a raise is swallowed."""
    callbacks = {getattr(callback, "__code__", None) for callback in gc.callbacks}
    while frame is not None:
        if frame.f_code in callbacks or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def resend(signum: int) -> None:
    """Sends ``signum`` to this process again in :data:`RESEND_S`, from another thread."""
    timer = threading.Timer(RESEND_S, os.kill, (os.getpid(), signum))
    timer.daemon = True
    timer.start()


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Raise ``KeyboardInterrupt`` where the program can catch it; inside a finaliser, ask again later."""
    if in_finaliser(frame):
        resend(signum)
        return
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

    def dropped(args) -> None:  # a finaliser the handler could not see (a weakref callback) ate it
        if isinstance(args.exc_value, KeyboardInterrupt):
            resend(getattr(args.exc_value, "signum", signal.SIGINT))
        else:
            unraisable(args)

    sys.unraisablehook = dropped
    try:
        yield
    finally:
        sys.unraisablehook = unraisable
        for signum, handler in previous.items():
            signal.signal(signum, handler)
