"""Where a distribution's recorded files may be read: below its roots, never through a symlink
that leads out of them (issue 18, §9: ``site-packages/escape -> /etc`` with a RECORD row
``escape/shadow`` must not make a root run open /etc/shadow).

Its roots are the environment's (the prefix, the distribution's site dir and scheme base), an
editable install's working copy and project, and the directories an installer links it from
(``Distribution.link_roots``: pdm's cache as ``REFER_TO`` names it), each admitted only when it
is owned like the metadata dir and holds what it should; a link into an unpacked copy of the
same wheel (uv's and pdm's symlink modes) is followed too (`escapes`). Split out of the record
check, which asks `readable_files` which files to open and `roots_of` whether a path that
was left out escaped.
"""

from __future__ import annotations

import os
from itertools import repeat
from operator import itemgetter, methodcaller

from verify_env.inventory import Distribution, RecordedFile
from verify_env.inventory.dialects import owned_alike

__all__ = ["escapes", "readable_files", "resolved_roots", "roots_of"]


def roots_of(dist: Distribution, prefix: str) -> tuple[str, ...]:
    """Where a distribution's recorded files may legitimately live."""
    if dist.installer == "dpkg":  # the whole system, or the whole image under --root
        return (dist.root.rstrip(os.sep) + os.sep,)
    roots = {os.path.normpath(prefix), os.path.normpath(dist.root)}
    if dist.site_dir:
        parts = os.path.normpath(dist.site_dir).split(os.sep)
        for i in range(len(parts) - 1, 0, -1):  # the scheme base: the parent of lib/lib64
            if parts[i] in ("lib", "lib64", "Lib"):
                roots.add(os.sep.join(parts[:i]) or os.sep)
                break
    roots.update(dist.editable)  # an editable install's working copy is its own
    project = _editable_project(dist)
    if project is not None:
        roots.add(project)
    return tuple(r.rstrip(os.sep) + os.sep for r in roots)


_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def _editable_project(dist: Distribution) -> str | None:
    """An editable install's project directory (``direct_url.json``), admitted only when it is
    a project (a pyproject.toml, setup.py or setup.cfg in it) owned like the metadata dir: a
    ``direct_url.json`` naming ``/etc`` admits nothing. setuptools' strict mode links the
    working copy's files from its ``build/`` tree."""
    meta = dist.metadata_dir
    if not meta or dist.source == "conda-meta" or not dist.editable:
        return None
    from verify_env.inventory.editable import project_dir

    project = project_dir(meta)
    if not project or not any(os.path.isfile(os.path.join(project, f)) for f in _PROJECT_FILES):
        return None
    return os.path.realpath(project) if owned_alike(project, meta) else None


def readable_files(dist: Distribution, prefix: str) -> list[RecordedFile]:
    """The recorded files that may be opened: below one of the distribution's roots, through
    no symlinked directory that leads out of them (``site-packages/escape -> /etc`` with a row
    ``escape/shadow``: issue 18, §9), each location once (a RECORD listing one big file a
    thousand times is hashed once)."""
    roots = roots_of(dist, prefix)
    real_roots = None if roots == (os.sep,) else resolved_roots(roots + dist.link_roots)
    dirs: dict[str, bool] = {}
    files = dist.files
    locations = list(map(_LOCATION, files))
    # The usual record: every location once, below a root, in directories that stay inside.
    # Decided by C loops over the locations and one look per directory (~1.5k in a torch venv)
    # instead of a Python loop over every file (~23k): 40 -> 6 ms on a warm run.
    if (
        len(set(locations)) == len(locations)
        and all(map(str.startswith, locations, repeat(roots)))
        and (
            real_roots is None
            or all(
                _dir_stays(_parent(d), roots, real_roots, dirs)
                for d in set(map(_HEAD, map(_RPARTITION, locations)))
            )
        )
    ):
        return list(files)
    seen: set[str] = set()
    out = []
    for f, location in zip(files, locations, strict=True):
        if location in seen or not location.startswith(roots):
            continue
        if real_roots is not None and not _dir_stays(
            _parent(location.rpartition(os.sep)[0]), roots, real_roots, dirs
        ):
            continue
        seen.add(location)
        out.append(f)
    return out


_LOCATION = itemgetter(1)
_RPARTITION = methodcaller("rpartition", os.sep)
_HEAD = itemgetter(0)


def _parent(head: str) -> str:
    """`os.path.dirname` of a location from its ``rpartition`` head: ``/`` for a file at the
    top, and no trailing separators."""
    if not head:
        return os.sep
    return head.rstrip(os.sep) or os.sep


def resolved_roots(roots: tuple[str, ...]) -> tuple[str, ...]:
    return tuple({os.path.realpath(r).rstrip(os.sep) + os.sep for r in roots})


def _dir_stays(
    directory: str, roots: tuple[str, ...], real_roots: tuple[str, ...], memo: dict[str, bool]
) -> bool:
    """Whether ``directory`` (below a root) resolves inside the real roots: one ``lstat`` per
    directory, a ``realpath`` only for a symlinked one."""
    known = memo.get(directory)
    if known is not None:
        return known
    if directory + os.sep in roots or not (directory + os.sep).startswith(roots):
        ok = True  # a root itself (what lies above it is the user's business)
    else:
        ok = _dir_stays(os.path.dirname(directory), roots, real_roots, memo)
        if ok and os.path.islink(directory):
            ok = (os.path.realpath(directory) + os.sep).startswith(real_roots)
    memo[directory] = ok
    return ok


def escapes(dist: Distribution, f: RecordedFile, roots: tuple[str, ...], real: str) -> bool:
    """Whether recorded file ``f``, which resolves to ``real``, lies outside everything the
    distribution may be read from."""
    if real.startswith(resolved_roots(roots + dist.link_roots)):
        return False
    return not _into_wheel_image(dist, f, real)


def _into_wheel_image(dist: Distribution, f: RecordedFile, real: str) -> bool:
    """Whether a recorded file is a link into an unpacked copy of the same wheel, as uv
    (``--link-mode=symlink``) and pdm (its symlink cache methods) make them: the link resolves
    to ``IMAGE/<recorded path>``, ``IMAGE`` holds this distribution's dist-info with its
    RECORD, and ``IMAGE`` belongs to the owner of the metadata dir and is writable by no one
    else. ``escape/shadow -> /etc/shadow`` is none (issue 18 §9): the path does not match, and
    ``/`` holds no dist-info."""
    rel = f.path
    if dist.metadata_dir is None or rel.startswith("/") or ".." in rel.split("/"):
        return False
    if not real.endswith(os.sep + rel):
        return False
    image = real[: -len(rel) - 1] or os.sep
    record = os.path.join(image, os.path.basename(dist.metadata_dir), "RECORD")
    return os.path.isfile(record) and owned_alike(image, dist.metadata_dir)
