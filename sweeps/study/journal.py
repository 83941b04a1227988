"""Opening a journal file: refused in one line when it cannot be written, healed when a crash cut it.

Optuna appends one JSON record per line. A process killed mid-write leaves a last line without its
end; the next append glues a whole record onto it, and from then on every read of the journal fails
with a ``JSONDecodeError``. So before Optuna reads it, under the journal's own write lock (no writer
is mid-append), a cut last line is dropped, and a glued line keeps the whole record that follows the
cut. The file is first copied to ``<journal>.bak-<UTC time>``, and one warning line says so. Nothing
before the cut is lost.

A signal that arrives while the journal's lock is held waits for the lock's release, so an append (and
the heal) is whole: inside Optuna's own lock an interrupt that lands just after the lock's release
turns into a ``FileNotFoundError`` (its cleanup removes the lock a second time), and one that lands
while it waits for a lock another process holds removes that lock. Waiting for the lock stays
interruptible: after a ``kill -9`` in mid-append the lock stays until Optuna's grace period breaks it
(30 s), and a Ctrl-C in that wait stops at once, holding nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import optuna
from optuna.storages.journal._storage import JournalOperation

from experiments import signals
from experiments.errors import BadInput

RECORD_START = b'{"op_code":'  # how Optuna starts every journal record (compact separators)
# The op code of ``trial.report`` in Optuna's journal format (the file format, stable across versions)
INTERMEDIATE_VALUE = JournalOperation.SET_TRIAL_INTERMEDIATE_VALUE
log = logging.getLogger("bplab")  # with no handler set up, Python writes warnings to stderr, one line each


def check_journal_place(path: Path) -> None:
    """Refuses a journal that could not be written, creating nothing: the file, or the nearest
    folder that exists above it, must be a writable folder (or file).

    Raises:
      BadInput: one line naming the journal and the reason.
    """
    if path.exists():
        if path.is_dir() or not os.access(path, os.W_OK):
            _refuse(path, "a folder" if path.is_dir() else "not writable")
        return
    above = next((p for p in path.parents if p.exists()), None)
    if above is None or not above.is_dir():
        _refuse(path, f"{above} is not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        _refuse(path, f"folder {above} is not writable")


def writable_journal(path: Path) -> None:
    """Creates ``path``'s folder and the file if needed; refuses a place it cannot write.

    Raises:
      BadInput: one line naming the journal and the reason.
    """
    check_journal_place(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab"):
            pass
    except OSError as e:
        _refuse(path, e.strerror or str(e))


def _refuse(path: Path, reason: str) -> None:
    raise BadInput(f"--storage {path}: cannot write the journal there ({reason})")


def _whole(line: bytes) -> bytes | None:
    """The line if it is one JSON record, else the last whole record glued after a cut, else ``None``."""
    for start in [0, *_starts(line)]:
        try:
            json.loads(line[start:])
        except ValueError:
            continue
        return line[start:]
    return None


def _starts(line: bytes) -> list[int]:
    out, i = [], line.find(RECORD_START, 1)
    while i > 0:
        out.append(i)
        i = line.find(RECORD_START, i + 1)
    return out


def healed(data: bytes) -> tuple[bytes, int]:
    """``data`` without cut records: ``(kept bytes, how many cut records were dropped)``."""
    kept, dropped = [], 0
    for line in data.split(b"\n"):  # the last piece: empty, or a record that lost its newline or more
        if not line.strip():
            continue
        whole = _whole(line)
        dropped += whole != line
        if whole is not None:
            kept.append(whole)
    return b"".join(x + b"\n" for x in kept), dropped


def heal_journal(path: Path) -> Path | None:
    """Drops the records a crash cut from the journal at ``path``; returns the backup, if it made one."""
    lock = HeldThroughSignals(str(path))
    lock.acquire()
    try:
        data = path.read_bytes()
        if intact(data):
            return None
        kept, dropped = healed(data)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        backup = path.with_name(f"{path.name}.bak-{stamp}")
        shutil.copy2(path, backup)
        tmp = path.with_name(path.name + ".healing")
        tmp.write_bytes(kept)
        os.replace(tmp, path)
    finally:
        lock.release()
    log.warning(
        "bplab: journal %s: dropped %d record(s) cut short by a crash (a copy of the file is %s)",
        path, dropped, backup.name,
    )  # fmt: skip
    return backup


def intact(data: bytes) -> bool:
    """Every line one whole record, checked without parsing: the file ends a line, and every line
    starts a record and holds no other.

    JSON escapes the quotes inside strings, so ``{"op_code":`` never occurs inside a record.
    """
    if not data:
        return True
    starts = data.count(RECORD_START)
    line_starts = data.count(b"\n" + RECORD_START) + data.startswith(RECORD_START)
    return data.endswith(b"\n") and starts == line_starts == data.count(b"\n")


def journal_storage(path: Path) -> optuna.storages.JournalStorage:
    """Optuna's storage on the journal at ``path``: checked writable, healed, under Optuna's file lock.

    Raises:
      BadInput: the journal cannot be written there.
    """
    writable_journal(path)
    heal_journal(path)
    backend = BatchedReports(str(path), lock_obj=HeldThroughSignals(str(path)))
    return optuna.storages.JournalStorage(backend)


class BatchedReports(optuna.storages.journal.JournalFileBackend):
    """Optuna's journal file, where reports (``trial.report``) can share appends.

    Within :meth:`batch`, the intermediate values this thread reports wait, and are written with this
    thread's next other record or when the block ends; with ``every_s``, also with a report made
    ``every_s`` or more after this thread's reports were last written in the block (the block's first
    report is such a one). One lock and one ``fsync`` serve many reports: a population's epoch (K
    members), or a trial's epochs (a 30-epoch trial of a second: two appends where it made 30). This
    thread's records reach the journal in the order it made them.

    Reading is unchanged, so within the block the storage does not show the waiting values yet; the
    trial's own do show (Optuna keeps them on the trial), and no pruner Optuna ships reads another
    running trial's intermediate values. A dashboard sees a trial's first point at once, and the rest
    at most ``every_s`` (and one epoch) late.
    """

    def __init__(self, file_path: str, lock_obj=None) -> None:
        super().__init__(file_path, lock_obj)
        self._waiting = threading.local()

    def append_logs(self, logs: list[dict]) -> None:
        mine = self._waiting
        waiting = getattr(mine, "logs", None)
        if waiting is None:
            super().append_logs(logs)
            return
        if all(log.get("op_code") == INTERMEDIATE_VALUE for log in logs):
            waiting.extend(logs)
            if mine.every_s is None or time.monotonic() - mine.last < mine.every_s:
                return
            logs = []
        if waiting:  # they go first, in the same append
            mine.logs, mine.last = [], time.monotonic()
        super().append_logs([*waiting, *logs])

    @contextlib.contextmanager
    def batch(self, every_s: float | None = None) -> Iterator[None]:
        """This thread's reports within the block share appends (see the class); the last are
        written when it ends."""
        mine = self._waiting
        if getattr(mine, "logs", None) is not None:  # nested: the outer block writes them
            yield
            return
        mine.logs, mine.every_s, mine.last = [], every_s, -math.inf
        try:
            yield
        finally:
            logs, mine.logs = mine.logs, None
            if logs:
                super().append_logs(logs)


def batched_reports(
    storage: optuna.storages.BaseStorage, every_s: float | None = None
) -> Callable[[], contextlib.AbstractContextManager]:
    """``storage``'s :meth:`BatchedReports.batch` (with ``every_s``) where it is such a journal;
    elsewhere a block that changes nothing (a database writes each report in its own transaction)."""
    backend = getattr(storage, "_backend", None)
    if isinstance(backend, BatchedReports):
        return functools.partial(backend.batch, every_s=every_s)
    return contextlib.nullcontext


class HeldThroughSignals(optuna.storages.journal.JournalFileOpenLock):
    """Optuna's lock file (created with ``O_EXCL``), with SIGINT and SIGTERM held off from the moment
    it is taken until it is released, and its wait interruptible.

    Optuna's own wait removes the lock when an interrupt lands in it, though another process holds it;
    this one leaves it. A lock unchanged for ``grace_period`` seconds is broken, as Optuna does.
    """

    def __init__(self, filepath: str, grace_period: int | None = 30) -> None:
        super().__init__(filepath, grace_period)
        self._hold = contextlib.ExitStack()

    def acquire(self) -> bool:
        stale = _Staleness(self._lock_file, self.grace_period)
        sleep_s = 0.001
        while True:
            hold = contextlib.ExitStack()
            hold.enter_context(signals.deferred())
            try:
                os.close(os.open(self._lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                hold.close()  # a signal that came during the try takes effect here, holding nothing
            except BaseException:
                hold.close()
                raise
            else:
                self._hold = hold
                return True
            if stale.expired():
                log.warning(
                    "bplab: journal lock %s unchanged for %s s: breaking it", self._lock_file, stale.grace
                )
                with signals.deferred(), contextlib.suppress(RuntimeError):  # RuntimeError: it went meanwhile
                    super().release()
                sleep_s = 0.001
                continue
            time.sleep(sleep_s)
            sleep_s = min(sleep_s * 2, 0.1)

    def release(self) -> None:
        hold, self._hold = self._hold, contextlib.ExitStack()
        with hold:  # the signals held while the lock was held take effect once it is gone
            super().release()


class _Staleness:
    """Whether a lock file has gone unchanged (same mtime) for ``grace`` seconds of this process's
    clock, as Optuna judges it: robust to other hosts' clocks on a shared folder."""

    def __init__(self, path: str, grace: float | None):
        self.path, self.grace = path, grace
        self._mtime: float | None = None
        self._since = time.monotonic()

    def expired(self) -> bool:
        if self.grace is None:
            return False
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            return False  # released meanwhile: try again
        if mtime != self._mtime:
            self._mtime, self._since = mtime, time.monotonic()
        return time.monotonic() - self._since > self.grace
