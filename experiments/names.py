"""The names users and dashboards see: MLflow tags and Optuna trial/study attributes.

One place for each string, so a tag is never spelled two ways. MLflow tags are ``TAG_*``; Optuna
user attributes (on studies and trials) are ``ATTR_*``. Both live here, in the lowest layer that
writes them, so ``experiments`` and ``sweeps`` import them downward.
"""

# --- MLflow run tags -------------------------------------------------------------------------------
TAG_KIND = "bplab.kind"  # run | trial | sweep | regression | gradcheck
TAG_GRAD = "bplab.grad"  # manual | autodiff
TAG_FAILURE = "bplab.failure"  # a stable category: diverged, gradient_mismatch, exception, …
TAG_FAILURE_REASON = "bplab.failure_reason"  # one line saying why
TAG_STOP_REASON = "bplab.stop_reason"
TAG_GRADCHECK_EQUATION = "bplab.gradcheck.equation"
TAG_GRADCHECK_TENSOR = "bplab.gradcheck.tensor"
TAG_PRUNED_AT = "bplab.pruned_at"
TAG_STUDY = "optuna.study"
TAG_TRIAL = "optuna.trial"
TAG_TRIAL_STATE = "optuna.state"
TAG_RETRY_OF = "optuna.retry_of"
TAG_SWEEP_STOPPED = "sweep.stopped"
TAG_SWEEP_POISON = "sweep.poison"  # param sets given up on: they failed the same way twice
TAG_FAULT = "bplab.fault"  # the planted backward pass a test ran: nobody trusts such a run
TAG_SUITE = "regression.suite"
TAG_CASE = "regression.case"
TAG_CASE_KIND = "regression.case_kind"  # train | gradcheck | throughput
TAG_CASE_PASSED = "regression.case_passed"  # true | false
TAG_SUITE_PASSED = "regression.passed"  # true | false
TAG_FAILED_CASES = "regression.failed_cases"
KIND_REGRESSION = "regression"  # the TAG_KIND of a suite run and of its cases
TAG_TRIAL_REASON = "bplab.reason"  # why a sweep ended a trial's run itself (its worker was lost)
TAG_HOST = "bplab.host"  # the host of the process that opened the run
TAG_PID = "bplab.pid"  # that process's pid
TAG_PID_START = "bplab.pid_start"  # and its start time (clock ticks since boot): a reused pid differs
TAG_BEST_TRIAL = "best.trial"  # on a sweep's parent: the number of its best trial

# --- Optuna user attributes ------------------------------------------------------------------------
ATTR_HOST = "bplab.host"
ATTR_PID = "bplab.pid"
ATTR_PID_START = "bplab.pid_start"
ATTR_RUN_ID = "bplab.run_id"
ATTR_FAILURE = TAG_FAILURE  # a failed trial carries the same category as its run
ATTR_REASON = "bplab.reason"
ATTR_TEST_ACCURACY = "bplab.test_accuracy"
ATTR_CONFIG = "bplab.config"
ATTR_SOURCE = "bplab.source"
ATTR_BUDGET = "bplab.n_trials"
ATTR_TRACKING = "bplab.tracking_uri"
ATTR_PARENT = "bplab.parent_run_id"
ATTR_FINALIZED = "bplab.finalized_trials"
ATTR_SAMPLER_SEED = "bplab.sampler_seed"  # the sampler seed of the process that ran a trial
ATTR_SAMPLERS = "bplab.samplers"  # on the study: how many samplers were made (each seed derives from it)

# --- failure categories (values of TAG_FAILURE) ----------------------------------------------------
DIVERGED = "diverged"
GRADIENT_MISMATCH = "gradient_mismatch"
EXCEPTION = "exception"
REGRESSION = "regression"
INTERRUPTED = "interrupted"  # a trial stopped by SIGINT/SIGTERM; its params are queued again
WORKER_LOST = "worker_lost"  # a trial whose process died; its params are queued again
OOM = "oom"  # out of memory: MemoryError, or XLA's RESOURCE_EXHAUSTED
TRACKING_UNAVAILABLE = "tracking_unavailable"  # the MLflow server did not answer
STORAGE_UNAVAILABLE = "storage_unavailable"  # the Optuna storage did not answer
BAD_CONFIG = "bad_config"  # a sampled point that is not a valid config (e.g. a batch larger than the data)
