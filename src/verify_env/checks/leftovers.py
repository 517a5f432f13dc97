"""What interrupted installs leave behind: compiled modules that no installer owns, and pip's
``~``-named stashes.

The classic case: numpy 1.x's ``numpy/core/_multiarray_umath.cpython-311-…so`` left behind
beside numpy 2.x, where it loads before the ``.py`` shim next to it. A leftover the target could
load is an error; one with another interpreter's tag is dead weight, a warning.

pip moves what it uninstalls (or replaces, in an upgrade) to a sibling named with the first
character replaced by ``~`` (``numpy`` -> ``~umpy``, ``numpy-1.26.4.dist-info`` ->
``~umpy-1.26.4.dist-info``) and deletes it when the transaction commits; a ``~`` entry in a
site dir means a transaction that never finished. Python never imports it (not an identifier),
pip warns "Ignoring invalid distribution" about it on every run: a warning, and the other
findings say what the interrupted transaction broke.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from operator import itemgetter, methodcaller

from verify_env.binary.extensions import tagged_suffix
from verify_env.cache.statcache import StatCache, stat_key
from verify_env.checks.interface import Context
from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.repair.hints import install_command

__all__ = ["orphan_packages", "package_dirs", "stashed_leftovers", "unrecorded_extensions"]

_NOT_PACKAGES = (".dist-info", ".egg-info", ".data")
_MODULE_ENDINGS = (".so", ".pyd")
_PATH = itemgetter(0)
_LOCATION = itemgetter(1)
_PARTITION = methodcaller("partition", "/")
_PART_AND_SLASH = itemgetter(0, 1)
_IS_MODULE = methodcaller("endswith", _MODULE_ENDINGS)


def _promises_nothing(f: RecordedFile) -> bool:
    """A record row with neither digest nor size: it says only that the path exists, which
    may be a whole directory (virtualenv's ``--symlink-app-data`` records its links so)."""
    return f.kind is FileKind.REGULAR and f.algorithm is None and f.size is None


def _package_dirs(
    dists: Iterable[Distribution], site_dirs: Iterable[str]
) -> dict[str, Distribution]:
    """Top-level package directory -> the distribution owning most files in it."""
    prefixes = [os.path.normpath(s) + os.sep for s in site_dirs]
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    by_id: dict[str, Distribution] = {}
    for dist in dists:
        ident = f"{dist.source}:{dist.name}:{dist.metadata_dir}"
        by_id[ident] = dist
        for top in dist.editable:  # the working copy of an editable install is its own
            counts[os.path.normpath(top)][ident] += 1 << 30
        tops: Counter[str] = Counter()
        if dist.source == "dist-info" and dist.site_dir is not None and dist.root == dist.site_dir:
            # RECORD paths are relative to the site dir: the first part is the top level
            base = os.path.normpath(dist.site_dir) + os.sep
            # (first part, "/" or "") of every path, counted by C loops (~23k rows)
            parts = Counter(map(_PART_AND_SLASH, map(_PARTITION, map(_PATH, dist.files))))
            tops.update({top: n for (top, slash), n in parts.items() if slash and top})
            if any(not slash for _, slash in parts):
                # a row for a whole top-level directory (virtualenv --symlink-app-data) owns it
                tops.update(
                    f.path for f in dist.files if "/" not in f.path and _promises_nothing(f)
                )
            for top in tops:
                if top not in ("..", "__pycache__") and not top.endswith(_NOT_PACKAGES):
                    counts[base + top][ident] += tops[top]
            continue
        for f in dist.files:
            for prefix in prefixes:
                if f.location.startswith(prefix):
                    top, sep, _ = f.location[len(prefix) :].partition(os.sep)
                    if (
                        sep
                        and top != "__pycache__"
                        and not top.endswith(_NOT_PACKAGES)
                        and top != ".."
                    ):
                        counts[prefix + top][ident] += 1
                    break
    return {top: by_id[c.most_common(1)[0][0]] for top, c in counts.items()}


def _walk(top: str, cache: StatCache) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(directory, names of compiled modules in it) for ``top`` and below, symlinks not
    followed (no loops) and ``__pycache__`` skipped. A directory's listing is reused from the
    cache while its stat key is unchanged: adding, removing or renaming an entry changes the
    directory's mtime and ctime, editing a file in place does not change its name."""
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            key = stat_key(os.stat(directory))
        except OSError:
            continue
        listing = cache.fact("dir", directory, key)
        if isinstance(listing, tuple) and len(listing) == 2:
            subdirs, modules = listing
        else:
            found_dirs: list[str] = []
            found_modules: list[str] = []
            try:
                with os.scandir(directory) as entries:
                    for entry in entries:
                        name = entry.name
                        # the suffix first: a name test is cheaper than a DirEntry call, and
                        # this loop meets every file of every package (~23k in a torch venv)
                        if name.endswith(_MODULE_ENDINGS) and tagged_suffix(name) is not None:
                            try:
                                if not entry.is_dir(follow_symlinks=False):
                                    found_modules.append(name)
                                    continue
                            except OSError:
                                continue
                        try:
                            is_dir = entry.is_dir(follow_symlinks=False)
                        except OSError:
                            continue
                        if is_dir and name != "__pycache__":
                            found_dirs.append(name)
            except OSError:
                continue
            subdirs, modules = tuple(found_dirs), tuple(found_modules)
            cache.remember("dir", directory, key, (subdirs, modules))
        yield directory, modules
        stack.extend(os.path.join(directory, d) for d in subdirs)


def package_dirs(ctx: Context, dists: Iterable[Distribution]) -> dict[str, Distribution]:
    """Top-level package directory -> its owning distribution, for the two checks below
    (computed once: ~20 ms over a torch venv's 23k recorded files)."""
    return _package_dirs(dists, ctx.inventory.site_dirs)


def unrecorded_extensions(ctx: Context, tops: dict[str, Distribution]) -> Iterator[Finding]:
    owned: set[str] = set()
    for d in ctx.inventory.distributions:  # C loops: ~23k rows
        owned.update(filter(_IS_MODULE, map(_LOCATION, d.files)))
    # directories a record lists as a whole (virtualenv's --symlink-app-data links each
    # top-level directory from its image and records only that): what is inside is theirs
    owned_dirs = tuple(
        f.location + os.sep
        for d in ctx.inventory.distributions
        for f in d.files
        if f[2] is None and f[4] is None and _promises_nothing(f) and os.path.isdir(f.location)
    )
    loadable = tuple(s for s in ctx.target.extension_suffixes if s != ".so")
    os_db = ctx.inventory.os_database
    for top, dist in sorted(tops.items()):
        for dirpath, modules in _walk(top, ctx.cache):
            for name in modules:
                location = os.path.join(dirpath, name)
                if location in owned or (owned_dirs and location.startswith(owned_dirs)):
                    continue
                if os_db is not None and os_db.owner(location) is not None:
                    continue
                rel = os.path.relpath(location, os.path.dirname(top))
                can_load = name.endswith(loadable) if loadable else False
                effect = (
                    "the target would load it"
                    if can_load
                    else "the target cannot load it (another interpreter's tag)"
                )
                yield Finding(
                    "record",
                    "unrecorded-extension",
                    Severity.ERROR if can_load else Severity.WARNING,
                    dist.name,
                    dist.version,
                    dist.installer,
                    rel,
                    f"{rel} lies inside {dist.name}'s package but no installer recorded it; "
                    f"{effect} (a leftover of an earlier install?)",
                    f"remove {location}, then: {dist.hint or 'reinstall ' + dist.name}",
                )


def _stash_owner(name: str, dists: Iterable[Distribution]) -> Distribution | None:
    """The installed distribution whose top-level entry or metadata dir the stash stood for:
    same name but for the first character."""
    tail = name[1:]
    for dist in dists:
        meta = os.path.basename(dist.metadata_dir or "")
        if meta[1:] == tail or any(
            f.path[1:].partition("/")[0] == tail for f in dist.files if "/" in f.path
        ):
            return dist
    return None


def stashed_leftovers(ctx: Context, dists: Iterable[Distribution]) -> Iterator[Finding]:
    """``~``-named entries pip left in a site dir after an interrupted uninstall or upgrade."""
    candidates = list(dists)
    for site_dir in ctx.inventory.site_dirs:
        try:
            with os.scandir(site_dir) as entries:
                names = sorted(e.name for e in entries if e.name.startswith("~"))
        except OSError:
            continue
        for name in names:
            owner = _stash_owner(name, candidates)
            location = os.path.join(site_dir, name)
            what = f"{owner.name} {owner.version}'s" if owner is not None else "a distribution's"
            yield Finding(
                "record",
                "leftover-directory",
                Severity.WARNING,
                owner.name if owner else None,
                owner.version if owner else None,
                owner.installer if owner else None,
                name,
                f"{name} in {site_dir} is pip's stash of {what} files from an uninstall or "
                "upgrade that never finished (pip warns 'Ignoring invalid distribution' about "
                "it on every run)",
                f"rm -rf {location!r}, then check the rest of this report: the interrupted "
                "transaction may have left other files half-written",
            )


def orphan_packages(ctx: Context, tops: dict[str, Distribution]) -> Iterator[Finding]:
    """Top-level packages of a site dir that no record owns and that hold compiled modules the
    target would load: what a pip killed while unpacking leaves (the metadata dir is written
    last, so a half-installed ``torch/`` has none). Only on a full run: they belong to no
    distribution a narrower scope could name."""
    if ctx.scope.keys is not None:
        return
    owned = set(tops)  # a full run: the package dirs of every distribution
    loadable = tuple(s for s in ctx.target.extension_suffixes if s != ".so")
    if not loadable:
        return
    os_db = ctx.inventory.os_database
    for site_dir in ctx.inventory.site_dirs:
        base = os.path.normpath(site_dir) + os.sep
        try:
            with os.scandir(site_dir) as entries:
                names = sorted(
                    e.name
                    for e in entries
                    if e.name.isidentifier()
                    and e.name != "__pycache__"
                    and e.is_dir(follow_symlinks=False)
                )
        except OSError:
            continue
        for name in names:
            top = base + name
            if top in owned:
                continue
            modules = [
                os.path.relpath(os.path.join(d, m), site_dir)
                for d, found in _walk(top, ctx.cache)
                for m in found
                if m.endswith(loadable)
            ]
            # dpkg last: reading its database costs ~100 ms, and most unowned dirs hold no
            # compiled module at all
            if not modules or (os_db is not None and os_db.owner(top) is not None):
                continue
            modules.sort()
            yield Finding(
                "record",
                "unrecorded-extension",
                Severity.ERROR,
                None,
                None,
                None,
                name + "/",
                f"{name}/ in {site_dir} holds {len(modules)} compiled module"
                f"{'s' if len(modules) != 1 else ''} the target would load "
                f"({', '.join(modules[:3])}{' …' if len(modules) > 3 else ''}) but no "
                "installer's record owns it: an install interrupted before its metadata was "
                "written, or files copied in by hand",
                f"reinstall the package that should own {name}/ "
                f"({install_command('pip', ctx.target.command_python)} --force-reinstall …), "
                f"or remove {top}",
            )
