"""Editable installs: the working copy a distribution installed in development mode exposes.

An editable install records only its hooks (a ``__editable__.*.pth`` path line, a
``__editable___*_finder.py`` with a ``MAPPING`` of top-level names to directories, or a legacy
``*.egg-link`` beside ``easy-install.pth``) while its modules live in the developer's source
tree, compiled extensions built in place included. That tree is owned by the distribution: what
lies in its package directories is the developer's, never an unrecorded leftover to delete, and
its extension modules still get the tags and linkage checks (issue 16 §2).

Nothing here runs the environment's code: ``.pth`` lines are read as text, the finder's
``MAPPING`` is read with `ast.literal_eval`, every read is size-capped, and only directories
inside the project the install points at are looked into.
"""

from __future__ import annotations

import ast
import json
import os
from urllib.parse import unquote, urlsplit

from verify_env.binary.extensions import tagged_suffix
from verify_env.files import read_regular
from verify_env.inventory.model import FileKind, RecordedFile

__all__ = ["editable_dirs", "egg_links", "extension_files", "packages_in", "project_dir"]

_SMALL = 1 << 20  # .pth, finder, direct_url.json, egg-link: a few hundred bytes in practice
_WALK_CAP = 50_000  # directory entries looked at per working copy, at most


def project_dir(meta_dir: str) -> str | None:
    """The project directory of a PEP 610 editable install (``direct_url.json`` with
    ``dir_info.editable`` true and a ``file:`` URL), else None."""
    data = read_regular(os.path.join(meta_dir, "direct_url.json"), _SMALL)
    if not data:
        return None
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    if not isinstance(doc, dict):
        return None
    info, url = doc.get("dir_info"), doc.get("url")
    if not isinstance(info, dict) or info.get("editable") is not True or not isinstance(url, str):
        return None
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    path = os.path.normpath(unquote(parts.path))
    return path if os.path.isabs(path) else None


def _within(path: str, root: str) -> bool:
    root = root.rstrip(os.sep) + os.sep
    return path.startswith(root) or path + os.sep == root


def packages_in(directory: str) -> list[str]:
    """Top-level package directories of a sys.path entry (identifier-named dirs)."""
    try:
        with os.scandir(directory) as entries:
            return sorted(
                e.path
                for e in entries
                if e.name.isidentifier() and e.name != "__pycache__" and e.is_dir()
            )
    except OSError:
        return []


def _finder_mapping(text: str) -> list[str]:
    """The directories of setuptools' editable finder ``MAPPING = {...}``, read as a literal."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    target: ast.expr
    expr: ast.expr
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, expr = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, expr = node.targets[0], node.value
        else:
            continue
        if not isinstance(target, ast.Name) or target.id != "MAPPING":
            continue
        try:
            value = ast.literal_eval(expr)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            return []
        if isinstance(value, dict):
            return [v for v in value.values() if isinstance(v, str)]
    return []


def editable_dirs(
    site_dir: str, project: str, files: tuple[RecordedFile, ...] | list[RecordedFile]
) -> tuple[str, ...]:
    """The package directories inside ``project`` that the recorded hooks put on the import
    path: the path lines of recorded ``.pth`` files, the values of a recorded finder's
    ``MAPPING``."""
    found: list[str] = []
    site = os.path.normpath(site_dir)
    for f in files:
        name = os.path.basename(f.location)
        if not name.startswith("__editable__") or os.path.dirname(f.location) != site:
            continue  # hooks work only from the site dir itself
        data = read_regular(f.location, _SMALL)
        if data is None:
            continue
        text = data.decode("utf-8", "surrogateescape")
        if name.endswith(".pth"):
            for line in text.splitlines():
                line = line.strip()
                if not line or line.startswith(("#", "import ", "import\t")):
                    continue
                entry = os.path.normpath(os.path.join(site_dir, line))
                if _within(entry, project):
                    found.extend(packages_in(entry))
        elif name.endswith(".py"):
            for value in _finder_mapping(text):
                entry = os.path.normpath(os.path.join(site_dir, value))
                if _within(entry, project) and os.path.isdir(entry):
                    found.append(entry)
    return tuple(dict.fromkeys(found))


def egg_links(site_dirs: tuple[str, ...]) -> set[str]:
    """Directories named by the ``*.egg-link`` files of the site dirs (``setup.py develop``,
    ``pip install -e`` with setuptools before PEP 660): each holds an editable egg-info."""
    out: set[str] = set()
    for site_dir in site_dirs:
        try:
            names = [n for n in os.listdir(site_dir) if n.endswith(".egg-link")]
        except OSError:
            continue
        for name in names:
            data = read_regular(os.path.join(site_dir, name), _SMALL)
            if not data:
                continue
            first = data.decode("utf-8", "surrogateescape").splitlines()[0].strip()
            if first:
                out.add(os.path.realpath(os.path.join(site_dir, first)))
    return out


def extension_files(dirs: tuple[str, ...]) -> list[RecordedFile]:
    """The compiled modules in the working copy's package dirs, as rows that promise only
    that they exist (no installer recorded their bytes: they are the developer's builds), so
    that the tags and linkage checks see them. Only package directories (identifier names)
    are descended into, symlinked ones not followed."""
    out: list[RecordedFile] = []
    budget = _WALK_CAP
    for top in dirs:
        stack = [top]
        while stack and budget > 0:
            directory = stack.pop()
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        budget -= 1
                        name = entry.name
                        try:
                            if entry.is_dir(follow_symlinks=False):
                                # only packages: build/lib.linux-…/ holds stale copies
                                if name.isidentifier() and name != "__pycache__":
                                    stack.append(entry.path)
                            elif name.endswith((".so", ".pyd")) and tagged_suffix(name):
                                location = os.path.normpath(entry.path)
                                out.append(
                                    RecordedFile(
                                        location, location, None, None, None, FileKind.REGULAR
                                    )
                                )
                        except OSError:
                            continue
            except OSError:
                continue
    return out
