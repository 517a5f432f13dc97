"""Real image roots for ``verify-env --root``: Debian bookworm's own .debs unpacked, with the
dpkg database dpkg itself would write, and a venv holding real wheels installed by pypa's
``installer`` as pip lays them out in an image.

The .debs are Debian's (``apt-get download`` for this machine's arch; for another arch the
same pool file with the arch swapped, fetched from the mirror apt uses), unpacked with
``dpkg-deb -x``; nothing of them runs. ``status``, ``info/<pkg>.list`` and ``info/<pkg>.md5sums``
are written from each .deb's control data, as ``dpkg --unpack`` writes them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

from tests.conftest import NUMPY
from tests.support.envs import download_wheel

__all__ = [
    "PACKAGES",
    "build_root",
    "debs_for",
    "install_wheel",
    "make_venv_in_root",
    "numpy_wheel",
]

PACKAGES = (
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "zlib1g",
    "libexpat1",
    "libpython3.11-minimal",
    "python3.11-minimal",
    "python3-minimal",
    "libpython3.11-stdlib",
)
"""The fewest packages that make a real Debian python3.11 layout able to load numpy."""

_URI = re.compile(r"^'(?P<url>[^']+)' (?P<file>\S+) ")


def debs_for(arch: str, cache: Path) -> list[Path]:
    """The `PACKAGES` .debs for ``arch`` (``amd64``, ``arm64``), downloaded once into
    ``cache``."""
    cache.mkdir(parents=True, exist_ok=True)
    manifest = cache / f"packages-{arch}.txt"
    if manifest.exists():  # downloaded before: apt's look-up costs seconds
        known = [cache / name for name in manifest.read_text().split()]
        if len(known) == len(PACKAGES) and all(p.exists() for p in known):
            return known
    out = subprocess.run(
        ["apt-get", "download", "--print-uris", *PACKAGES],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    native = subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()
    debs = []
    for line in out.splitlines():
        m = _URI.match(line)
        if m is None:
            continue
        url, name = m["url"], m["file"]
        if arch != native:
            url = url.replace(f"_{native}.deb", f"_{arch}.deb")
            name = name.replace(f"_{native}.deb", f"_{arch}.deb")
        dest = cache / name
        if not dest.exists():
            tmp = dest.with_suffix(".part")
            with urllib.request.urlopen(url, timeout=120) as resp, open(tmp, "wb") as fh:
                shutil.copyfileobj(resp, fh)
            tmp.rename(dest)
        debs.append(dest)
    assert len(debs) == len(PACKAGES), out
    manifest.write_text("\n".join(d.name for d in debs) + "\n")
    return debs


def _unpack(deb: Path, root: Path, ctl: Path) -> tuple[str, list[str]]:
    """``dpkg-deb -X`` (extract, listing what it extracts) and ``-e`` (the control files):
    the control text and the paths, as dpkg's ``.list`` spells them."""
    listing = subprocess.run(
        ["dpkg-deb", "-X", str(deb), str(root)], check=True, capture_output=True, text=True
    ).stdout
    subprocess.run(["dpkg-deb", "-e", str(deb), str(ctl)], check=True)
    paths = ["/."]
    for line in listing.splitlines():
        path = "/" + line.strip().lstrip("./").rstrip("/")
        if path != "/":
            paths.append(path)
    return (ctl / "control").read_text(), paths


def build_root(root: Path, debs: list[Path]) -> Path:
    """Unpack ``debs`` into ``root`` and write dpkg's database for them."""
    from concurrent.futures import ThreadPoolExecutor

    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    controls = root.parent / f".{root.name}-control"
    controls.mkdir()
    with ThreadPoolExecutor(4) as pool:
        unpacked = list(pool.map(lambda d: _unpack(d, root, controls / d.name), debs))
    status = []
    for deb, (control, paths) in zip(debs, unpacked, strict=True):
        control = control.rstrip("\n")
        fields = dict(
            line.split(": ", 1) for line in control.splitlines() if ": " in line and line[0] != " "
        )
        package, arch = fields["Package"], fields["Architecture"]
        stem = package if fields.get("Multi-Arch") != "same" else f"{package}:{arch}"
        status.append(control.replace("\n", "\nStatus: install ok installed\n", 1))
        (info / f"{stem}.list").write_text("\n".join(paths) + "\n")
        sums = controls / deb.name / "md5sums"
        if sums.exists():
            shutil.copy(sums, info / f"{stem}.md5sums")
    shutil.rmtree(controls)
    (root / "var/lib/dpkg/status").write_text("\n\n".join(status) + "\n")
    (root / "etc").mkdir(exist_ok=True)
    return root


def make_venv_in_root(root: Path, where: str = "/opt/app") -> Path:
    """A venv at ``where`` inside the image as Debian's ``python3 -m venv`` makes it: links to
    the image's ``/usr/bin/python3`` (absolute, as venv writes them), ``lib64 -> lib``."""
    venv = root / where.lstrip("/")
    (venv / "bin").mkdir(parents=True)
    (venv / "lib/python3.11/site-packages").mkdir(parents=True)
    os.symlink("lib", venv / "lib64")
    os.symlink("/usr/bin/python3", venv / "bin/python3")
    os.symlink("python3", venv / "bin/python")
    os.symlink("python3", venv / "bin/python3.11")
    (venv / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n"
        f"executable = /usr/bin/python3.11\ncommand = /usr/bin/python3 -m venv {where}\n"
    )
    return venv


def install_wheel(root: Path, wheel: Path, where: str = "/opt/app") -> None:
    """Install ``wheel`` into the venv at ``where`` in the image, as pip would inside it (its
    RECORD relative to the image's site-packages, scripts naming the image's interpreter)."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    site = f"{where}/lib/python3.11/site-packages"
    scheme = {
        "purelib": site,
        "platlib": site,
        "headers": f"{where}/include/site/python3.11",
        "scripts": f"{where}/bin",
        "data": where,
    }
    destination = SchemeDictionaryDestination(
        scheme, interpreter=f"{where}/bin/python", script_kind="posix", destdir=str(root)
    )
    with WheelFile.open(wheel) as source:
        install(source, destination, additional_metadata={"INSTALLER": b"pip\n"})


def numpy_wheel(wheel_dir: Path, machine: str) -> Path:
    """numpy for CPython 3.11 on ``machine`` (one download, kept in pytest's cache)."""
    version = NUMPY.split("==")[1]
    pattern = f"numpy-{version}-cp311-cp311-*{machine}.whl"
    if not any(wheel_dir.glob(pattern)):
        platform = f"manylinux_2_17_{machine}"
        download_wheel(wheel_dir, NUMPY, python_version="3.11", platform=platform)
    return next(wheel_dir.glob(pattern))
