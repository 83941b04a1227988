"""One tracked training run: ``train_run`` trains a config and records it; ``prepare`` is its preflight.

The modules, in the order a run meets them: :mod:`.preflight`, :mod:`.initial`, :mod:`.loop` (with
:mod:`.evaluation`), :mod:`.artifacts`, :mod:`.ending`; :mod:`.train` puts them together, and
:mod:`.population` trains K runs of one program as one vmapped computation.
"""

from experiments.run.initial import initial_params, layer_sizes
from experiments.run.loop import OnEpoch
from experiments.run.preflight import prepare
from experiments.run.train import RunResult, compile_programs, train_run

__all__ = [
    "OnEpoch",
    "RunResult",
    "compile_programs",
    "initial_params",
    "layer_sizes",
    "prepare",
    "train_run",
]
