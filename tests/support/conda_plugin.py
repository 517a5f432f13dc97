"""A conda channel for the plugin's tests: a real interpreter packaged as ``python`` (3.11 and
3.12, linked from pyenv with a ``pyvenv.cfg``, as in test_linkage_conda), a library with a
gcc-built consumer extension, a prefix-replaced text file and a noarch-python package; and
package-cache dirs extracted from the channel's ``.conda`` archives as conda extracts them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from conda_package_handling import api as cph_api

from tests.support.conda_env import TEXT_PLACEHOLDER, PackageFile, PackageSpec, build_channel
from tests.support.linkwheels import CONSUMER, FAKEBLAS, build_extension, build_library
from verify_env_conda.records import PackageRef

SITE = "lib/python3.11/site-packages"
CORE = f"{SITE}/fakeblas_ext/_core.cpython-311-x86_64-linux-gnu.so"
CONF = f"prefix={TEXT_PLACEHOLDER}\nmode=fast\n".encode()


def python_package(python: str, version: str) -> PackageSpec:
    xy = ".".join(version.split(".")[:2])
    home = str(Path(python).parent)
    return PackageSpec(
        "python",
        version,
        files=(
            PackageFile(f"bin/python{xy}", symlink_to=python),
            PackageFile("bin/python3", symlink_to=f"python{xy}"),
            PackageFile("bin/python", symlink_to=f"python{xy}"),
            PackageFile(
                "pyvenv.cfg",
                f"home = {home}\ninclude-system-site-packages = false\n"
                f"version = {version}\n".encode(),
            ),
            PackageFile(f"lib/python{xy}/site-packages/README.txt", b"site-packages marker\n"),
        ),
    )


@dataclass(frozen=True)
class Channel:
    url: str
    path: Path
    library: bytes
    """The bytes of ``lib/libfakeblas.so.3`` version 1.0."""
    extension: bytes
    """A cpython-311 extension module that needs ``libfakeblas.so.3``."""


def make_channel(root: Path, py311: str, py312: str, include: str) -> Channel:
    build = root / "build"
    lib = build_library(build / "libfakeblas.so.3", FAKEBLAS, "libfakeblas.so.3")
    ext = build_extension(
        build / "ext" / "_core.so",
        CONSUMER,
        "_core",
        include,
        [str(lib), "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../../.."],
    )
    lib2 = build_library(
        build / "v2" / "libfakeblas.so.3", FAKEBLAS + "\nint v2 = 2;\n", "libfakeblas.so.3"
    )
    packages = (
        python_package(py311, "3.11.7"),
        python_package(py312, "3.12.1"),
        PackageSpec(
            "libfakeblas",
            "1.0",
            files=(
                PackageFile("lib/libfakeblas.so.3", lib.read_bytes(), executable=True),
                PackageFile("etc/fakeblas.conf", CONF, prefix_placeholder=TEXT_PLACEHOLDER),
            ),
        ),
        PackageSpec(
            "libfakeblas",
            "2.0",
            files=(
                PackageFile("lib/libfakeblas.so.3", lib2.read_bytes(), executable=True),
                PackageFile("etc/fakeblas.conf", CONF, prefix_placeholder=TEXT_PLACEHOLDER),
            ),
        ),
        PackageSpec(
            "fakeblas-ext",
            "1.0",
            depends=("python 3.11.*",),
            files=(
                PackageFile(f"{SITE}/fakeblas_ext/__init__.py", b"from . import _core\n"),
                PackageFile(CORE, ext.read_bytes(), executable=True),
            ),
        ),
        PackageSpec(
            "pyfoo",
            "1.0",
            noarch_python=True,
            depends=("python",),
            files=(PackageFile("site-packages/pyfoo/__init__.py", b"X = 1\n"),),
        ),
        PackageSpec(  # brings files pyfoo and pip distributions own (issue 19 §3/§4)
            "clobberer",
            "1.0",
            noarch_python=True,
            depends=("python",),
            files=tuple(
                PackageFile(f"site-packages/{d}/__init__.py", b"CLOBBERED = True\n")
                for d in ("pyfoo", "pipext", "needsfoo")
            ),
        ),
    )
    url = build_channel(root / "channel", packages)
    return Channel(url, root / "channel", lib.read_bytes(), ext.read_bytes())


def extract(channel: Channel, pkgs_dir: Path, name: str, version: str) -> PackageRef:
    """Extract one package into ``pkgs_dir/<name>-<version>-<build>/`` as conda does, and
    return the record conda would hand the plugin for it."""
    (archive,) = [
        p
        for sub in ("linux-64", "noarch")
        for p in (channel.path / sub).glob(f"{name}-{version}-*.conda")
    ]
    dest = pkgs_dir / archive.name[: -len(".conda")]
    cph_api.extract(str(archive), str(dest))
    index = json.loads((dest / "info" / "index.json").read_text())
    return PackageRef(index["name"], index["version"], index["build"], archive.name)


def ref_from_meta(prefix: Path, name: str) -> PackageRef:
    """The record of an installed package as conda's ``PrefixRecord`` (files included)."""
    for path in (prefix / "conda-meta").glob(f"{name}-*.json"):
        doc = json.loads(path.read_text())
        if doc["name"] == name:
            return PackageRef(
                doc["name"],
                doc["version"],
                doc["build"],
                doc.get("fn", ""),
                tuple(doc.get("files", ())),
            )
    raise LookupError(name)
