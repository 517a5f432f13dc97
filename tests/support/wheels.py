"""Small real wheels for the tests: a zip with METADATA, WHEEL and a correct RECORD (the format
pip installs), for projects whose metadata a test must choose — a Requires-Dist behind an
extra, a Requires-Python the target fails — that no index offers."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["make_wheel"]


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(
    dest: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes | str],
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    extras: Sequence[str] = (),
    compression: int = zipfile.ZIP_STORED,
) -> Path:
    """A pure-Python ``py3-none-any`` wheel of ``files`` (paths relative to the site dir), in
    their order."""
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if requires_python:
        metadata.append(f"Requires-Python: {requires_python}")
    metadata += [f"Provides-Extra: {e}" for e in extras]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    contents: dict[str, bytes] = {
        path: data.encode() if isinstance(data, str) else data for path, data in files.items()
    }
    contents[f"{dist_info}/METADATA"] = ("\n".join(metadata) + "\n\n").encode()
    contents[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: verify-env-tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = "".join(f"{p},{_digest(d)},{len(d)}\n" for p, d in contents.items())
    record += f"{dist_info}/RECORD,,\n"
    wheel = dest / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel, "w", compression) as zf:
        for path, data in contents.items():
            zf.writestr(path, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return wheel


def tampered_wheel(tmp_path: Path) -> Path:
    """A wheel ``tampered 1.0`` whose payload differs from its own RECORD (same size, other
    bytes): pip installs it without a word."""
    good = make_wheel(
        tmp_path / "built", "tampered", "1.0", {"tampered/__init__.py": "VALUE = 1\n"}
    )
    bad = tmp_path / "dist" / good.name
    bad.parent.mkdir()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"VALUE = 2\n" if item.filename == "tampered/__init__.py" else data)
    return bad
