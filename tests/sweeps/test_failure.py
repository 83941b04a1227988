"""Failure categories and when params are given up on: pure functions, real exception types."""

from __future__ import annotations

import optuna
import pytest
import requests
import sqlalchemy.exc
from mlflow.exceptions import MlflowException
from optuna.exceptions import StorageInternalError
from optuna.trial import TrialState

from experiments import failures
from experiments.errors import BadInput, TrackingUnavailable
from sweeps.failure import classify, root_cause
from sweeps.study.budget import SYS_FAILURES, gives_up, is_poison, requeue
from tests.experiments.test_failures import chained

LOG_BATCH = "http://127.0.0.1:5000/api/2.0/mlflow/runs/log-batch"


def raised(error: BaseException) -> BaseException:
    """``error`` as caught, with a traceback (classify also looks at where it was raised)."""
    try:
        raise error
    except BaseException as e:
        return e


def from_optuna_storage() -> BaseException:
    """An OSError raised inside Optuna's journal storage, as when its file's disk goes away."""
    try:
        optuna.storages.journal.JournalFileBackend("/proc/no-such-dir/optuna.journal")
    except OSError as e:
        return e
    raise AssertionError("expected an OSError")


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed")), "storage_unavailable"),
        (StorageInternalError("lost"), "storage_unavailable"),
        (chained(RuntimeError("tell"), StorageInternalError("lost")), "storage_unavailable"),
        (BadInput("train.batch_size = 8 is larger than the training set (4 rows)"), "bad_config"),
        (OSError("disk full"), "exception"),  # not raised by the storage: the trial's own
        (RuntimeError("a bug"), "exception"),
        # The categories of any run are experiments.failures' (tests/experiments/test_failures.py);
        # a trial gets the same, and they come before the storage's.
        (MemoryError(), "oom"),
        (chained(StorageInternalError("lost"), MemoryError()), "oom"),
        (MlflowException(f"API request to {LOG_BATCH} failed with exception"), "tracking_unavailable"),
        (chained(RuntimeError("log"), requests.ConnectionError("refused")), "tracking_unavailable"),
    ],
)  # fmt: skip
def test_every_exception_gets_one_stable_category(error, category):
    assert classify(raised(error)) == category


def test_an_io_error_of_the_journal_storage_is_the_storage_s():
    assert classify(from_optuna_storage()) == "storage_unavailable"


def test_a_trial_and_a_run_classify_alike_where_no_storage_is_involved():
    for error in (MemoryError(), RuntimeError("RESOURCE_EXHAUSTED"), TrackingUnavailable("down"), KeyError()):
        assert classify(raised(error)) == failures.classify(raised(error))


@pytest.mark.parametrize(
    ("categories", "given_up"),
    [
        (["oom"], False),
        (["oom", "oom"], True),  # the same non-transient failure twice: poison
        (["oom", "exception"], False),
        (["bad_config", "bad_config"], True),
        (["tracking_unavailable", "tracking_unavailable"], False),  # the server's fault, not the params'
        (["worker_lost"] * 3, False),
        (["worker_lost"] * 4, True),  # params that keep killing their worker stop after four
        (["interrupted"] * 9 + ["oom"], False),  # a person stopping the sweep is no failure
    ],
)
def test_params_are_given_up_after_the_same_failure_twice(categories, given_up):
    assert gives_up(categories) is given_up


def test_requeue_carries_the_failures_and_refuses_a_second_oom():
    study = optuna.create_study()
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(0.1, 1.0)})
    trial.set_user_attr("bplab.failure", "oom")
    first = study.tell(trial, state=TrialState.FAIL)
    assert requeue(study, first, failure="oom") is True
    retry = study.ask()
    assert retry.params == first.params
    retry.set_user_attr("bplab.failure", "oom")
    second = study.tell(retry, state=TrialState.FAIL)
    assert second.system_attrs[SYS_FAILURES] == ["oom"] and second.system_attrs["failed_trial"] == 0
    assert requeue(study, second, failure="oom") is False
    assert is_poison(second) and not is_poison(first)
    assert len(study.trials) == 2


def test_a_lost_storage_is_told_in_the_drivers_own_words():
    driver = Exception('database "bplab_t_x" does not exist\nDETAIL: more')
    wrapped = chained(optuna.exceptions.StorageInternalError("raised during the commit"), driver)
    assert root_cause(wrapped) == 'Exception: database "bplab_t_x" does not exist'
