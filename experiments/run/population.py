"""K runs that share one compiled program, trained together as one vmapped computation.

Each member is a whole run as :func:`experiments.run.train_run` makes it — its own MLflow run, tags,
per-epoch metrics, periodic and final gradient checks, artifacts and ending — and the same code makes
it (:mod:`.loop`'s ``start``, ``record_epoch`` and ``finish``; :mod:`.train`'s ``open_run``,
``close_run`` and ``close_unfinished``). Only the epoch differs: all members' epochs are one
:func:`backprop_core.population_epoch` (K learning rates, K initial params, K unit masks, K data-order
keys), their validation one :func:`backprop_core.population_evaluate` and their periodic gradient
checks one :func:`experiments.gradcheck.check.population_checks`. A member that fails or is
stopped (an ``on_epoch`` raising :class:`StopRun`: a pruned trial) ends its run as ``train_run`` would
and its slot goes inactive: it trains no more and counts for nothing. A member trains the numbers it
would train alone, up to float rounding (the members must share a :func:`program`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from backprop_core import population_epoch, population_evaluate, precision, stack_params
from experiments import tracking
from experiments.config import RunConfig
from experiments.gradcheck.check import population_checks
from experiments.run.evaluation import fetch
from experiments.run.loop import OnEpoch, Started, finish, record_epoch, start
from experiments.run.preflight import prepare
from experiments.run.train import RunResult, close_run, close_unfinished, open_run
from experiments.signals import terminate_as_interrupt


@dataclass(frozen=True)
class Member:
    """One run of a population: its config and what ``train_run`` would be given for it."""

    cfg: RunConfig
    tags: Mapping[str, Any] | None = None
    run_name: str | None = None
    on_epoch: OnEpoch | None = None
    on_metrics: OnEpoch | None = None


def program(cfg: RunConfig) -> tuple:
    """What runs must share to train as one population: the compiled program's static inputs (depth,
    batch size, activation, cost, dtype, gradient mode), the epochs, and the data (its split too)."""
    tr, m = cfg.train, cfg.model
    return (
        len(m.hidden),
        tr.batch_size,
        m.activation,
        m.cost,
        tr.dtype,
        tr.grad,
        tr.epochs,
        tr.seed,
        cfg.data,
    )


def train_population(
    members: Sequence[Member],
    *,
    pad_to: Sequence[int],
    parent_run_id: str | None = None,
    track: bool = True,
    artifacts: str = "full",
    grad: Callable | None = None,
    size: int | None = None,
    epoch_scope: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> list[RunResult | BaseException]:
    """Trains ``members`` as one population, each padded to ``pad_to``; one result per member.

    Args:
      members: runs of one :func:`program`.
      pad_to: the hidden widths every member is padded to (at least each member's own).
      parent_run_id, track, artifacts, grad: as in :func:`experiments.run.train_run`, for every member.
      size: train a population of this many slots, the members' and inactive ones, so that groups of
        any number of members up to ``size`` share one compiled population (default: the members').
      epoch_scope: the block each epoch's records of every member run in, their ``on_epoch`` calls
        included (a sweep writes its K Optuna reports of an epoch in one append there). An error in
        the block's own ending ends every member that was still training.

    Returns:
      Per member, in order, its :class:`RunResult`, or the exception that ended it (``BadInput``
      before its run opened; ``Diverged``, ``GradientMismatch``, ``StopRun`` … with ``run_id`` set).

    Raises:
      ValueError: the members do not share one program.
      KeyboardInterrupt: SIGINT/SIGTERM, after every unfinished run was ended KILLED.
    """
    if len({program(m.cfg) for m in members}) > 1:
        raise ValueError("the members of a population must share one program (see program())")
    results: list[RunResult | BaseException | None] = [None] * len(members)
    datasets = {}
    for k, m in enumerate(members):
        try:
            datasets[k] = prepare(m.cfg, track=False)
        except Exception as e:  # a member's bad input is its own: no run is opened for it
            results[k] = e
    if track:
        _check_stores(members, datasets, results)
    run_ids = {
        k: open_run(m.cfg, parent_run_id=parent_run_id, tags=m.tags, run_name=m.run_name, grad=grad)
        if track
        else None
        for k, m in enumerate(members)
        if k in datasets
    }
    try:
        with terminate_as_interrupt():
            _train(
                members, datasets, run_ids, results,
                pad_to=tuple(pad_to), artifacts=artifacts, grad=grad, size=size or len(members),
                epoch_scope=epoch_scope,
            )  # fmt: skip
    except KeyboardInterrupt as e:
        for k, run_id in run_ids.items():
            if results[k] is None:
                close_unfinished(run_id, e)
        raise
    return results


def _check_stores(members: Sequence[Member], datasets: dict, results: list) -> None:
    """The store check of ``prepare(track=True)``, once per experiment rather than once per member
    (a sqlite query and a file lock each; the members are prepared milliseconds apart). A member whose
    store does not answer gets the error as its result, and no run."""
    for name in {members[k].cfg.experiment.name for k in datasets}:
        try:
            tracking.ensure_reachable(experiment=name)
        except Exception as e:
            for k in [k for k in datasets if members[k].cfg.experiment.name == name]:
                results[k] = e
                del datasets[k]


def _train(members, datasets, run_ids, results, *, pad_to, artifacts, grad, size, epoch_scope) -> None:
    """The population's epochs; fills ``results`` slot by slot. Slots past the members' are copies of
    the first, inactive from the start: they only keep the population's shape."""
    slots = sorted(datasets)
    if not slots:
        return
    cfg, ds = members[slots[0]].cfg, datasets[slots[0]]
    tr = cfg.train
    with precision(tr.dtype) as dtype:
        runs: dict[int, Started] = {
            k: start(members[k].cfg, datasets[k], dtype=dtype, run_id=run_ids[k], grad=grad, pad_to=pad_to)
            for k in slots
        }
        first = runs[slots[0]]
        (x, y), (xv, yv) = first.train, first.val  # the members share their data (see program)
        filled = [runs[k] for k in slots] + [first] * max(0, size - len(slots))
        params_K = stack_params([r.params for r in filled])
        masks_K = stack_params([r.masks for r in filled])
        lr_K = jnp.stack([r.lr for r in filled])
        keys_EK = jnp.stack([r.epoch_keys for r in filled], axis=1)  # (epochs, K)
        active = np.arange(len(filled)) < len(slots)
        shared = {"activation": cfg.model.activation, "cost": cfg.model.cost}
        epoch_grad = grad if (grad is not None and tr.grad == "manual") else tr.grad

        def end(i: int, error: BaseException) -> None:
            """Slot ``i``'s member ends with ``error`` (StopRun: pruned); its slot trains no more."""
            _end(results, slots[i], run_ids[slots[i]], error)
            active[i] = False

        def epoch_after(params_K, epoch: int):
            return population_epoch(
                params_K, x, y, keys_EK[epoch - 1], lr_K=lr_K, unit_masks_K=masks_K,
                active_K=jnp.asarray(active), batch_size=tr.batch_size, grad=epoch_grad, **shared,
            )  # fmt: skip

        # As in the single run's loop (:mod:`.loop`): the next epoch is queued before this one is
        # fetched, so the device trains it while the host records K members. A slot that ends at this
        # epoch still trains the queued one, whose numbers nobody reads.
        started = time.perf_counter()
        ahead = epoch_after(params_K, 1)
        for epoch in range(1, tr.epochs + 1):
            if not active.any():
                break
            params_K, m_K = ahead
            val = population_evaluate(
                params_K, xv, yv, unit_masks_K=masks_K, classification=ds.is_classification, **shared
            )
            ahead = epoch_after(params_K, epoch + 1) if epoch < tr.epochs else None
            m_K = jax.block_until_ready(m_K)
            seconds = time.perf_counter() - started
            m_K, (loss_K, acc_K) = fetch((m_K, val))  # the population's one fetch
            started = time.perf_counter()
            # At a check's epoch, every member's check is one program, computed when the first asks.
            checks = functools.cache(
                functools.partial(
                    population_checks, params_K, *first.check_batch, dtype=tr.dtype, unit_masks_K=masks_K,
                    grad=grad, **shared,
                )
            )  # fmt: skip
            try:
                with epoch_scope():
                    for i in np.flatnonzero(active):
                        k = slots[i]
                        fetched = (jax.tree.map(lambda a, i=i: a[i], m_K), loss_K[i], acc_K[i])
                        try:
                            record_epoch(
                                runs[k], datasets[k], epoch, lambda i=i, c=checks: c()[i], fetched, seconds,
                                run_id=run_ids[k], on_epoch=members[k].on_epoch,
                                on_metrics=members[k].on_metrics,
                            )  # fmt: skip
                        except Exception as e:  # this member's ending; the others go on
                            end(i, e)
            except Exception as e:  # the scope's own ending (writing the epoch's reports): all of them
                for i in np.flatnonzero(active):
                    end(i, e)
        for i in np.flatnonzero(active):
            k = slots[i]
            try:
                trained = finish(
                    runs[k], datasets[k], _slot(params_K, i), run_id=run_ids[k], dtype=dtype, pad_to=pad_to
                )
                results[k] = close_run(run_ids[k], members[k].cfg, datasets[k], trained, artifacts=artifacts)
            except Exception as e:
                end(i, e)


def _slot(params_K, i: int):
    """Slot ``i``'s params out of the stacked ones."""
    return jax.tree.map(lambda leaf: leaf[i], params_K)


def _end(results: list, k: int, run_id: str | None, error: BaseException) -> None:
    close_unfinished(run_id, error)
    results[k] = error
