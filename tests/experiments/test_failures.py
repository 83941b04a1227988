"""The store-independent failure categories (``oom``, ``tracking_unavailable``, ``exception``): a pure
function of the exception and its chain, tested on real exception types, XLA's own OOM included."""

from __future__ import annotations

import errno
import sqlite3

import jax
import jax.numpy as jnp
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

from experiments.errors import BadInput, Diverged, TrackingUnavailable
from experiments.failures import chain, classify, is_disk_full, root_cause

LOG_BATCH = "http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch"
# More than a 48-bit user address space holds: XLA's allocator refuses it on any machine, whatever
# the kernel's overcommit policy, in microseconds and without touching memory.
IMPOSSIBLE_BYTES = 2**48


def raised(error: BaseException) -> BaseException:
    """``error`` as caught, with a traceback."""
    try:
        raise error
    except BaseException as e:
        return e


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised from ``inner``, as caught."""
    try:
        try:
            raise inner
        except BaseException as e:
            raise outer from e
    except BaseException as e:
        return e


def during(outer: BaseException, inner: BaseException) -> BaseException:
    """``outer`` raised while handling ``inner`` (no ``from``), as caught."""
    try:
        try:
            raise inner
        except BaseException:
            raise outer  # noqa: B904 - the implicit __context__ is what this helper makes
    except BaseException as e:
        return e


def xla_oom() -> BaseException:
    """The error XLA itself raises when an allocation fails (``jax.errors.JaxRuntimeError``)."""
    try:
        jax.block_until_ready(jnp.zeros((IMPOSSIBLE_BYTES,), jnp.uint8))
    except Exception as e:
        return e
    raise AssertionError("expected XLA to refuse the allocation")


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (MemoryError(), "oom"),
        (RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 8.0GiB"), "oom"),
        (RuntimeError("INTERNAL: Error dispatching computation: Out of memory allocating 3 GB"), "oom"),
        (chained(ValueError("while training"), MemoryError()), "oom"),
        (during(KeyError("cleanup"), MemoryError()), "oom"),
        (chained(MlflowException(f"API request to {LOG_BATCH} failed"), MemoryError()), "oom"),  # OOM first
        (MlflowException(f"API request to {LOG_BATCH} failed with exception"), "tracking_unavailable"),
        (MlflowException("unavailable", error_code=TEMPORARILY_UNAVAILABLE), "tracking_unavailable"),
        (MlflowException("Run 'abc' not found"), "exception"),  # MLflow answered: not an outage
        (chained(RuntimeError("log"), requests.ConnectionError("refused")), "tracking_unavailable"),
        (requests.ReadTimeout("read timed out"), "tracking_unavailable"),
        (TrackingUnavailable("server down for 300 s", run_id="abc"), "tracking_unavailable"),
        (ValueError("out of memory"), "exception"),  # only runtime errors speak for XLA
        (ConnectionError("a builtin, not requests'"), "exception"),
        (Diverged("train_loss = nan at epoch 3"), "exception"),  # a RunFailed carries its own kind
        (BadInput("train.batch_size = 8"), "exception"),  # bad_config is a sweep's category
        (RuntimeError("a bug"), "exception"),
        (OSError("disk full"), "exception"),
    ],
)  # fmt: skip
def test_every_exception_gets_one_stable_category(error, category):
    assert classify(raised(error)) == category


def test_xla_s_own_out_of_memory_error_is_oom():
    error = xla_oom()
    assert isinstance(error, jax.errors.JaxRuntimeError) and "RESOURCE_EXHAUSTED" in str(error)
    assert classify(error) == "oom"
    assert classify(chained(RuntimeError("epoch 3 failed"), error)) == "oom"


def test_the_chain_ends_even_when_it_loops():
    a, b = RuntimeError("a"), RuntimeError("b")
    a.__context__, b.__context__ = b, a
    assert list(chain(a)) == [a, b]
    assert classify(a) == "exception"


def test_a_failure_is_told_in_the_innermost_exception_s_words():
    driver = Exception('database "bplab_t_x" does not exist\nDETAIL: more')
    assert root_cause(chained(RuntimeError("raised during the commit"), driver)) == (
        'Exception: database "bplab_t_x" does not exist'
    )
    assert root_cause(MemoryError()) == "MemoryError"


@pytest.mark.parametrize(
    ("error", "full"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), True),
        (OSError(errno.EFBIG, "File too large"), True),  # a file-size limit
        (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
        (chained(MlflowException("(sqlite3.OperationalError) disk I/O error"), RuntimeError()), True),
        (chained(RuntimeError("commit failed"), sqlite3.OperationalError("database or disk is full")), True),
        (OSError(errno.ECONNREFUSED, "Connection refused"), False),  # a server away: worth waiting for
        (OSError("disk full"), False),  # no errno, no store's words: not recognised
        (MlflowException("Run 'abc' not found"), False),
    ],
)  # fmt: skip
def test_a_full_disk_is_recognised_by_errno_or_sqlite_s_words(error, full):
    assert is_disk_full(raised(error)) is full
