"""backprop_core: an MLP's forward pass and its hand-written backward pass (BP1–BP4), in pure JAX.

No I/O, no tracking, no global state: randomness comes from explicit keys, and every function
takes ``params`` (a tuple of ``(W, b)`` pairs, layer 1 first) and arrays, and returns arrays.
"""

from backprop_core.activations import ACTIVATIONS, Activation, get_activation
from backprop_core.autodiff import autodiff_grads, autodiff_output_errors
from backprop_core.compare import Agreement, agreement, compare_grads, max_rel_err, overall_agreement
from backprop_core.costs import COSTS, Cost, get_cost
from backprop_core.evaluation import evaluate
from backprop_core.metrics import EpochMetrics, StepStats
from backprop_core.network import (
    Backward,
    Cache,
    UnitMasks,
    backward,
    batch_cost,
    batch_weights,
    forward,
    layer_names,
    manual_grads,
    per_sample_costs,
    predict,
    resolve,
)
from backprop_core.padding import init_padded_params, pad_params, unit_masks, unpad_params
from backprop_core.params import INITS, Params, count_params, init_params, layer_sizes
from backprop_core.population import population_epoch, population_evaluate, stack_params, unstack_params
from backprop_core.precision import DTYPES, precision
from backprop_core.train import (
    epoch_batches,
    loss_and_grads,
    sgd_step,
    sgd_update,
    train_epoch,
)

__all__ = [
    "ACTIVATIONS",
    "COSTS",
    "DTYPES",
    "INITS",
    "Activation",
    "Agreement",
    "Backward",
    "Cache",
    "Cost",
    "EpochMetrics",
    "Params",
    "StepStats",
    "UnitMasks",
    "agreement",
    "autodiff_grads",
    "autodiff_output_errors",
    "backward",
    "batch_cost",
    "batch_weights",
    "compare_grads",
    "count_params",
    "epoch_batches",
    "evaluate",
    "forward",
    "get_activation",
    "get_cost",
    "init_padded_params",
    "init_params",
    "layer_names",
    "layer_sizes",
    "loss_and_grads",
    "manual_grads",
    "max_rel_err",
    "overall_agreement",
    "pad_params",
    "per_sample_costs",
    "population_epoch",
    "population_evaluate",
    "precision",
    "predict",
    "resolve",
    "sgd_step",
    "sgd_update",
    "stack_params",
    "train_epoch",
    "unit_masks",
    "unpad_params",
    "unstack_params",
]
