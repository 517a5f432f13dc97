"""Prove that tests/support/conda_env.py builds real, offline conda prefixes.

The assertions pin what rattler writes into conda-meta, so a rattler upgrade that changes
those facts fails here first instead of confusing verify-env's own tests.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.support.conda_env import (
    BINARY_PLACEHOLDER,
    TEXT_PLACEHOLDER,
    PackageFile,
    PackageSpec,
    build_channel,
    conda_meta,
    create_prefix,
    fake_python_package,
)

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57 + b"fake shared object\n"
CONF = f"prefix={TEXT_PLACEHOLDER}\n".encode()
BINARY = b"\x7fELF" + BINARY_PLACEHOLDER.encode() + b"/lib\0tail\0"
SITE = "lib/python3.11/site-packages"

PACKAGES = (
    fake_python_package("3.11.7"),
    PackageSpec(
        "libfoo",
        "1.0",
        files=(
            PackageFile("lib/libfoo.so.1", ELF),
            PackageFile("lib/libfoo.so", symlink_to="libfoo.so.1"),
            PackageFile("etc/foo.conf", CONF, prefix_placeholder=TEXT_PLACEHOLDER),
            PackageFile(
                "lib/libbar.so", BINARY, prefix_placeholder=BINARY_PLACEHOLDER, file_mode="binary"
            ),
        ),
    ),
    PackageSpec(
        "pyfoo",
        "2.0",
        noarch_python=True,
        depends=("python >=3.8",),
        entry_points=("pyfoo = pyfoo.cli:main",),
        files=(
            PackageFile("site-packages/pyfoo/__init__.py", b"X = 1\n"),
            PackageFile("site-packages/pyfoo/cli.py", b"def main():\n    return 0\n"),
            PackageFile("python-scripts/pyfoo-legacy", b"#!python\nprint(1)\n", executable=True),
        ),
    ),
)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def child_pids() -> set[int]:
    """Processes whose parent is this one (Linux /proc), to prove nothing is left running."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            pids.add(int(stat.parent.name))
    return pids


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("conda")
    url = build_channel(base / "channel", PACKAGES)
    assert url == (base / "channel").resolve().as_uri()
    before = child_pids()
    create_prefix(base / "prefix", url, ["libfoo", "pyfoo"], python_site=SITE)
    assert child_pids() <= before
    return base / "channel", base / "prefix"


def paths_by_name(record: dict[str, object]) -> dict[str, dict[str, object]]:
    paths = record["paths_data"]["paths"]  # type: ignore[index]
    return {p["_path"]: p for p in paths}


def test_channel_index_matches_archives(env: tuple[Path, Path]) -> None:
    channel, _ = env
    for subdir, names in (("linux-64", {"python", "libfoo"}), ("noarch", {"pyfoo"})):
        repodata = json.loads((channel / subdir / "repodata.json").read_text())
        assert repodata["info"] == {"subdir": subdir}
        records = repodata["packages.conda"]
        assert {r["name"] for r in records.values()} == names
        for fn, rec in records.items():
            data = (channel / subdir / fn).read_bytes()
            assert (rec["sha256"], rec["size"], rec["subdir"]) == (sha(data), len(data), subdir)
    assert (
        json.loads((channel / "noarch/repodata.json").read_text())["packages.conda"][
            "pyfoo-2.0-0.conda"
        ]["noarch"]
        == "python"
    )


def test_linux64_package_records(env: tuple[Path, Path]) -> None:
    _, prefix = env
    record = conda_meta(prefix, "libfoo")
    assert record["channel"] == env[0].resolve().as_uri() + "/"
    assert record["requested_specs"] == ["libfoo"]
    assert record["files"] == ["etc/foo.conf", "lib/libbar.so", "lib/libfoo.so", "lib/libfoo.so.1"]
    paths = paths_by_name(record)

    lib = paths["lib/libfoo.so.1"]
    assert lib == {
        "_path": "lib/libfoo.so.1",
        "path_type": "hardlink",
        "sha256": sha(ELF),
        "size_in_bytes": len(ELF),
    }
    assert (prefix / "lib/libfoo.so.1").read_bytes() == ELF

    text = paths["etc/foo.conf"]
    on_disk = (prefix / "etc/foo.conf").read_bytes()
    assert on_disk == f"prefix={prefix}\n".encode()
    assert (text["prefix_placeholder"], text["file_mode"]) == (TEXT_PLACEHOLDER, "text")
    assert text["sha256"] == sha(CONF)
    assert text["sha256_in_prefix"] == sha(on_disk)
    # the size on disk: the placeholder replaced by the prefix (equal to the package's own
    # size only when the two happen to be the same length, which a basetemp can make them)
    assert (
        text["size_in_bytes"]
        == len(on_disk)
        == len(CONF) + len(str(prefix)) - len(TEXT_PLACEHOLDER)
    )

    binary = paths["lib/libbar.so"]
    on_disk = (prefix / "lib/libbar.so").read_bytes()
    assert on_disk.startswith(b"\x7fELF" + f"{prefix}/lib\0".encode())
    assert on_disk.endswith(b"\0tail\0")
    assert (binary["file_mode"], binary["size_in_bytes"]) == ("binary", len(BINARY))
    assert len(on_disk) == len(BINARY)
    assert (binary["sha256"], binary["sha256_in_prefix"]) == (sha(BINARY), sha(on_disk))

    link = paths["lib/libfoo.so"]
    assert os.readlink(prefix / "lib/libfoo.so") == "libfoo.so.1"
    assert link["path_type"] == "softlink"
    assert (link["sha256"], link["size_in_bytes"]) == (sha(ELF), len(ELF))  # from paths.json
    assert link["sha256_in_prefix"] == sha(b"libfoo.so.1")  # hash of the target string


def test_noarch_python_package_records(env: tuple[Path, Path]) -> None:
    _, prefix = env
    record = conda_meta(prefix, "pyfoo")
    assert (record["noarch"], record["subdir"]) == ("python", "noarch")
    assert conda_meta(prefix, "python")["version"] == "3.11.7"
    assert record["files"] == [
        "bin/pyfoo",
        "bin/pyfoo-legacy",
        f"{SITE}/pyfoo/__init__.py",
        f"{SITE}/pyfoo/cli.py",
    ]
    paths = paths_by_name(record)
    init = paths[f"{SITE}/pyfoo/__init__.py"]
    assert (init["path_type"], init["sha256"]) == ("hardlink", sha(b"X = 1\n"))
    assert (prefix / SITE / "pyfoo/__init__.py").read_bytes() == b"X = 1\n"

    script = paths["bin/pyfoo-legacy"]
    assert script["path_type"] == "hardlink"
    assert (prefix / "bin/pyfoo-legacy").read_bytes() == b"#!python\nprint(1)\n"

    entry = paths["bin/pyfoo"]
    text = (prefix / "bin/pyfoo").read_bytes()
    assert entry["path_type"] == "unix_python_entry_point"
    assert (entry["sha256"], entry["size_in_bytes"]) == (sha(text), len(text))
    assert "prefix_placeholder" not in entry and "sha256_in_prefix" not in entry
    assert text.startswith(f"#!{prefix}/bin/python3.11\n".encode())
    assert b"from pyfoo.cli import main" in text
    assert os.access(prefix / "bin/pyfoo", os.X_OK)

    assert not list(prefix.rglob("*.pyc"))  # rattler does not compile
    assert not any(p["path_type"] == "pyc_file" for p in paths.values())


def test_prefix_has_no_stray_files(env: tuple[Path, Path]) -> None:
    _, prefix = env
    owned = {
        f
        for p in (prefix / "conda-meta").glob("*.json")
        for f in json.loads(p.read_text())["files"]
    }
    on_disk = {
        str(p.relative_to(prefix))
        for p in prefix.rglob("*")
        if (p.is_file() or p.is_symlink()) and p.parts[len(prefix.parts)] != "conda-meta"
    }
    assert on_disk - owned == {"CACHEDIR.TAG"}  # rattler tags the prefix itself
    assert owned <= on_disk
