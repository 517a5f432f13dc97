"""Read a conda prefix's ``conda-meta/*.json`` records.

What conda writes, and how each kind of entry is judged:
- ``paths_data.paths[]``: ``_path``, ``path_type``, ``sha256`` (the package's bytes),
  ``sha256_in_prefix`` (the bytes after prefix replacement, when conda recomputed them),
  ``size_in_bytes`` (the package's size: wrong on disk for text-mode prefix-replaced files),
  ``prefix_placeholder`` and ``file_mode``.
- ``pyc_file`` and ``*_python_entry_point*`` entries are made at link time and carry no hash.
- noarch-python packages record ``_path`` relative to site-packages (``site-packages/…``,
  ``python-scripts/…``) while ``files`` holds the real prefix paths.
- records without ``paths_data`` (old conda) fall back to ``files``: existence only.
- a file in ``files`` with no ``paths_data`` entry (conda leaves it out when its size check of
  the package-cache copy failed) is a ``record-malformed`` finding, and is judged by the cache's
  ``info/paths.json`` when the record names a trustworthy one (`inventory.conda_cache`).
"""

from __future__ import annotations

import glob
import json
import os
import re

from verify_env.cache.statcache import StatCache, stat_key
from verify_env.files import read_regular
from verify_env.inventory.model import (
    Distribution,
    FileKind,
    RecordedFile,
    RecordProblem,
    canonical_name,
)

__all__ = ["scan_conda_meta"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_NO_HASH_TYPES = {
    "pyc_file": FileKind.OPTIONAL,
    "unix_python_entry_point": FileKind.GENERATED,
    "windows_python_entry_point_script": FileKind.GENERATED,
    "windows_python_entry_point_exe": FileKind.GENERATED,
}


def _strings(value: object) -> list[str]:
    """A JSON list of strings, or nothing: a record of the wrong shape is data, not a crash."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _site_packages_rel(prefix: str, record: dict[str, object]) -> str | None:
    """Where this prefix keeps site-packages, relative to the prefix."""
    for entry in _strings(record.get("files")):
        head, sep, _ = str(entry).partition("/site-packages/")
        if sep:
            return head + "/site-packages"
    found = sorted(glob.glob(os.path.join(glob.escape(prefix), "lib", "python3*", "site-packages")))
    if found:
        return os.path.relpath(found[-1], prefix)
    return None


def _is_noarch_python(record: dict[str, object]) -> bool:
    noarch = record.get("noarch")
    if isinstance(noarch, dict):
        noarch = noarch.get("type")
    return noarch == "python" or record.get("package_type") == "noarch_python"


def _translate(path: str, noarch: bool, sp_rel: str | None) -> str:
    if noarch:
        if path.startswith("site-packages/") and sp_rel:
            return sp_rel + path[len("site-packages") :]
        if path.startswith("python-scripts/"):
            return "bin" + path[len("python-scripts") :]
    return path


def _entry(prefix: str, raw: object, noarch: bool, sp_rel: str | None) -> RecordedFile | str:
    """One ``paths_data`` entry, or a description of what is wrong with it."""
    if not isinstance(raw, dict) or not isinstance(raw.get("_path"), str):
        return f"paths_data entry {raw!r:.80} has no _path"
    path = _translate(raw["_path"], noarch, sp_rel)
    location = os.path.normpath(os.path.join(prefix, path))
    path_type = raw.get("path_type", "hardlink")
    if not isinstance(path_type, str):
        return f"{path}: path_type {path_type!r} is not a string"
    if path_type == "directory":
        return ""
    if path_type in _NO_HASH_TYPES:
        return RecordedFile(path, location, None, None, None, _NO_HASH_TYPES[path_type])
    if path_type == "softlink":
        return RecordedFile(path, location, None, None, None, FileKind.SOFTLINK)
    placeholder = raw.get("prefix_placeholder")
    digest_hex = raw.get("sha256_in_prefix") or (None if placeholder else raw.get("sha256"))
    size = raw.get("size_in_bytes")
    if placeholder and raw.get("file_mode", "text") != "binary":
        size = None  # text-mode replacement changes the length; binary mode pads to keep it
    digest = None
    if digest_hex is not None:
        digest = str(digest_hex).lower()
        if not _HEX64.fullmatch(digest):
            return f"{path}: sha256 {digest_hex!r} is not 64 hex digits"
    if size is not None and (type(size) is not int or size < 0):
        return f"{path}: size_in_bytes {size!r} is not a size"
    return RecordedFile(path, location, "sha256" if digest else None, digest, size, hex=True)


def _unpromised(
    prefix: str,
    record: dict[str, object],
    json_path: str,
    recorded: list[RecordedFile],
    noarch: bool,
    sp_rel: str | None,
) -> list[RecordedFile]:
    """The files ``files`` lists that ``paths_data`` does not (``.pyc`` aside): judged by the
    package cache's ``info/paths.json`` where the record names a trustworthy one
    (`verify_env.inventory.conda_cache`), else by their existence."""
    covered = {f.path for f in recorded}
    missing = [p for p in _strings(record.get("files")) if p not in covered]
    if not [p for p in missing if not p.endswith(".pyc")]:
        return []
    from verify_env.inventory.conda_cache import cached_paths

    by_path: dict[str, RecordedFile] = {}
    for raw in cached_paths(record, json_path) or ():
        entry = _entry(prefix, raw, noarch, sp_rel)
        if isinstance(entry, RecordedFile):
            by_path[entry.path] = entry
    return [
        by_path.get(p)
        or RecordedFile(
            p,
            os.path.normpath(os.path.join(prefix, p)),
            None,
            None,
            None,
            FileKind.OPTIONAL if p.endswith(".pyc") else FileKind.REGULAR,
        )
        for p in missing
    ]


def read_record(prefix: str, json_path: str) -> Distribution:
    """One conda-meta JSON file as a distribution (a malformed one as its problems)."""
    rel = os.path.relpath(json_path, prefix)
    stem = os.path.basename(json_path)[: -len(".json")]
    guess = stem.rsplit("-", 2)
    problems: list[RecordProblem] = []
    record: dict[str, object] = {}
    try:
        data = read_regular(json_path)
        if data is None:
            raise OSError("not a readable regular file")
        loaded = json.loads(data.decode("utf-8"))
        if isinstance(loaded, dict):
            record = loaded
        else:
            problems.append(RecordProblem("record-malformed", rel, f"{rel} is not a JSON object"))
    except (OSError, ValueError) as exc:
        problems.append(RecordProblem("record-malformed", rel, f"{rel} cannot be read: {exc}"))
    except RecursionError:  # issue 18 §12: JSON nested ~1,000 deep ended the whole run
        problems.append(
            RecordProblem(
                "record-malformed", rel, f"{rel} cannot be read: JSON nested too deeply to parse"
            )
        )
    name = str(record.get("name") or guess[0])
    version = str(record.get("version") or (guess[1] if len(guess) == 3 else "unknown"))
    files: list[RecordedFile] = []
    paths_data = record.get("paths_data")
    paths = paths_data.get("paths") if isinstance(paths_data, dict) else None
    noarch = _is_noarch_python(record)
    sp_rel = _site_packages_rel(prefix, record) if noarch else None
    if isinstance(paths, list):
        for raw in paths:
            entry = _entry(prefix, raw, noarch, sp_rel)
            if isinstance(entry, RecordedFile):
                files.append(entry)
            elif entry:
                problems.append(RecordProblem("record-malformed", rel, f"{rel}: {entry}"))
        unpromised = _unpromised(prefix, record, json_path, files, noarch, sp_rel)
        named = [f.path for f in unpromised if not f.path.endswith(".pyc")]
        if named:
            more = f" and {len(named) - 3} more" if len(named) > 3 else ""
            # Some entries but not these: conda's size check failed for exactly these files.
            # No entry at all is also what `safety_checks: disabled` writes: a warning.
            why = (
                "conda leaves a file out after its own size check found the package-cache "
                "copy wrong"
                if paths
                else "conda writes none with safety_checks disabled, or when its own size "
                "check found every package-cache file wrong"
            )
            problems.append(
                RecordProblem(
                    "record-malformed",
                    rel,
                    f"{rel} lists {len(named)} file(s) with no paths_data entry, so no size "
                    f"or hash: {', '.join(named[:3])}{more} ({why})",
                    warning=not paths,
                )
            )
        files += unpromised
    elif record:
        for path in _strings(record.get("files")):
            kind = FileKind.OPTIONAL if path.endswith(".pyc") else FileKind.REGULAR
            location = os.path.normpath(os.path.join(prefix, path))
            files.append(RecordedFile(path, location, None, None, None, kind))
    depends = _strings(record.get("depends"))
    return _distribution(prefix, json_path, name, version, files, depends, problems)


def _distribution(
    prefix: str,
    json_path: str,
    name: str,
    version: str,
    files: list[RecordedFile],
    depends: list[str],
    problems: list[RecordProblem],
) -> Distribution:
    return Distribution(
        name=name,
        key=canonical_name(name),
        version=version,
        installer="conda",
        source="conda-meta",
        root=prefix,
        metadata_dir=json_path,
        site_dir=None,
        files=tuple(files),
        requires=tuple(depends),
        problems=tuple(problems),
        hint=f"conda install --force-reinstall {name}={version}",
    )


# The cache space of parsed conda-meta records (bump the name when the parse changes).
_META_SPACE = "conda-meta1"


def _cached_record(prefix: str, json_path: str, cache: StatCache | None) -> Distribution:
    """`read_record`, from the stat cache while the JSON file is unchanged. Parsing a large
    environment's records (``paths_data`` of every file) was most of the conda plugin's cost
    after a one-package transaction; only records without problems are remembered, so those
    (and their package-cache fallback) are always read afresh."""
    key = None
    if cache is not None and cache.enabled:
        try:
            key = stat_key(os.stat(json_path))
        except OSError:
            key = None
        value = cache.fact(_META_SPACE, json_path, key) if key is not None else None
        if isinstance(value, tuple) and len(value) == 4:
            name, version, rows, depends = value
            files = [
                RecordedFile(row[0], row[1], row[2], row[3], row[4], FileKind(row[5]), row[6])
                for row in rows
            ]
            return _distribution(prefix, json_path, name, version, files, list(depends), [])
    dist = read_record(prefix, json_path)
    if key is not None and cache is not None and not dist.problems:
        rows = tuple((*f[:5], f.kind.value, f.hex) for f in dist.files)
        cache.remember(_META_SPACE, json_path, key, (dist.name, dist.version, rows, dist.requires))
    return dist


def scan_conda_meta(prefix: str, cache: StatCache | None = None) -> list[Distribution]:
    """Every record in ``prefix/conda-meta`` (none if it is not a conda prefix)."""
    meta = os.path.join(prefix, "conda-meta")
    try:
        names = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError:
        return []
    return [_cached_record(prefix, os.path.join(meta, n), cache) for n in names]
