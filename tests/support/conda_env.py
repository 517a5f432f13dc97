"""Build real conda-format prefixes for tests, offline.

Why: verify-env checks ``conda-meta/*.json`` against the files on disk, so its tests need
prefixes written by a real installer, not hand-made JSON that merely agrees with our own
assumptions.  This module builds real ``.conda`` archives with ``conda-package-handling``,
writes a ``file://`` channel (``repodata.json`` for ``noarch/`` and ``linux-64/``) and
installs with ``py-rattler`` (``rattler.solve`` + ``rattler.install``) from that channel only.

Why a subprocess for solve+install: a colleague saw rattler's runtime crash at interpreter
exit after ``index_fs`` (~1 run in 6; not reproduced here in 40 ``index_fs`` and 40
solve+install runs), and pytest runs with ``filterwarnings = error``.  A child that ends
with ``os._exit`` keeps both away from the test process.  ``repodata.json`` is written here
directly; it equals ``index_fs`` output apart from rattler's extra ``indexed_timestamp``.
All caches live in a temporary directory that is removed afterwards.

What py-rattler 0.28 writes (observed here; asserted by
``tests/integration/test_conda_env_fixture.py``).  ``conda-meta/<name>-<version>-<build>.json``
holds the repodata record plus ``fn``, ``url``, ``channel``, ``extracted_package_dir``,
``requested_specs``, ``files``, ``paths_data`` (``paths_version`` 1) and ``link``
(``{"source": <cache dir>, "type": 1}``, i.e. hardlinked from the package cache):

* ``files`` and ``paths_data.paths[*]._path`` are real prefix-relative paths.  For a
  ``noarch: python`` package both say ``lib/python3.11/site-packages/foo/__init__.py``, never
  ``site-packages/...``; ``python-scripts/x`` becomes ``bin/x`` (copied verbatim, a
  ``#!python`` shebang is not rewritten), ``path_type "hardlink"``.
* plain file: ``path_type "hardlink"``, ``sha256``, ``size_in_bytes``; no ``sha256_in_prefix``.
* text-mode prefix file: ``prefix_placeholder``, ``file_mode "text"``, ``sha256`` of the
  *packaged* bytes, ``sha256_in_prefix`` of the bytes on disk, and ``size_in_bytes`` of the
  file *on disk* (after replacement), not the packaged size.
* binary-mode prefix file: the same with ``file_mode "binary"``; the placeholder is replaced
  and the C string padded with NULs, so the size is unchanged and only the hashes differ.
* softlink: ``path_type "softlink"``; ``sha256``/``size_in_bytes`` are copied from the
  package's ``paths.json`` (here: of the target's content, as conda-build does), and
  ``sha256_in_prefix`` is the sha256 of the link *target string* (``os.readlink``).
* pyc: rattler never compiles (not even with a working interpreter in ``bin/``), so there
  are no ``.pyc`` files and no ``pyc_file`` entries; the fake python needs no interpreter.
* entry points (``info/link.json`` ``noarch.entry_points``): ``bin/<name>``, mode 0775,
  ``path_type "unix_python_entry_point"``, ``sha256``/``size_in_bytes`` of the generated
  script, no placeholder; its shebang is ``#!<prefix>/bin/python3.11``.
* a noarch python package whose solve has no ``python`` record fails to link ("no python
  version specified"): give it ``depends=("python",)``.
* rattler also drops a ``CACHEDIR.TAG`` file into the prefix root (owned by no package) and
  an empty ``conda-meta/history``.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from conda_package_handling import api as cph_api

SUBDIRS = ("noarch", "linux-64")
#: The placeholder conda-build uses for text files.
TEXT_PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"
#: A binary placeholder must be at least as long as the real prefix; conda-build pads to 255.
BINARY_PLACEHOLDER = "/opt/" + "_placehold" * 25


@dataclass(frozen=True)
class PackageFile:
    """One entry in a package; the fields map one-to-one onto ``info/paths.json``."""

    path: str  # "lib/libfoo.so.1"; for noarch python "site-packages/..." or "python-scripts/..."
    content: bytes = b""
    prefix_placeholder: str | None = None  # content contains it; replaced at install
    file_mode: str = "text"  # "text" or "binary"; meaningful only with a placeholder
    symlink_to: str | None = None  # a softlink to this relative target (content ignored)
    executable: bool = False


@dataclass(frozen=True)
class PackageSpec:
    """A package to build; ``subdir`` is forced to ``noarch`` for ``noarch_python``."""

    name: str
    version: str
    build: str = "0"
    depends: tuple[str, ...] = ()
    noarch_python: bool = False
    files: tuple[PackageFile, ...] = ()
    subdir: str = "linux-64"
    build_number: int = 0
    entry_points: tuple[str, ...] = ()  # "name = module:func", noarch python only

    def __post_init__(self) -> None:
        if self.noarch_python:
            object.__setattr__(self, "subdir", "noarch")

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.conda"


def fake_python_package(version: str = "3.11.7") -> PackageSpec:
    """A tiny package named ``python``: rattler needs a python record to place noarch files.

    No interpreter is shipped: rattler (0.28) neither compiles ``.pyc`` files nor runs python
    during install, it only reads the version (``lib/pythonX.Y/site-packages``).
    """
    xy = ".".join(version.split(".")[:2])
    script = b"#!/bin/sh\necho 'fake python for verify-env tests' >&2\nexit 1\n"
    return PackageSpec(
        name="python",
        version=version,
        files=(
            PackageFile(f"bin/python{xy}", script, executable=True),
            PackageFile("bin/python3", symlink_to=f"python{xy}"),
            PackageFile(f"lib/python{xy}/site-packages/README.txt", b"site-packages marker\n"),
        ),
    )


def _digests(data: bytes) -> tuple[str, str]:
    return hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()


def _stage(spec: PackageSpec, root: Path) -> list[str]:
    """Write the package tree (payload + ``info/``) under ``root``; return its file list."""
    by_path = {f.path: f for f in spec.files}
    paths = []
    for f in spec.files:
        target = root / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        entry: dict[str, object] = {"_path": f.path}
        if f.symlink_to is not None:
            os.symlink(f.symlink_to, target)
            # Like conda-build: hash the content the link resolves to, when it is packaged.
            resolved = os.path.normpath(os.path.join(os.path.dirname(f.path), f.symlink_to))
            content = by_path[resolved].content if resolved in by_path else f.symlink_to.encode()
            entry["path_type"] = "softlink"
        else:
            target.write_bytes(f.content)
            target.chmod(0o755 if f.executable else 0o644)
            content = f.content
            entry["path_type"] = "hardlink"
            if f.prefix_placeholder is not None:
                assert f.prefix_placeholder.encode() in f.content, f.path
                entry["prefix_placeholder"] = f.prefix_placeholder
                entry["file_mode"] = f.file_mode
        entry["sha256"] = _digests(content)[0]
        entry["size_in_bytes"] = len(content)
        paths.append(entry)

    info = root / "info"
    info.mkdir()
    index = {
        "name": spec.name,
        "version": spec.version,
        "build": spec.build,
        "build_number": spec.build_number,
        "depends": list(spec.depends),
        "subdir": spec.subdir,
        "license": "MIT",
        "timestamp": int(time.time() * 1000),
    }
    if spec.noarch_python:
        index["noarch"] = "python"
        link = {"noarch": {"type": "python", "entry_points": list(spec.entry_points)}}
        (info / "link.json").write_text(json.dumps({**link, "package_metadata_version": 1}))
    else:
        platform, arch = spec.subdir.split("-")
        index["platform"], index["arch"] = platform, {"64": "x86_64"}.get(arch, arch)
    (info / "index.json").write_text(json.dumps(index, indent=2))
    (info / "paths.json").write_text(json.dumps({"paths": paths, "paths_version": 1}, indent=2))
    (info / "files").write_text("".join(f"{f.path}\n" for f in spec.files))
    return sorted(f.path for f in spec.files) + sorted(
        str(p.relative_to(root)) for p in info.iterdir()
    )


def build_channel(channel_dir: Path, packages: Sequence[PackageSpec]) -> str:
    """Build every package as a ``.conda`` file and index the channel; return its URL.

    ``repodata.json`` is written for every subdir in ``SUBDIRS`` (empty ones included,
    since solvers expect ``noarch/``); the entries carry exactly what an indexer copies from
    ``info/index.json`` plus ``md5``, ``sha256`` and ``size`` of the archive.
    """
    channel_dir = Path(channel_dir).resolve()
    repodata: dict[str, dict[str, dict[str, object]]] = {s: {} for s in SUBDIRS}
    for spec in packages:
        out_dir = channel_dir / spec.subdir
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="conda-pkg-") as tmp:
            file_list = _stage(spec, Path(tmp))
            index = json.loads((Path(tmp) / "info" / "index.json").read_text())
            cph_api.create(tmp, file_list, str(out_dir / spec.filename))
        data = (out_dir / spec.filename).read_bytes()
        sha256, md5 = _digests(data)
        record = {**index, "md5": md5, "sha256": sha256, "size": len(data)}
        repodata.setdefault(spec.subdir, {})[spec.filename] = record
    for subdir, records in repodata.items():
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
        doc = {
            "info": {"subdir": subdir},
            "packages": {},
            "packages.conda": records,
            "removed": [],
            "repodata_version": 1,
        }
        (channel_dir / subdir / "repodata.json").write_text(json.dumps(doc, indent=1))
    return channel_dir.as_uri()


_INSTALL_SCRIPT = r"""
import asyncio, json, os, sys, traceback
def main():
    a = json.loads(sys.stdin.read())
    import rattler
    from rattler import Gateway, MatchSpec, SourceConfig
    async def run():
        cfg = SourceConfig(zstd_enabled=False, bz2_enabled=False, sharded_enabled=False)
        gw = Gateway(cache_dir=os.path.join(a["cache"], "repodata"), default_config=cfg)
        records = await rattler.solve(
            [a["channel"]], a["specs"], gateway=gw, platforms=["linux-64", "noarch"],
            virtual_packages=[])
        kw = dict(cache_dir=os.path.join(a["cache"], "pkgs"), platform=rattler.Subdir("linux-64"),
                  execute_link_scripts=False, show_progress=False)
        requested = [MatchSpec(s) for s in a["specs"]]
        try:
            await rattler.install(records, a["prefix"], requested_specs=requested, **kw)
        except TypeError:  # py-rattler 0.28 forwards the wrappers unconverted (fails up front)
            requested = [m._match_spec for m in requested]
            await rattler.install(records, a["prefix"], requested_specs=requested, **kw)
    asyncio.run(run())
try:
    main()
    code = 0
except BaseException:
    traceback.print_exc()
    code = 1
sys.stdout.flush(); sys.stderr.flush()
os._exit(code)
"""


def create_prefix(
    prefix: Path, channel_url: str, specs: Sequence[str], *, python_site: str | None = None
) -> None:
    """Solve ``specs`` against ``channel_url`` only and install them into ``prefix``.

    Runs rattler in a child process (see the module docstring) with a throw-away package
    and repodata cache, no virtual packages and no link scripts, so nothing leaks between
    tests and nothing touches the network or ``~/.cache``.

    ``python_site``: the prefix-relative site-packages dir the caller relies on (for example
    ``"lib/python3.11/site-packages"``).  When given it must exist after the install; this
    catches a python record whose version places noarch files elsewhere.
    """
    with tempfile.TemporaryDirectory(prefix="rattler-cache-") as cache:
        args = {"channel": channel_url, "specs": list(specs), "prefix": str(prefix), "cache": cache}
        env = {**os.environ, "RATTLER_CACHE_DIR": cache, "NO_COLOR": "1"}
        proc = subprocess.run(
            [sys.executable, "-c", _INSTALL_SCRIPT],
            input=json.dumps(args),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            f"rattler install failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    if python_site is not None and not (Path(prefix) / python_site).is_dir():
        raise RuntimeError(f"{python_site} missing in {prefix} after install")


def conda_meta(prefix: Path, name: str) -> dict[str, object]:
    """Load the single ``conda-meta`` record of package ``name`` from ``prefix``."""
    found = [
        p
        for p in (Path(prefix) / "conda-meta").glob(f"{name}-*.json")
        if json.loads(p.read_text())["name"] == name
    ]
    assert len(found) == 1, found
    result: dict[str, object] = json.loads(found[0].read_text())
    return result
