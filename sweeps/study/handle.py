"""An open study together with what the sweep stored in it; what every other study module acts on."""

from __future__ import annotations

from dataclasses import dataclass

import optuna

from experiments.config import RunConfig
from sweeps.space import SweepSpec
from sweeps.study.url import StorageURL


@dataclass
class StudyHandle:
    """An open study with what the sweep stored in it.

    Attributes:
      url: where the study lives; study: the open Optuna study.
      base: the resolved base config; spec: its validated ``[sweep]``.
      budget: the study's total number of original trials.
      tracking_uri: the MLflow store every worker writes to.
      parent_run_id: the sweep's parent MLflow run, once opened.
      sampler_seed: this process's sampler seed (``None``: unseeded), recorded on its trials.
    """

    url: StorageURL
    study: optuna.Study
    base: RunConfig
    spec: SweepSpec
    budget: int
    tracking_uri: str
    parent_run_id: str | None
    sampler_seed: int | None = None

    @property
    def name(self) -> str:
        return self.study.study_name
