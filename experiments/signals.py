"""Signals, in one place: SIGTERM is handled like Ctrl-C, so one ``except KeyboardInterrupt`` ends a
run KILLED whether a person or a process manager stopped it.

A signal can land while Python runs a finaliser: a gc callback (JAX registers one), a ``__del__`` or
a weakref callback. An exception raised there never reaches the program: Python hands it to
``sys.unraisablehook`` (which prints "Exception ignored in … Traceback") and drops it. So within the
block that hook sends a dropped interrupt again, silently, for the program to get once out of it.

A library can also turn an interrupt into another error: cleanup in an ``except BaseException`` that
fails itself (Optuna's journal lock, when the signal lands just after it released the lock) raises its
own error in place of the interrupt. So a stop is also remembered, for the loops that must not carry
on after one (:func:`raise_if_stop_requested`), and :func:`deferred` holds signals off while a few
statements that must not be cut (a journal append and its lock) run."""

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
_requested: list[int] = []  # the signals that raised an interrupt in the open block
_depth = [0]  # how many terminate_as_interrupt blocks are open (a stop lasts as long as the outermost)


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
    _requested.append(signum)
    raise _interrupt_error(signum)


def _interrupt_error(signum: int) -> KeyboardInterrupt:
    error = KeyboardInterrupt(f"signal {signum}")
    error.signum = signum
    return error


def raise_if_stop_requested() -> None:
    """Raises the interrupt of an earlier signal again (a library may have turned it into another
    error); nothing when no stop was requested.

    Raises:
      KeyboardInterrupt: SIGINT/SIGTERM raised an interrupt in the open :func:`terminate_as_interrupt`
        block, whether or not that interrupt got through.
    """
    if _requested:
        raise _interrupt_error(_requested[-1])


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """SIGINT and SIGTERM that arrive within the block take effect at its end, as they would have.

    For a few statements a signal must not cut: a cleanup that an interrupt would make fail, or a
    write that must land whole. Only for short blocks: a stop waits for the block. Signals are handled
    in the main thread only, so elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not signal.SIG_IGN and handler is not None:  # None: not set from Python
            previous[signum] = signal.signal(signum, lambda s, _frame: held.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(held):  # once each, to whatever handles it now
            signal.raise_signal(signum)


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
    if not _depth[0]:
        _requested.clear()
    _depth[0] += 1
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
        _depth[0] -= 1
        if not _depth[0]:
            _requested.clear()
        sys.unraisablehook = unraisable
        for signum, handler in previous.items():
            signal.signal(signum, handler)
