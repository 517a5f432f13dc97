"""Real conda-format prefixes (packages built by conda-package-handling, installed by rattler)
judged by their conda-meta records, and pip writing over a conda package."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.support.conda_env import (
    TEXT_PLACEHOLDER,
    PackageFile,
    PackageSpec,
    build_channel,
    create_prefix,
)
from tests.support.envs import CliRun, make_venv, run_cli

LIB = b"\x7fELF\x02\x01\x01" + b"\0" * 57 + b"payload of libfoo\n" * 50
CONF = f"prefix={TEXT_PLACEHOLDER}\nmode=fast\n".encode()
SITE = "lib/python3.11/site-packages"


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _pyfoo(version: str) -> tuple[dict[str, bytes], str]:
    """The files of a tiny Python project as its wheel would install them, and its RECORD."""
    files = {
        "pyfoo/__init__.py": f"VERSION = {version!r}\n".encode(),
        "pyfoo/core.py": b"def answer():\n    return 42\n",
        f"pyfoo-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: pyfoo\nVersion: {version}\n".encode()
        ),
        f"pyfoo-{version}.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "\n".join(_record_line(p, d) for p, d in files.items())
    record += f"\npyfoo-{version}.dist-info/RECORD,,\n"
    return files, record


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> str:
    files, record = _pyfoo("2.0")
    conda_files = [PackageFile(f"site-packages/{p}", d) for p, d in files.items()]
    conda_files += [
        PackageFile("site-packages/pyfoo-2.0.dist-info/RECORD", record.encode()),
        PackageFile("site-packages/pyfoo-2.0.dist-info/INSTALLER", b"conda\n"),
    ]
    packages = (
        PackageSpec(
            "python", "3.11.7", files=(PackageFile(f"{SITE}/.conda-python-marker", b"marker\n"),)
        ),
        PackageSpec(
            "libfoo",
            "1.0",
            files=(
                PackageFile("lib/libfoo.so.1", LIB),
                PackageFile("lib/libfoo.so", symlink_to="libfoo.so.1"),
                PackageFile("etc/foo.conf", CONF, prefix_placeholder=TEXT_PLACEHOLDER),
            ),
        ),
        PackageSpec(
            "pyfoo", "2.0", noarch_python=True, depends=("python >=3.8",), files=tuple(conda_files)
        ),
    )
    return build_channel(tmp_path_factory.mktemp("channel"), packages)


def _verify(prefix: Path, cache_dir: Path) -> CliRun:
    return run_cli("--prefix", str(prefix), "--format", "json", cache_dir=cache_dir)


def test_intact_prefix_with_prefix_replaced_text_file_is_clean(
    channel: str, tmp_path: Path, cache_dir: Path
) -> None:
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    assert str(prefix).encode() in (prefix / "etc/foo.conf").read_bytes()  # replaced
    run = _verify(prefix, cache_dir)
    assert run.returncode == 0, run.stdout
    assert run.codes(None) == set()
    assert run.report["summary"]["distributions"] == 1
    assert run.report["environment"]["python"] is None  # a prefix without an interpreter


def test_altered_conda_file_and_broken_softlink(
    channel: str, tmp_path: Path, cache_dir: Path
) -> None:
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    lib = prefix / "lib/libfoo.so.1"
    data = bytearray(lib.read_bytes())
    data[100] ^= 0xFF
    lib.unlink()  # hard-linked from rattler's cache, as conda does: replace, not write through
    lib.write_bytes(bytes(data))
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    f = run.find("hash-mismatch", "lib/libfoo.so.1")
    assert (f["distribution"], f["installer"]) == ("libfoo", "conda")
    assert f["hint"] == "conda install --force-reinstall libfoo=1.0"
    lib.unlink()
    run = _verify(prefix, cache_dir)
    assert run.find("missing-file", "lib/libfoo.so.1")
    broken = run.find("missing-file", "lib/libfoo.so")
    assert "softlink" in broken["message"] and "libfoo.so.1" in broken["message"]


def test_edited_prefix_replaced_text_file_is_caught(
    channel: str, tmp_path: Path, cache_dir: Path
) -> None:
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    conf = prefix / "etc/foo.conf"
    text = conf.read_bytes().replace(b"fast", b"slow")
    conf.unlink()
    conf.write_bytes(text)
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", "etc/foo.conf")["distribution"] == "libfoo"


def test_pip_over_conda_is_clobbered_file(
    channel: str, tmp_path: Path, cache_dir: Path, py311: str
) -> None:
    prefix = make_venv(tmp_path / "env", py311)  # a real interpreter whose sys.prefix is here
    create_prefix(prefix, channel, ["pyfoo"], python_site=SITE)
    assert (prefix / SITE / "pyfoo-2.0.dist-info/INSTALLER").read_text() == "conda\n"
    clean = _verify(prefix, cache_dir)
    assert clean.returncode == 0, clean.stdout
    # pip installs pyfoo 2.1 over conda's 2.0: it uninstalls by conda's RECORD, then writes
    wheel = tmp_path / "pyfoo-2.1-py3-none-any.whl"
    files, record = _pyfoo("2.1")
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
        zf.writestr("pyfoo-2.1.dist-info/RECORD", record)
    subprocess.run(
        [
            str(prefix / "bin/python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    rewritten = run.find("clobbered-file", f"{SITE}/pyfoo/__init__.py")
    assert rewritten["distribution"] == "pyfoo" and rewritten["installer"] == "conda"
    assert "pip's pyfoo 2.1" in rewritten["message"]
    assert not [f for f in run.findings if f["code"] in ("hash-mismatch", "missing-file")]


def test_garbage_conda_meta_is_malformed(channel: str, tmp_path: Path, cache_dir: Path) -> None:
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    (prefix / "conda-meta" / "broken-1.0-0.json").write_bytes(b'{"name": "broken", \xff')
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1
    f = run.find("record-malformed")
    assert f["distribution"] == "broken" and "conda-meta/broken-1.0-0.json" in f["path"]


def test_deeply_nested_conda_meta_is_one_finding(
    channel: str, tmp_path: Path, cache_dir: Path
) -> None:
    """Issue 18 §12: conda-meta JSON nested ~1,000 deep ended the run (exit 2); now it is one
    record-malformed finding and a real tamper elsewhere is still reported."""
    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    (prefix / "conda-meta" / "deep-1.0-0.json").write_text(
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    lib = prefix / "lib/libfoo.so.1"
    data = bytearray(lib.read_bytes())
    data[100] ^= 0xFF
    lib.unlink()
    lib.write_bytes(bytes(data))
    run = _verify(prefix, cache_dir)
    assert run.returncode == 1, run.stderr
    f = run.find("record-malformed", "deep-1.0-0.json")
    assert f["distribution"] == "deep" and "nested" in f["message"]
    assert run.find("hash-mismatch", "lib/libfoo.so.1")["distribution"] == "libfoo"


def test_environment_is_not_written(channel: str, tmp_path: Path, cache_dir: Path) -> None:
    from tests.conftest import env_snapshot

    prefix = tmp_path / "env"
    create_prefix(prefix, channel, ["libfoo"])
    before = env_snapshot(prefix)
    assert _verify(prefix, cache_dir).returncode == 0
    assert env_snapshot(prefix) == before
    assert os.path.isdir(cache_dir)  # the cache went to the cache dir, not the prefix
