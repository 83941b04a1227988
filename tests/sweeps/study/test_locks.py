"""The study lock on a journal: a second holder waits until the first lets go."""

from __future__ import annotations

import threading

from sweeps.study.locks import lock_key, study_lock
from sweeps.study.url import StorageURL


def test_a_second_holder_waits_for_the_first(tmp_path):
    url = StorageURL("journal", str(tmp_path / "optuna.journal"))
    order: list[str] = []
    held = threading.Event()

    def second() -> None:
        held.wait()
        with study_lock(url, "s"):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with study_lock(url, "s"):
        held.set()
        thread.join(0.3)  # it cannot get in while this block holds the lock
        order.append("first")
    thread.join()
    assert order == ["first", "second"]
    assert (tmp_path / "optuna.journal.bplab-lock").exists()


def test_advisory_keys_are_stable_signed_and_distinct():
    assert lock_key("a") == lock_key("a") != lock_key("b")
    assert -(2**31) <= lock_key("a") < 2**31
