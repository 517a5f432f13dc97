"""Where a distribution's recorded files may be read: below its roots, never through a symlink
that leads out of them (issue 18, §9: ``site-packages/escape -> /etc`` with a RECORD row
``escape/shadow`` must not make a root run open /etc/shadow).

Its roots are the environment's (the prefix, the distribution's site dir and scheme base), an
editable install's working copy, and the directories an installer links it from, each admitted
only when it holds the distribution's own metadata (`installer_images`). Split out of the record
check, which asks `readable_files` which files to open and `roots_of` whether a path that
was left out escaped.
"""

from __future__ import annotations

import os

from verify_env.files import read_regular
from verify_env.inventory import Distribution, RecordedFile

__all__ = ["installer_images", "readable_files", "resolved_roots", "roots_of"]


def roots_of(dist: Distribution, prefix: str) -> tuple[str, ...]:
    """Where a distribution's recorded files may legitimately live."""
    if dist.installer == "dpkg":
        return (os.sep,)
    roots = {os.path.normpath(prefix), os.path.normpath(dist.root)}
    if dist.site_dir:
        parts = os.path.normpath(dist.site_dir).split(os.sep)
        for i in range(len(parts) - 1, 0, -1):  # the scheme base: the parent of lib/lib64
            if parts[i] in ("lib", "lib64", "Lib"):
                roots.add(os.sep.join(parts[:i]) or os.sep)
                break
    roots.update(dist.editable)  # an editable install's working copy is its own
    roots.update(installer_images(dist))
    return tuple(r.rstrip(os.sep) + os.sep for r in roots)


_PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg")


def installer_images(dist: Distribution) -> set[str]:
    """Directories outside the environment that an installer links this distribution's files
    from, each admitted only when it holds the distribution's own metadata (so a ``REFER_TO``
    or a ``direct_url.json`` naming ``/etc`` admits nothing): virtualenv's app-data image (the
    metadata dir itself a symlink into it, ``--symlink-app-data``), pdm's cached wheel
    (``REFER_TO``, its symlink modes), and an editable install's project (``direct_url.json``
    naming a directory with a pyproject.toml, setup.py or setup.cfg: strict mode links its
    files from ``build/``). A resolved file must still lie inside one of them."""
    meta = dist.metadata_dir
    if not meta or dist.source == "conda-meta":
        return set()
    name = os.path.basename(meta)
    out: set[str] = set()
    if os.path.islink(meta):
        real = os.path.realpath(meta)
        if os.path.isfile(os.path.join(real, "RECORD")):
            out.add(os.path.dirname(real))
    refer = read_regular(os.path.join(meta, "REFER_TO"), 4096)
    if refer:
        cached = os.path.realpath(refer.decode("utf-8", "surrogateescape").strip())
        if os.path.isabs(cached) and os.path.isfile(os.path.join(cached, name, "RECORD")):
            out.add(cached)
    from verify_env.inventory.editable import project_dir

    project = project_dir(meta)
    if project and any(os.path.isfile(os.path.join(project, f)) for f in _PROJECT_FILES):
        out.add(os.path.realpath(project))
    return out


def readable_files(dist: Distribution, prefix: str) -> list[RecordedFile]:
    """The recorded files that may be opened: below one of the distribution's roots, through
    no symlinked directory that leads out of them (``site-packages/escape -> /etc`` with a row
    ``escape/shadow``: issue 18, §9), each location once (a RECORD listing one big file a
    thousand times is hashed once)."""
    roots = roots_of(dist, prefix)
    real_roots = None if roots == (os.sep,) else resolved_roots(roots)
    seen: set[str] = set()
    dirs: dict[str, bool] = {}
    out = []
    for f in dist.files:
        location = f.location
        if location in seen or not location.startswith(roots):
            continue
        if real_roots is not None and not _dir_stays(
            os.path.dirname(location), roots, real_roots, dirs
        ):
            continue
        seen.add(location)
        out.append(f)
    return out


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
