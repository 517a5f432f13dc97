"""Where verify-env keeps what it learns about a prefix, outside the prefix itself.

Apart from `statcache` so that pipv can find its journal beside the stat cache without
importing the cache (dataclasses, marshal, zlib): pipv looks there on every pip command.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping

__all__ = ["CACHE_DIR_ENV", "cache_path_for", "env_cache_dir", "user_cache_dir"]

CACHE_DIR_ENV = "VERIFY_ENV_CACHE_DIR"


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


def env_cache_dir(environ: Mapping[str, str]) -> str | None:
    """``VERIFY_ENV_CACHE_DIR``, unless ``VERIFY_ENV_ISOLATED`` says to read no variable (issue
    18, §5). The settings take it from here (`verify_env.settings.config.Settings.cache_dir`),
    and so does pipv's journal, which is found before any setting is loaded."""
    if environ.get("VERIFY_ENV_ISOLATED", "").strip().lower() in ("1", "true", "yes", "on"):
        return None
    return environ.get(CACHE_DIR_ENV) or None


def cache_path_for(prefix: str, directory: str | None = None) -> str:
    """The cache file for one prefix, in ``directory`` (a run passes its settings' cache dir
    or the user cache dir); None: `env_cache_dir`, else the user cache dir."""
    base = directory or env_cache_dir(os.environ) or user_cache_dir()
    tag = hashlib.sha256(os.path.realpath(prefix).encode("utf-8", "surrogateescape"))
    return os.path.join(base, "stat-cache", tag.hexdigest()[:24] + ".bin")
