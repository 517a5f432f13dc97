"""Before conda links anything: the extracted package-cache files against ``info/paths.json``.

conda hard-links (or copies) files from ``pkgs/<name>-<version>-<build>/`` into the prefix and,
by default, compares only their sizes (``extra_safety_checks`` hashes them). A cache file damaged
on disk, or a package whose ``paths.json`` lies about its own bytes, is caught here, in conda's
"Verifying transaction" step, where refusing changes nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verify_env_conda.records import PackageRef

__all__ = ["CacheProblem", "check_cache", "locate_extracted"]


@dataclass(frozen=True, slots=True)
class CacheProblem:
    """A package-cache file that differs from its package's ``paths.json``."""

    package: PackageRef
    """The package it belongs to."""
    path: str
    """The file, relative to the extracted package dir ("" for the package as a whole)."""
    message: str
    """What differs, quoting both sides."""
    extracted: str = ""
    """The extracted package dir it was found in."""


def locate_extracted(ref: PackageRef, pkgs_dirs: Iterable[str]) -> str | None:
    """The extracted package dir of ``ref``: its record's own, else ``<pkgs_dir>/<dist>``."""
    candidates = [ref.extracted_package_dir] if ref.extracted_package_dir else []
    candidates += [os.path.join(d, ref.dist_name) for d in pkgs_dirs]
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, "info", "paths.json")):
            return candidate
    return None


def _entries(ref: PackageRef, extracted: str) -> list[tuple[str, str, int]] | CacheProblem:
    """(relative path, sha256, size or -1) of every regular file ``paths.json`` lists."""
    paths_json = os.path.join(extracted, "info", "paths.json")
    try:
        with open(paths_json, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8"))
        paths = doc["paths"]
        if not isinstance(paths, list):
            raise TypeError("'paths' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return CacheProblem(
            ref, "info/paths.json", f"{paths_json} cannot be read: {exc}", extracted
        )
    out = []
    for entry in paths:
        if not isinstance(entry, dict) or not isinstance(entry.get("_path"), str):
            return CacheProblem(
                ref, "info/paths.json", f"{paths_json}: entry {entry!r:.80} has no _path", extracted
            )
        if entry.get("path_type", "hardlink") != "hardlink":
            continue  # softlinks and directories carry no content of their own
        sha = entry.get("sha256")
        if not isinstance(sha, str):
            continue  # old packages without hashes: nothing to compare against
        size = entry.get("size_in_bytes")
        out.append((entry["_path"], sha.lower(), size if type(size) is int else -1))
    return out


def check_cache(
    refs: Sequence[PackageRef], pkgs_dirs: Iterable[str], jobs: int | None = None
) -> list[CacheProblem]:
    """Hash every regular file of every package in ``refs`` as extracted in the cache.

    A package that is not extracted anywhere is left alone: conda itself refuses to link it.
    """
    from verify_env.pool.hashing import hash_files

    dirs = list(pkgs_dirs)
    problems: list[CacheProblem] = []
    items: list[tuple[str, str, int]] = []
    owners: list[tuple[PackageRef, str, str, str]] = []
    for ref in refs:
        extracted = locate_extracted(ref, dirs)
        if extracted is None:
            continue
        entries = _entries(ref, extracted)
        if isinstance(entries, CacheProblem):
            problems.append(entries)
            continue
        for rel, sha, size in entries:
            items.append((os.path.join(extracted, rel), "sha256", size))
            owners.append((ref, rel, sha, extracted))
    sizes = [max(size, 0) for _, _, size in items]
    for (ref, rel, sha, where), (path, _, size), result in zip(
        owners, items, hash_files(items, sizes, jobs), strict=True
    ):
        if isinstance(result, bytes):
            if result.hex() != sha:
                message = f"{path}: sha256 {result.hex()} differs from paths.json's {sha}"
            else:
                continue
        elif isinstance(result, int):
            message = f"{path}: {result} bytes, paths.json says {size}"
        else:
            message = f"{path}: cannot be read ({result})"
        problems.append(CacheProblem(ref, rel, message, where))
    return problems
