"""backprop_core: an MLP's forward pass and its hand-written backward pass (BP1–BP4), in pure JAX.

No I/O, no tracking, no global state: randomness comes from explicit keys, and every function
takes ``params`` (a tuple of ``(W, b)`` pairs, layer 1 first) and arrays, and returns arrays.
"""

from backprop_core.activations import ACTIVATIONS, Activation, get_activation
from backprop_core.autodiff import autodiff_grads, autodiff_output_errors
from backprop_core.compare import Agreement, agreement, compare_grads, max_rel_err, overall_agreement
from backprop_core.costs import COSTS, Cost, get_cost
from backprop_core.network import (
    Backward,
    Cache,
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
from backprop_core.params import INITS, Params, count_params, init_params, layer_sizes
from backprop_core.precision import DTYPES, precision
from backprop_core.train import (
    EpochMetrics,
    StepStats,
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
    "agreement",
    "autodiff_grads",
    "autodiff_output_errors",
    "backward",
    "batch_cost",
    "batch_weights",
    "compare_grads",
    "count_params",
    "epoch_batches",
    "forward",
    "get_activation",
    "get_cost",
    "init_params",
    "layer_names",
    "layer_sizes",
    "loss_and_grads",
    "manual_grads",
    "max_rel_err",
    "overall_agreement",
    "per_sample_costs",
    "precision",
    "predict",
    "resolve",
    "sgd_step",
    "sgd_update",
    "train_epoch",
]
