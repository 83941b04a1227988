"""JAX's persistent compilation cache, in a folder only this user can read.

A sweep compiles one program per architecture; workers are fresh processes (spawned, not forked), so
without a cache on disk every worker compiles every architecture again. The cache holds compiled
code that JAX loads and runs, so it lives in a private folder (mode 0700) that nobody else can write.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jax

ENV_CACHE = "BPLAB_JAX_CACHE"


def cache_dir() -> Path:
    """``$BPLAB_JAX_CACHE``, else ``$XDG_CACHE_HOME/bplab/jax``, else ``~/.cache/bplab/jax``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bplab" / "jax"


def private_dir(path: Path) -> Path | None:
    """Creates ``path`` with mode 0700, or tightens it if it is ours; ``None`` if it is not ours
    (someone else's folder could feed us compiled code, so it is not used)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        return None
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path


def enable_compilation_cache() -> Path | None:
    """Turns on JAX's persistent compilation cache for this process; returns the folder used."""
    try:
        folder = private_dir(cache_dir())
    except OSError:
        return None  # a read-only home: run without the cache rather than fail the sweep
    if folder is None:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Our programs compile in well under a second; cache them all, they are what a new worker repeats.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
