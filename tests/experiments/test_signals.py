"""SIGTERM and Ctrl-C become one catchable ``KeyboardInterrupt``, even when the signal lands while the
garbage collector runs a callback, where a raise would be printed as "Exception ignored" and lost."""

from __future__ import annotations

import gc
import signal
import sys
import time
import weakref

import pytest

from experiments import signals
from experiments.signals import terminate_as_interrupt


class Garbage:
    def __init__(self):
        self.cycle = self  # only the cyclic collector frees it, so a collection has work to do


def signal_during_collection(signum: int):
    """A gc callback that receives ``signum`` once and then runs Python code, as JAX's callback does."""
    sent = []

    def callback(phase, info):
        if phase == "start" and not sent:
            sent.append(signum)
            signal.raise_signal(signum)
            sum(i for i in range(1000))  # the handler runs at one of these checks, inside the callback

    return callback


@pytest.fixture(autouse=True)
def _sigint_as_in_a_terminal():
    """Ctrl-C's default handler, whatever this process inherited: a job started with ``&`` by a
    script (a suite run in the background) ignores SIGINT, and that is kept (see the last test)."""
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, inherited)


def wait_for_a_signal(timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.005)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_inside_a_gc_callback_interrupts_the_program_not_the_callback(signum, monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)
    callback = signal_during_collection(signum)
    gc.callbacks.append(callback)
    try:
        with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
            Garbage()
            gc.collect()
            wait_for_a_signal()  # back in the program: the deferred interrupt is raised here
    finally:
        gc.callbacks.remove(callback)
    assert swallowed == []


class Referent:
    pass


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_inside_a_weakref_callback_is_sent_again_not_lost(signum, monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)

    def on_collected(ref):  # Python calls this from C; a raise in it is printed and dropped
        signal.raise_signal(signum)
        sum(i for i in range(1000))

    referent = Referent()
    ref = weakref.ref(referent, on_collected)
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        del referent
        wait_for_a_signal()
    assert ref() is None and swallowed == []


def test_an_interrupt_that_lands_inside_the_hook_is_sent_once_more(monkeypatch):
    """On a loaded machine the signal sent again can arrive before the hook has returned."""
    swallowed, sends = [], []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)

    def landing_early(signum):
        sends.append(signum)
        if len(sends) == 1:
            raise KeyboardInterrupt(f"signal {signum}")  # as if it arrived inside the hook
        real_resend(signum)

    real_resend = signals.resend
    monkeypatch.setattr(signals, "resend", landing_early)
    callback = signal_during_collection(signal.SIGTERM)
    gc.callbacks.append(callback)
    try:
        with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
            Garbage()
            gc.collect()
            wait_for_a_signal()
    finally:
        gc.callbacks.remove(callback)
    # Sent again after the early landing; on a loaded machine a resend can land in a finaliser too,
    # and is sent once more.
    assert len(sends) >= 2 and set(sends) == {signal.SIGTERM} and swallowed == []


def test_other_dropped_errors_still_reach_the_previous_hook(monkeypatch):
    swallowed = []
    monkeypatch.setattr(sys, "unraisablehook", swallowed.append)

    class Faulty:
        def __del__(self):
            raise ValueError("in a finaliser")

    with terminate_as_interrupt():
        Faulty()
    assert [type(a.exc_value) for a in swallowed] == [ValueError]
    assert sys.unraisablehook == swallowed.append  # put back


def test_sigterm_is_a_keyboard_interrupt_only_inside_the_block():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt():
        signal.raise_signal(signal.SIGTERM)
        wait_for_a_signal()
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_sigint_stays_ignored(monkeypatch):
    monkeypatch.setattr(signal, "getsignal", lambda signum: signal.SIG_IGN)  # a job started with `&`
    installed = []
    install = signal.signal
    monkeypatch.setattr(signal, "signal", lambda signum, h: installed.append(signum) or install(signum, h))
    with terminate_as_interrupt():
        pass
    assert signal.SIGINT not in installed


def test_a_signal_within_deferred_takes_effect_at_its_end():
    ran = []
    with pytest.raises(KeyboardInterrupt), terminate_as_interrupt(), signals.deferred():
        signal.raise_signal(signal.SIGTERM)
        wait_for_a_signal(0.2)
        ran.append("the whole block")
    assert ran == ["the whole block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_deferred_keeps_an_ignored_sigint_ignored():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with signals.deferred():
        signal.raise_signal(signal.SIGINT)
        wait_for_a_signal(0.1)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_an_interrupt_a_library_turned_into_another_error_is_raised_again_within_the_block():
    with terminate_as_interrupt():
        signals.raise_if_stop_requested()  # no stop yet: nothing
        with pytest.raises(FileNotFoundError):
            try:
                signal.raise_signal(signal.SIGTERM)
                wait_for_a_signal()
            except KeyboardInterrupt:
                raise FileNotFoundError("a cleanup that failed") from None
        with pytest.raises(KeyboardInterrupt, match=f"signal {signal.SIGTERM}"):
            signals.raise_if_stop_requested()
    signals.raise_if_stop_requested()  # the stop ended with its block
    with terminate_as_interrupt():
        signals.raise_if_stop_requested()  # and a new block starts without it
