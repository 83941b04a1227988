"""JAX's persistent compilation cache, in a folder only this user can read.

Every bplab process that trains compiles the same few dozen programs (the epoch, evaluation, the
gradient check) again, and sweep workers are fresh processes (spawned, not forked). With the cache on
disk a second ``bplab train`` or a new worker loads them instead. The cache holds compiled code that
JAX loads and runs, so it lives in a private folder (mode 0700) that nobody else can write.

It is process-wide JAX configuration, so the entry points turn it on (each ``bplab`` verb that
compiles, and a spawned sweep worker), not the library functions they call.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from experiments.user_cache import private_dir, user_cache

ENV_CACHE = "BPLAB_JAX_CACHE"


def cache_dir() -> Path:
    """``$BPLAB_JAX_CACHE``, else ``$XDG_CACHE_HOME/bplab/jax``, else ``~/.cache/bplab/jax``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    return user_cache("jax")


def enable_compilation_cache() -> Path | None:
    """Turns on JAX's persistent compilation cache for this process; returns the folder used."""
    try:
        folder = private_dir(cache_dir())
    except OSError:
        return None  # a read-only home: run without the cache rather than fail the command
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Our programs compile in well under a second; cache them all, they are what a new worker repeats.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
