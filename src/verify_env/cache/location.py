"""Where verify-env keeps what it learns about a prefix, outside the prefix itself.

Apart from `statcache` so that pipv can find its journal beside the stat cache without
importing the cache (dataclasses, marshal, zlib): pipv looks there on every pip command.
"""

from __future__ import annotations

import hashlib
import os
import sys

__all__ = ["cache_path_for", "user_cache_dir"]


def user_cache_dir() -> str:
    """platformdirs' user cache dir for verify-env; on Linux by its rule written out
    (``$XDG_CACHE_HOME`` or ``~/.cache``): importing platformdirs costs ~10 ms of every run,
    and tests/unit/test_statcache.py holds the two equal."""
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_CACHE_HOME", "").strip()
        if not base:
            base = os.path.expanduser("~/.cache")
        return os.path.join(base, "verify-env")
    import platformdirs

    return platformdirs.user_cache_dir("verify-env", appauthor=False)


def cache_path_for(prefix: str) -> str:
    """The cache file for one prefix (``VERIFY_ENV_CACHE_DIR`` overrides the location)."""
    base = os.environ.get("VERIFY_ENV_CACHE_DIR") or user_cache_dir()
    tag = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape"))
    return os.path.join(base, "stat-cache", tag.hexdigest()[:24] + ".bin")
