"""The package-cache ``info/paths.json`` a conda record names, for the files the record itself
promises nothing about (issue 19 §12).

conda writes a ``paths_data`` entry for a file only when its own check of the package-cache copy
passed: after "SafetyError: The package … appears to be corrupted" (the cache copy's size differs
from ``paths.json``), with the default ``safety_checks: warn``, it links the file anyway and
leaves it out of ``paths_data``, in this and every later environment that links the same copy.
The record then lists the file in ``files`` with no size and no hash. The package's own
``info/paths.json`` still says what the file should be, so it is read, but only from the cache
directory the record itself names (``extracted_package_dir``, agreeing with ``link.source`` when
both are there), only when that file is owned by the record's owner or root and writable by no
one else, and bounded like every other read.
"""

from __future__ import annotations

import json
import os
import stat

from verify_env.files import open_regular, read_regular

__all__ = ["PATHS_JSON_CAP", "cached_paths"]

PATHS_JSON_CAP = 64 << 20
"""``info/paths.json`` larger than this is not read (the largest real ones are a few MiB)."""


def _cache_dir(record: dict[str, object]) -> str | None:
    extracted = record.get("extracted_package_dir")
    link = record.get("link")
    source = link.get("source") if isinstance(link, dict) else None
    if not isinstance(extracted, str) or not os.path.isabs(extracted):
        return None
    if isinstance(source, str) and os.path.normpath(source) != os.path.normpath(extracted):
        return None
    return extracted


def _trusted(path: str, owner: int) -> bool:
    """A regular file owned by ``owner`` or root that only its owner may write."""
    opened = open_regular(path)
    if opened is None:
        return False
    fd, st = opened
    os.close(fd)
    return st.st_uid in (owner, 0) and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def cached_paths(record: dict[str, object], json_path: str) -> list[dict[str, object]] | None:
    """The ``paths`` entries of the cache copy's ``info/paths.json`` named by ``record`` (read
    from ``json_path``), or None when there is none that may be trusted."""
    directory = _cache_dir(record)
    if directory is None:
        return None
    paths_json = os.path.join(directory, "info", "paths.json")
    try:
        owner = os.stat(json_path).st_uid
    except OSError:
        return None
    if not _trusted(paths_json, owner):
        return None
    data = read_regular(paths_json, PATHS_JSON_CAP + 1)
    if data is None or len(data) > PATHS_JSON_CAP:
        return None
    try:
        paths = json.loads(data.decode("utf-8")).get("paths")
    except (ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(paths, list):
        return None
    return [p for p in paths if isinstance(p, dict)]
