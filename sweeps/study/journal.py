"""Opening a journal file: refused in one line when it cannot be written, healed when a crash cut it.

Optuna appends one JSON record per line. A process killed mid-write leaves a last line without its
end; the next append glues a whole record onto it, and from then on every read of the journal fails
with a ``JSONDecodeError``. So before Optuna reads it, under the journal's own write lock (no writer
is mid-append), a cut last line is dropped, and a glued line keeps the whole record that follows the
cut. The file is first copied to ``<journal>.bak-<UTC time>``, and one warning line says so. Nothing
before the cut is lost.

A signal waits for an append (and the heal) to end: within one, Optuna's file lock turns an interrupt
that lands just after it released the lock into a ``FileNotFoundError`` (its cleanup removes the lock
a second time), and one that lands as it tries to take a lock another process holds removes that lock.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from pathlib import Path

import optuna

from experiments import signals
from experiments.errors import BadInput

RECORD_START = b'{"op_code":'  # how Optuna starts every journal record (compact separators)
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
    lock = optuna.storages.journal.JournalFileOpenLock(str(path))
    with signals.deferred():
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
    backend = UninterruptedAppends(str(path), lock_obj=optuna.storages.journal.JournalFileOpenLock(str(path)))
    return optuna.storages.JournalStorage(backend)


class UninterruptedAppends(optuna.storages.journal.JournalFileBackend):
    """Optuna's journal file, each append (lock, write, release) whole before a signal takes effect."""

    def append_logs(self, logs: list[dict]) -> None:
        with signals.deferred():
            super().append_logs(logs)
