"""Inventory: every installed distribution with the files its authoritative record lists.

Sources, each judged by its own installer: ``*.dist-info/RECORD`` (pip, uv …),
``*.egg-info/installed-files.txt`` (existence only), ``conda-meta/*.json``, and dpkg's
database for what the OS installed.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from verify_env.cache.statcache import StatCache
from verify_env.inventory import editable
from verify_env.inventory.conda_meta import scan_conda_meta
from verify_env.inventory.dist_info import metadata_entries, read_metadata_dir
from verify_env.inventory.dpkg import DpkgDatabase
from verify_env.inventory.model import (
    Distribution,
    FileKind,
    Inventory,
    RecordedFile,
    RecordProblem,
)
from verify_env.repair.hints import install_command
from verify_env.target.model import Target

__all__ = [
    "Distribution",
    "FileKind",
    "Inventory",
    "RecordProblem",
    "RecordedFile",
    "build_inventory",
]

# INSTALLER values that mean "the OS put it there"; no INSTALLER at all is the common case.
_OS_INSTALLERS = frozenset({"unknown", "debian", "dpkg", "apt"})


def _conda_owner(conda: list[Distribution]) -> dict[str, Distribution]:
    return {f.location: d for d in conda for f in d.files}


def _split_package_modules(
    dist: Distribution, stem: str, files: tuple[RecordedFile, ...], dpkg: DpkgDatabase
) -> tuple[RecordedFile, ...]:
    """The compiled modules inside the distribution's packages that another OS package
    installed: Debian splits them out (``python3-pandas-lib`` beside ``python3-pandas``), and
    the distribution imports them, so they are checked with it (tags, linkage, NumPy ABI),
    each judged by its own package's md5sums."""
    if dist.site_dir is None:
        return ()
    base = os.path.normpath(dist.site_dir) + os.sep
    tops = {
        base + f.location[len(base) :].partition(os.sep)[0]
        for f in files
        if f.location.startswith(base) and os.sep in f.location[len(base) :]
    }
    own = {f.location for f in files}
    sums: dict[str, dict[str, RecordedFile]] = {}
    out: list[RecordedFile] = []
    for top in sorted(tops):
        for location in editable.extension_files((top,)):
            where = location.location
            if where in own:
                continue
            other = dpkg.owner(where)
            if other is None or other == stem:
                continue
            if other not in sums:
                sums[other] = {f.location: f for f in dpkg.files(other)}
            recorded = sums[other].get(where)
            if recorded is not None:
                out.append(recorded)
    return tuple(out)


def _judge_by_os(dist: Distribution, dpkg: DpkgDatabase, claimed: set[str]) -> Distribution:
    """A distro package's dist: its files come from dpkg's md5sums, its RECORD is ignored."""
    assert dist.metadata_dir is not None
    stem = dpkg.owner(dist.metadata_dir)
    if stem is None:
        return dist
    package = dpkg.package_name(stem)
    files = () if stem in claimed else dpkg.files(stem)
    claimed.add(stem)
    packages = [package]
    if files:
        split = _split_package_modules(dist, stem, files, dpkg)
        files = (*files, *split)
        for f in split:
            other = dpkg.owner(f.location)
            if other is not None and dpkg.package_name(other) not in packages:
                packages.append(dpkg.package_name(other))
    return dataclasses.replace(
        dist,
        installer="dpkg",
        os_package=package,
        files=files,
        problems=(),
        root=dpkg.root or "/",
        hint=f"apt-get install --reinstall {' '.join(packages)}",
    )


def _stdlib_packages(target: Target, dpkg: DpkgDatabase, claimed: set[str]) -> list[Distribution]:
    """The OS packages that installed the target's standard library, judged by their md5sums
    (``dpkg -V``): a damaged ``json/decoder.py`` of Debian's Python breaks every program that
    imports it, and no Python record lists it. Only the files below the standard library
    directory are taken, its compiled modules (``lib-dynload``) left to the OS: what they link
    against is the distro's business, not an installed distribution's."""
    if target.stdlib is None or not dpkg.present:
        return []
    stdlib = os.path.normpath(target.stdlib)
    shown = target.shown(stdlib)
    if not shown.startswith("/usr/") or shown.startswith("/usr/local/"):
        return []  # Debian installs only below /usr, never /usr/local: no table read needed
    base, dynload = stdlib + os.sep, os.path.join(stdlib, "lib-dynload") + os.sep
    out = []
    for stem in dpkg.stems_under(stdlib):
        if stem in claimed:
            continue
        claimed.add(stem)
        files = tuple(
            f
            for f in dpkg.files(stem)
            if f.location.startswith(base) and not f.location.startswith(dynload)
        )
        if not files:
            continue
        package = dpkg.package_name(stem)
        out.append(
            Distribution(
                name=package,
                key=package,
                version=dpkg.version(stem) or "",
                installer="dpkg",
                source="os-package",
                root=dpkg.root or "/",
                metadata_dir=None,
                site_dir=None,
                files=files,
                os_package=package,
                hint=f"apt-get install --reinstall {package}",
            )
        )
    return out


def _inside(target: Target, dist: Distribution) -> Distribution:
    """``--root``: a record's absolute rows (and rows climbing out with ``..``) name paths of
    the image; each is taken inside it, as a chroot would, never on this machine."""
    from verify_env.loader.rootfs import RootFS

    assert target.root is not None
    fs = RootFS(target.root)
    base = fs.inner(os.path.normpath(dist.root))
    moved = []
    islink = os.path.islink
    for f in dist.files:
        if fs.contains(f.location) and not os.path.isabs(f.path) and ".." not in f.path:
            location = f.location
        else:
            location = fs.host(f.path if os.path.isabs(f.path) else base + "/" + f.path)
        if f.kind is not FileKind.SOFTLINK and islink(location):  # the image's file it names
            location = fs.resolve(location)
        moved.append(f if location == f.location else f._replace(location=location))
    return dataclasses.replace(dist, files=tuple(moved))


def _editable(dist: Distribution, links: set[str], python: str | None) -> Distribution:
    """An editable install with the package dirs of its working copy and the compiled modules
    built in place there (`inventory.editable`); any other distribution unchanged."""
    assert dist.metadata_dir is not None and dist.site_dir is not None
    dirs: tuple[str, ...] = ()
    project: str | None = None
    if dist.source == "dist-info":
        project = editable.project_dir(dist.metadata_dir)
        if project is not None:
            dirs = editable.editable_dirs(dist.site_dir, project, dist.files)
    elif dist.source == "egg-info" and links and os.path.realpath(dist.site_dir) in links:
        project = dist.site_dir
        dirs = tuple(editable.packages_in(dist.site_dir))
    if not dirs:
        return dist
    built = editable.extension_files(dirs)
    return dataclasses.replace(
        dist,
        editable=dirs,
        files=(*dist.files, *built),
        # its compiled modules are the developer's builds: rebuild them, no index has them
        hint=f"rebuild it in place: {install_command('pip', python)} --no-deps -e {project}",
    )


def build_inventory(
    target: Target,
    dpkg: DpkgDatabase | None = None,
    cache: StatCache | None = None,
    on_distribution: Callable[[Distribution], None] | None = None,
) -> Inventory:
    """Read every record the target's prefix and site dirs hold (parsed RECORDs are reused
    from ``cache`` while the RECORD file is unchanged).

    ``on_distribution`` sees each distribution as soon as it is final, in inventory order, so
    that hashing can start before the last record is read."""
    conda_prefix = (
        target.prefix if os.path.isdir(os.path.join(target.prefix, "conda-meta")) else None
    )
    conda = scan_conda_meta(conda_prefix, cache) if conda_prefix else []
    owned_by_conda = _conda_owner(conda) if conda else {}
    if dpkg is None and target.root is not None:
        from verify_env.loader.rootfs import RootFS

        fs = RootFS(target.root)
        dpkg = DpkgDatabase(fs.resolve("/var/lib/dpkg"), fs.root)
    dpkg = dpkg if dpkg is not None else DpkgDatabase()
    claimed: set[str] = set()
    dists: list[Distribution] = list(conda)
    if on_distribution is not None:
        for dist in conda:
            on_distribution(dist)
    links = editable.egg_links(target.site_dirs)
    for site_dir in target.site_dirs:
        for name in metadata_entries(site_dir):  # one at a time: see on_distribution
            python = target.command_python
            dist = _editable(read_metadata_dir(site_dir, name, cache, python), links, python)
            assert dist.metadata_dir is not None
            marker = os.path.join(
                dist.metadata_dir, "METADATA" if dist.source == "dist-info" else "PKG-INFO"
            )
            conda_dist = owned_by_conda.get(marker) or owned_by_conda.get(dist.metadata_dir)
            if conda_dist is not None:
                dist = dataclasses.replace(
                    dist,
                    installer="conda",
                    judged_by=f"conda:{conda_dist.name}",
                    hint=conda_dist.hint,
                )
            elif dist.installer in _OS_INSTALLERS and dpkg.present:
                dist = _judge_by_os(dist, dpkg, claimed)
            if target.root is not None and dist.installer != "dpkg":
                dist = _inside(target, dist)
            dists.append(dist)
            if on_distribution is not None:
                on_distribution(dist)
    for dist in _stdlib_packages(target, dpkg, claimed):
        dists.append(dist)
        if on_distribution is not None:
            on_distribution(dist)
    return Inventory(
        distributions=tuple(dists),
        site_dirs=target.site_dirs,
        conda_prefix=conda_prefix,
        os_database=dpkg if dpkg.present else None,
    )
