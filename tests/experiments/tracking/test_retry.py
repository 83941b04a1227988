"""Which store errors a write waits out: a server away is retried, a refusal or a full disk is not."""

from __future__ import annotations

import errno
import sqlite3
import time

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

from experiments.errors import TrackingUnavailable
from experiments.tracking.retry import is_transient, retrying
from tests.experiments.test_failures import chained


def failing(*errors: BaseException):
    """A write that raises ``errors`` in turn, then returns ``"written"``; it counts its calls."""
    calls = []

    def write():
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "written"

    return write, calls


def sqlite_full() -> BaseException:
    """What MLflow's sqlite store raises when a write finds no room (SQLite says I/O error on EFBIG)."""
    return chained(MlflowException("(sqlite3.OperationalError) disk I/O error"), sqlite3.OperationalError())


def test_a_server_that_comes_back_is_waited_for():
    write, calls = failing(ConnectionRefusedError(errno.ECONNREFUSED, "refused"), MlflowException("503"))
    assert retrying(write, window_s=30) == "written" and len(calls) == 3


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), sqlite_full()])
def test_a_full_disk_fails_at_once_naming_the_cause(error):
    write, calls = failing(error)
    t0 = time.monotonic()
    with pytest.raises(TrackingUnavailable, match="no room to write") as raised:
        retrying(write, window_s=120)
    assert len(calls) == 1 and time.monotonic() - t0 < 5  # not waited out like an outage
    assert not is_transient(error)
    assert raised.value.__cause__ is error


def test_a_refusal_is_raised_as_it_is():
    refused = MlflowException("Run 'x' not found", error_code=RESOURCE_DOES_NOT_EXIST)
    write, calls = failing(refused)
    with pytest.raises(MlflowException, match="not found"):
        retrying(write, window_s=120)
    assert len(calls) == 1
