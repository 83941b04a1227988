"""How a run that did not finish ends: the status and category (a pure function), and ``bplab train``
running out of memory end to end.

The end-to-end OOM here is XLA's own: a backward pass planted through ``grad=`` (the seam every
planted bug uses) asks XLA for a buffer larger than any address space, and XLA raises the
``jax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory allocating …`` it raises for any
failed allocation; it cannot hang or abort. A real memory limit (``prlimit --as``) on a ``bplab``
process is tested in ``test_memory_limit.py``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import pytest
import requests
from mlflow.tracking import MlflowClient

from bplab.app import main
from experiments.errors import Diverged, OutOfMemory, StopRun, TrackingUnavailable
from experiments.run import train_run
from experiments.run.ending import ending, run_failed

# More than a 48-bit user address space holds: refused on any machine, whatever the kernel's
# overcommit policy, without touching memory.
IMPOSSIBLE_BYTES = 2**48


def out_of_memory(*args, **kwargs):
    """A backward pass whose every call runs out of memory, as XLA says it (a real allocation)."""
    with jax.ensure_compile_time_eval():  # called while the epoch is traced: allocate now, eagerly
        jax.block_until_ready(jnp.zeros((IMPOSSIBLE_BYTES,), jnp.uint8))
    raise AssertionError("XLA allocated 256 TiB")


def _xla_oom() -> BaseException:
    try:
        out_of_memory()
    except jax.errors.JaxRuntimeError as e:
        return e
    raise AssertionError("expected XLA to refuse the allocation")


@pytest.mark.parametrize(
    ("error", "status", "category"),
    [
        (MemoryError("cannot allocate 64 GiB"), "FAILED", "oom"),
        (_xla_oom(), "FAILED", "oom"),
        (requests.ConnectionError("refused"), "FAILED", "tracking_unavailable"),
        (RuntimeError("a bug"), "FAILED", "exception"),
    ],
)
def test_an_unexpected_error_ends_the_run_failed_with_its_category(error, status, category):
    got_status, tags = ending(error)
    assert (got_status, tags["bplab.failure"]) == (status, category)
    assert tags["bplab.failure_reason"].startswith(f"{type(error).__name__}: ")


def test_a_failed_run_keeps_its_own_category_and_words():
    assert ending(Diverged("train_loss = nan at epoch 3"))[1] == {
        "bplab.failure": "diverged",
        "bplab.failure_reason": "train_loss = nan at epoch 3",
    }


def test_a_stop_or_an_interrupt_is_no_failure():
    assert ending(StopRun("KILLED", {"optuna.state": "PRUNED"}, "pruned"))[1]["optuna.state"] == "PRUNED"
    status, tags = ending(KeyboardInterrupt())
    assert status == "KILLED" and "bplab.failure" not in tags


def test_the_caller_is_told_of_an_oom_or_an_outage_as_a_failed_run_and_of_a_bug_as_itself():
    oom = run_failed(_xla_oom(), "r1")
    assert isinstance(oom, OutOfMemory) and (oom.kind, oom.run_id) == ("oom", "r1")
    assert oom.message.startswith("JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory")
    assert isinstance(run_failed(requests.ConnectionError("refused"), "r1"), TrackingUnavailable)
    for error in (RuntimeError("a bug"), Diverged("nan"), KeyboardInterrupt(), StopRun()):
        assert run_failed(error, "r1") is error


def test_bplab_train_out_of_memory_ends_its_run_failed_oom_in_one_line(
    tmp_path, monkeypatch, capsys, sqlite_store, iris_config
):
    monkeypatch.setattr("bplab.train.train_run", functools.partial(train_run, grad=out_of_memory))

    with pytest.raises(SystemExit) as e:
        main(["train", str(iris_config)])

    _, err = capsys.readouterr()
    assert e.value.code == 1, err
    assert "Traceback" not in err
    *_, run_line, last = err.strip().splitlines()
    assert last.startswith("bplab: error: JaxRuntimeError: RESOURCE_EXHAUSTED: Out of memory")
    client = MlflowClient(sqlite_store)
    (run,) = client.search_runs([client.get_experiment_by_name("iris-test").experiment_id])
    assert run_line.startswith(f"run {run.info.run_id} FAILED: ")
    assert run.info.status == "FAILED"
    assert run.data.tags["bplab.failure"] == "oom"
    assert "Out of memory allocating" in run.data.tags["bplab.failure_reason"]
    assert run.data.tags["bplab.fault"] == "out_of_memory"  # a planted backward pass: nobody trusts it
