"""Small suites made of the shipped suite's own cases, so the shipped baseline applies to them."""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from mlflow.tracking import MlflowClient

REPO = Path(__file__).resolve().parents[3]
SUITE = REPO / "experiments" / "configs" / "regression.toml"
BASELINE = REPO / "experiments" / "baselines" / "regression.json"

# The cheapest gradcheck case: no epochs between the checks, float64 (so its limit is 1e-10).
GRADCHECK_XOR = {
    "name": "gradcheck-xor-float64",
    "kind": "gradcheck",
    "config": "xor.toml",
    "set": ['train.dtype="float64"'],
    "epochs": 0,
}


def mini_suite(
    folder: Path, cases: list[dict], *, baseline: Path = BASELINE, name: str = "regression"
) -> Path:
    """A suite file in ``folder`` with ``cases`` (dicts as in the TOML), configs resolved absolutely."""
    fixed = [{**case, "config": str((SUITE.parent / case["config"]).resolve())} for case in cases]
    path = folder / f"{name}-mini.toml"
    path.write_text(tomli_w.dumps({"suite": {"name": name, "baseline": str(baseline)}, "case": fixed}))
    return path


def shipped_case(name: str) -> dict:
    """A case of the shipped suite, as its TOML table (so its baseline numbers apply)."""
    cases = tomllib.loads(SUITE.read_text())["case"]
    return next(c for c in cases if c["name"] == name)


def runs_of(uri: str, experiment: str = "regression") -> tuple[MlflowClient, list, list]:
    """``(client, parent runs, child runs)`` of ``experiment`` in the store at ``uri``."""
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id]) if exp else []
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return client, parents, [r for r in runs if r not in parents]


def artifact_text(client: MlflowClient, run_id: str, folder: Path, name: str = "report.md") -> str:
    """An artifact of a run, downloaded into ``folder``, as text."""
    return Path(client.download_artifacts(run_id, name, str(folder))).read_text()
