"""What reaches the user's terminal from Optuna (set once in sweeps.study.lifecycle)."""

from __future__ import annotations

import logging

import optuna.storages._rdb.storage as rdb

from sweeps.study.lifecycle import RDB_LOGGER


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_optunas_fallback_note_after_a_database_error_does_not_reach_the_terminal():
    assert rdb._logger.name == RDB_LOGGER  # the logger Optuna's RDB storage really logs to
    records = Records()
    optuna_root = logging.getLogger("optuna")  # where Optuna's own handler prints
    optuna_root.addHandler(records)
    try:
        rdb._logger.warning("Caught an error from sqlalchemy: (psycopg2.OperationalError) server closed …")
        rdb._logger.warning("something else Optuna wants said")
    finally:
        optuna_root.removeHandler(records)
    assert records.messages == ["something else Optuna wants said"]
