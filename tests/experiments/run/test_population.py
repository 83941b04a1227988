"""A run trained in a population is the same run trained alone, tracked the same way.

Tolerance: every member's per-epoch ``train_loss``, ``val_loss``, ``val_accuracy`` and its final
weights agree with ``train_run`` of its config alone (unpadded, same seed) to ``1e-5`` normwise
relative in float32 — the vmapped, padded program only rounds differently.
"""

from __future__ import annotations

import contextlib

import pytest
from mlflow.tracking import MlflowClient

from experiments.config import load_config
from experiments.errors import StopRun
from experiments.run import train_run
from experiments.run.population import Member, train_population
from tests.support.processes import CONFIGS

from .test_masked import rel

TOLERANCE = 1e-5
PAD = (8,)
# A narrow member, one as wide as the padding (nothing padded), one pruned; both inits.
MEMBERS = [("[2]", 0.3, "normal"), ("[8]", 1.0, "scaled"), ("[3]", 0.8, "scaled")]
SIZE = 4  # one inactive filler slot; both tests train this one compiled population


def cfg(hidden, lr, init):
    overrides = [
        "data.dataset=iris", "train.epochs=3", "train.batch_size=8", "train.gradcheck_every=2",
        f"model.hidden={hidden}", f"train.lr={lr}", f"model.init={init}",
    ]  # fmt: skip
    return load_config(CONFIGS / "digits.toml", overrides)


def prune_at(epoch):
    def on_epoch(e, metrics):
        if e == epoch:
            raise StopRun(status="KILLED", tags={"optuna.state": "PRUNED"}, reason="pruned")

    return on_epoch


def test_each_member_trains_as_it_would_alone():
    cfgs = [cfg(*m) for m in MEMBERS]
    seen = []
    members = [Member(c, on_epoch=lambda e, m, k=k: seen.append((k, e))) for k, c in enumerate(cfgs)]
    members[2] = Member(cfgs[2], on_epoch=prune_at(2))
    results = train_population(members, pad_to=PAD, track=False, size=SIZE)
    assert isinstance(results[2], StopRun)
    assert sorted(seen) == [(k, e) for k in range(2) for e in (1, 2, 3)]
    for c, result in zip(cfgs[:2], results[:2]):
        alone = train_run(c, track=False)
        for name in ("train_loss", "val_loss", "val_accuracy"):
            got, want = ([m[name] for m in r.history] for r in (result, alone))
            assert rel(got, want) <= TOLERANCE, name
        assert rel(result.final["test_loss"], alone.final["test_loss"]) <= TOLERANCE
        for (W, b), (W0, b0) in zip(result.params, alone.params):
            assert W.shape == W0.shape and rel(W, W0) <= TOLERANCE and rel(b, b0) <= TOLERANCE


def test_members_are_tracked_runs_with_their_own_endings(sqlite_store):
    cfgs = [cfg(*m) for m in MEMBERS]
    members = [
        Member(cfgs[0], tags={"bplab.kind": "trial"}, run_name="m0"),
        Member(cfgs[1], tags={"bplab.kind": "trial"}, run_name="m1", on_epoch=prune_at(2)),
        Member(cfgs[2].with_values({"train.batch_size": 10_000}), run_name="bad"),
    ]
    with pytest.raises(ValueError, match="share one program"):
        train_population(members, pad_to=PAD)
    results = train_population(members[:2], pad_to=PAD, artifacts="light", size=SIZE)
    client = MlflowClient(sqlite_store)
    done, pruned = client.get_run(results[0].run_id), client.get_run(results[1].run_id)
    assert (done.info.status, pruned.info.status) == ("FINISHED", "KILLED")
    assert pruned.data.tags["optuna.state"] == "PRUNED" and done.data.tags["bplab.kind"] == "trial"
    assert len(client.get_metric_history(done.info.run_id, "val_loss")) == 3
    assert len(client.get_metric_history(pruned.info.run_id, "val_loss")) == 2
    assert done.data.params["n_params"] == str(4 * 2 + 2 + 2 * 3 + 3)  # the true net's, not the padded


def test_an_unreachable_store_fails_every_member_before_any_run_after_one_check(tmp_path, monkeypatch):
    from experiments import tracking
    from experiments.errors import BadInput

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'missing' / 'mlflow.db'}")
    checks = []
    real = tracking.ensure_reachable
    monkeypatch.setattr(tracking, "ensure_reachable", lambda **kw: checks.append(kw) or real(**kw))
    members = [Member(cfg(*m)) for m in MEMBERS]
    results = train_population(members, pad_to=PAD, size=SIZE)
    assert all(isinstance(r, BadInput) and "cannot reach MLflow" in str(r) for r in results), results
    assert len(checks) == 1  # one check for the population, not one per member
    assert not (tmp_path / "missing").exists()


def test_every_epoch_records_in_one_scope_whose_failure_ends_the_members_still_training(sqlite_store):
    events = []

    @contextlib.contextmanager
    def scope():
        events.append("open")
        yield
        events.append("close")
        if events.count("close") == 2:
            raise OSError("the journal's disk is full")

    cfgs = [cfg(*m) for m in MEMBERS[:2]]
    members = [
        Member(cfgs[0], on_epoch=lambda e, m: events.append(("m0", e))),
        Member(cfgs[1], on_epoch=prune_at(1)),
    ]
    results = train_population(members, pad_to=PAD, size=SIZE, epoch_scope=scope)
    assert events == ["open", ("m0", 1), "close", "open", ("m0", 2), "close"]
    assert isinstance(results[1], StopRun) and isinstance(results[0], OSError)
    client = MlflowClient(sqlite_store)
    failed = client.search_runs([client.get_experiment_by_name("digits").experiment_id], "status = 'FAILED'")
    assert [r.data.tags["bplab.failure_reason"] for r in failed] == ["OSError: the journal's disk is full"]
