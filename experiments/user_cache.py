"""The user's cache folder for bplab (``$XDG_CACHE_HOME/bplab`` or ``~/.cache/bplab``), private to them.

What is cached there is fed back into bplab (compiled programs, an empty MLflow store), so a folder
someone else owns or can write is not used.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/bplab/<name>``, else ``~/.cache/bplab/<name>`` (not created)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bplab" / name


def private_dir(path: Path) -> Path | None:
    """Creates ``path`` with mode 0700, or tightens it if it is ours; ``None`` if it is not ours
    (someone else's folder could feed us what we then load).

    Raises:
      OSError: the folder cannot be created (a read-only home); callers then go without the cache.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.stat()
    if st.st_uid != os.getuid():
        return None
    if stat.S_IMODE(st.st_mode) & 0o077:
        path.chmod(0o700)
    return path
