"""Before conda links anything: the paths a transaction is about to link that another installed
package already owns (issue 19 §3/§4).

conda's default ``path_conflict: clobber`` overwrites such a file silently; after the link the
prefix holds one path recorded by two distributions, and a rollback that unlinks the newcomer
deletes the other's file too. Caught in "Verifying transaction", refusing changes nothing.

The notion of a conflict is conda's own (``UnlinkLinkTransaction._verify_prefix_level``): a path
a package will link that exists in the prefix and is not unlinked by the same transaction, or
that two linked packages both bring. Unlike conda, the owner must be known (a conda-meta record
that stays, or a pip/uv RECORD conda does not own): an unowned stray file is no conflict between
distributions. Directories, ``.pyc`` files (derived, rewritten by whoever compiles) and
``conda-meta/`` never conflict. A noarch-python package's ``site-packages/`` and
``python-scripts/`` are mapped to the prefix as conda maps them.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from verify_env_conda.cache_check import locate_extracted
from verify_env_conda.records import PackageRef

__all__ = ["Clobber", "LinkedFiles", "find_clobbers", "linked_files", "linked_paths"]

#: ``info/paths.json`` larger than this is not read (the largest real ones are a few MiB).
PATHS_JSON_CAP = 64 << 20
_XY = re.compile(r"^(\d+\.\d+)")


@dataclass(frozen=True, slots=True)
class Clobber:
    """A path a package about to be linked shares with a package that stays."""

    package: PackageRef
    """The package that would link it."""
    path: str
    """Prefix-relative."""
    owner: str
    """Who owns it now: ``conda package NAME VERSION-BUILD`` or ``pip distribution NAME
    VERSION`` (or another package of the same transaction)."""
    owner_key: str | None = None
    """The owner's canonical name when it is installed (it joins the post-link scope: in
    ``warn`` mode its overwritten file is then reported)."""

    @property
    def message(self) -> str:
        return f"{self.package.dist_name} would overwrite {self.path}, which {self.owner} owns"


def _ignored(path: str) -> bool:
    return path.endswith(".pyc") or path.startswith("conda-meta/") or not path


def _noarch_python(extracted: str) -> bool:
    from verify_env.files import read_regular

    data = read_regular(os.path.join(extracted, "info", "index.json"), 1 << 20)
    try:
        index = json.loads(data.decode("utf-8")) if data else {}
    except ValueError:
        return False
    noarch = index.get("noarch") if isinstance(index, dict) else None
    return noarch == "python"


def linked_paths(extracted: str, python_xy: str | None) -> list[str] | None:
    """The prefix-relative paths the package extracted at ``extracted`` links (no
    directories), or None when its ``info/paths.json`` cannot be read (the cache check
    reports that)."""
    from verify_env.files import read_regular

    data = read_regular(os.path.join(extracted, "info", "paths.json"), PATHS_JSON_CAP)
    try:
        paths = json.loads(data.decode("utf-8"))["paths"] if data else None
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(paths, list):
        return None
    noarch = _noarch_python(extracted)
    out = []
    for entry in paths:
        if not isinstance(entry, dict) or not isinstance(entry.get("_path"), str):
            continue
        if entry.get("path_type") == "directory":
            continue
        path: str = entry["_path"]
        if noarch and path.startswith("site-packages/"):
            if python_xy is None:
                continue  # conda itself refuses: "no python version specified"
            path = f"lib/python{python_xy}/{path}"
        elif noarch and path.startswith("python-scripts/"):
            path = "bin/" + path[len("python-scripts/") :]
        out.append(os.path.normpath(path))
    return out


def _python_xy(linked: Sequence[PackageRef], prefix: str) -> str | None:
    """The X.Y of the python the prefix will have: the one linked, else the one recorded."""
    for ref in linked:
        if ref.name == "python" and _XY.match(ref.version):
            return _XY.match(ref.version).group(1)  # type: ignore[union-attr]
    for meta in glob.glob(os.path.join(glob.escape(prefix), "conda-meta", "python-3*.json")):
        m = _XY.match(os.path.basename(meta)[len("python-") :])
        if m:
            return m.group(1)
    return None


def _conda_files(json_path: str) -> tuple[str, list[str]] | None:
    """A conda-meta record's canonical name and ``files`` (prefix-relative, as conda writes
    them, noarch paths included): all the ownership check needs, without ``paths_data``."""
    from verify_env.files import read_regular
    from verify_env.inventory.model import canonical_name

    data = read_regular(json_path, PATHS_JSON_CAP)
    try:
        record = json.loads(data.decode("utf-8")) if data else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("files"), list):
        return None
    name = record.get("name")
    files = [os.path.normpath(f) for f in record["files"] if isinstance(f, str) and f]
    return canonical_name(name if isinstance(name, str) else ""), files


def _owners(prefix: str, unlinked: Iterable[PackageRef]) -> dict[str, tuple[str, str]]:
    """Every prefix-relative path an installed package that stays owns: who (in words, and
    the canonical name)."""
    from verify_env.inventory.dist_info import metadata_entries, read_metadata_dir

    leaving = {ref.dist_name for ref in unlinked}
    owners: dict[str, tuple[str, str]] = {}
    conda_owned: set[str] = set()
    meta = os.path.join(prefix, "conda-meta")
    try:
        records = sorted(n for n in os.listdir(meta) if n.endswith(".json"))
    except OSError:
        records = []
    for name in records:
        read = _conda_files(os.path.join(meta, name))
        if read is None:
            continue
        key, paths = read
        conda_owned.update(paths)
        stem = name[: -len(".json")]
        if stem in leaving:
            continue  # unlinked in the same transaction: its paths are free
        for path in paths:
            owners.setdefault(path, (f"conda package {stem}", key))
    sites = glob.glob(os.path.join(glob.escape(prefix), "lib", "python*", "site-packages"))
    for site in sorted(sites):
        for entry in metadata_entries(site):
            rel = os.path.relpath(os.path.join(site, entry), prefix)
            if rel in conda_owned or any(
                os.path.join(rel, n) in conda_owned for n in ("RECORD", "METADATA", "PKG-INFO")
            ):
                continue  # a conda package's own dist-info: its conda record speaks for it
            dist = read_metadata_dir(site, entry)
            who = (f"{dist.installer} distribution {dist.name} {dist.version}", dist.key)
            for f in dist.files:
                path = os.path.relpath(f.location, prefix)
                if not path.startswith(".."):
                    owners.setdefault(path, who)
    return owners


LinkedFiles = dict[PackageRef, tuple[str, list[str]]]
"""For each package about to be linked that is extracted in the cache: its extracted dir and
the prefix-relative paths it links."""


def linked_files(
    prefix: str, linked: Sequence[PackageRef], pkgs_dirs: Iterable[str]
) -> LinkedFiles:
    """What each package of ``linked`` links, read from its extracted cache dir. A package not
    extracted anywhere is left out (conda refuses to link it anyway)."""
    dirs = list(pkgs_dirs)
    xy = _python_xy(linked, prefix)
    out: LinkedFiles = {}
    for ref in linked:
        extracted = locate_extracted(ref, dirs)
        paths = linked_paths(extracted, xy) if extracted else None
        if extracted and paths is not None:
            out[ref] = (extracted, paths)
    return out


def find_clobbers(prefix: str, files: LinkedFiles, unlinked: Sequence[PackageRef]) -> list[Clobber]:
    """What linking ``files`` (and unlinking ``unlinked``) into ``prefix`` would overwrite."""
    exists = os.path.isdir(os.path.join(prefix, "conda-meta"))
    owners = _owners(prefix, unlinked) if exists else {}
    brought: dict[str, PackageRef] = {}
    found: list[Clobber] = []
    for ref, (_, paths) in files.items():
        for path in paths:
            if _ignored(path):
                continue
            other = brought.setdefault(path, ref)
            if other is not ref:
                found.append(Clobber(ref, path, f"{other.dist_name} (same transaction)"))
            elif path in owners and os.path.lexists(os.path.join(prefix, path)):
                found.append(Clobber(ref, path, *owners[path]))
    return found
