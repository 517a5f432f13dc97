"""verify_env.inventory.conda_meta: conda-meta JSON records in the shapes conda writes, and
damaged ones (each a record-malformed problem, never an exception)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from verify_env.inventory.conda_meta import read_record, scan_conda_meta
from verify_env.inventory.model import Distribution, FileKind, RecordedFile

PLACEHOLDER = "/home/conda/feedstock_root/build_artifacts/zlib_1686575452215/_h_env_placehold_pl"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def base_record(name: str, version: str, build: str, **extra: Any) -> dict[str, Any]:
    """The fields conda writes around ``files`` and ``paths_data``."""
    record: dict[str, Any] = {
        "build": build,
        "build_number": 0,
        "channel": "https://conda.anaconda.org/conda-forge/linux-64",
        "constrains": [],
        "depends": ["libgcc-ng >=12"],
        "extracted_package_dir": f"/opt/conda/pkgs/{name}-{version}-{build}",
        "fn": f"{name}-{version}-{build}.conda",
        "license": "Zlib",
        "link": {"source": f"/opt/conda/pkgs/{name}-{version}-{build}", "type": 1},
        "md5": "9b3b9e8ec5f8c0d2e5ee1c2e9a1b2c3d",
        "name": name,
        "requested_spec": name,
        "sha256": sha(b"tarball"),
        "size": 123456,
        "subdir": "linux-64",
        "timestamp": 1686575516000,
        "url": f"https://conda.anaconda.org/conda-forge/linux-64/{name}-{version}-{build}.conda",
        "version": version,
    }
    record.update(extra)
    return record


def write_record(prefix: Path, record: object, stem: str = "pkg-1.0-0") -> Path:
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True, exist_ok=True)
    path = meta / f"{stem}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True))
    return path


def read(prefix: Path, json_path: Path) -> Distribution:
    return read_record(str(prefix), str(json_path))


def by_path(dist: Distribution) -> dict[str, RecordedFile]:
    return {f.path: f for f in dist.files}


# --------------------------------------------------------------------------------------------
# paths_data, as conda writes it
# --------------------------------------------------------------------------------------------

LIB = b"\x7fELF" + bytes(200)
CONFIG_IN_PACKAGE = f"#!/bin/sh\nprefix={PLACEHOLDER}\n".encode()
CONFIG_IN_PREFIX = b"#!/bin/sh\nprefix=/opt/env\n"
BINARY_IN_PACKAGE = PLACEHOLDER.encode() + b"\0" * 40


@pytest.fixture
def zlib(tmp_path: Path) -> tuple[Path, Distribution]:
    prefix = tmp_path / "env"
    paths: list[dict[str, Any]] = [
        {
            "_path": "lib/libz.so",
            "path_type": "softlink",
            "sha256": sha(LIB),
            "size_in_bytes": len(LIB),
        },
        {
            "_path": "lib/libz.so.1.2.13",
            "path_type": "hardlink",
            "sha256": sha(LIB).upper(),
            "sha256_in_prefix": sha(LIB).upper(),
            "size_in_bytes": len(LIB),
        },
        {
            "_path": "bin/zlib-config",
            "file_mode": "text",
            "path_type": "hardlink",
            "prefix_placeholder": PLACEHOLDER,
            "sha256": sha(CONFIG_IN_PACKAGE),
            "sha256_in_prefix": sha(CONFIG_IN_PREFIX),
            "size_in_bytes": len(CONFIG_IN_PACKAGE),
        },
        {
            "_path": "lib/libz-binary-prefix.so",
            "file_mode": "binary",
            "path_type": "hardlink",
            "prefix_placeholder": PLACEHOLDER,
            "sha256": sha(BINARY_IN_PACKAGE),
            "sha256_in_prefix": sha(b"patched"),
            "size_in_bytes": len(BINARY_IN_PACKAGE),
        },
        {"_path": "share/zlib", "path_type": "directory"},
        {"_path": "include/zlib.h", "sha256": sha(b"header"), "size_in_bytes": 6},
    ]
    record = base_record(
        "zlib",
        "1.2.13",
        "hd590300_5",
        files=[p["_path"] for p in paths if p.get("path_type") != "directory"],
        paths_data={"paths": paths, "paths_version": 1},
    )
    json_path = write_record(prefix, record, "zlib-1.2.13-hd590300_5")
    return prefix, read(prefix, json_path)


def test_identity(zlib: tuple[Path, Distribution]) -> None:
    prefix, dist = zlib
    assert (dist.name, dist.key, dist.version, dist.installer, dist.source) == (
        "zlib",
        "zlib",
        "1.2.13",
        "conda",
        "conda-meta",
    )
    assert dist.root == str(prefix)
    assert dist.metadata_dir == str(prefix / "conda-meta" / "zlib-1.2.13-hd590300_5.json")
    assert dist.site_dir is None
    assert dist.requires == ("libgcc-ng >=12",)
    assert dist.hint == "conda install --force-reinstall zlib=1.2.13"
    assert dist.problems == ()


def test_hardlink(zlib: tuple[Path, Distribution]) -> None:
    prefix, dist = zlib
    f = by_path(dist)["lib/libz.so.1.2.13"]
    assert f.location == str(prefix / "lib" / "libz.so.1.2.13")
    assert (f.algorithm, f.digest, f.size, f.kind, f.hex) == (
        "sha256",
        sha(LIB),
        len(LIB),
        FileKind.REGULAR,
        True,
    )
    assert f.digest_style == "sha256:hex"


def test_a_hardlink_without_sha256_in_prefix_uses_sha256(zlib: tuple[Path, Distribution]) -> None:
    f = by_path(zlib[1])["include/zlib.h"]
    assert (f.algorithm, f.digest, f.size, f.kind) == (
        "sha256",
        sha(b"header"),
        6,
        FileKind.REGULAR,
    )


def test_text_mode_prefix_file(zlib: tuple[Path, Distribution]) -> None:
    f = by_path(zlib[1])["bin/zlib-config"]
    assert f.size is None  # the replaced prefix changed the length
    assert (f.algorithm, f.digest, f.kind) == ("sha256", sha(CONFIG_IN_PREFIX), FileKind.REGULAR)


def test_binary_mode_prefix_file_keeps_its_size(zlib: tuple[Path, Distribution]) -> None:
    f = by_path(zlib[1])["lib/libz-binary-prefix.so"]
    assert f.size == len(BINARY_IN_PACKAGE)  # binary replacement pads to the same length
    assert f.digest == sha(b"patched")


def test_softlink(zlib: tuple[Path, Distribution]) -> None:
    f = by_path(zlib[1])["lib/libz.so"]
    assert f.kind is FileKind.SOFTLINK
    assert (f.algorithm, f.digest, f.size) == (None, None, None)


def test_directories_are_not_files(zlib: tuple[Path, Distribution]) -> None:
    assert "share/zlib" not in by_path(zlib[1])
    assert len(zlib[1].files) == 5


def test_a_prefix_file_from_an_old_conda_without_sha256_in_prefix(tmp_path: Path) -> None:
    """Its package sha256 cannot hold after replacement, so nothing is claimed but existence."""
    record = base_record(
        "tool",
        "1.0",
        "0",
        paths_data={
            "paths": [
                {
                    "_path": "bin/tool-config",
                    "path_type": "hardlink",
                    "prefix_placeholder": PLACEHOLDER,
                    "file_mode": "text",
                    "sha256": sha(CONFIG_IN_PACKAGE),
                    "size_in_bytes": len(CONFIG_IN_PACKAGE),
                }
            ]
        },
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    (f,) = dist.files
    assert (f.algorithm, f.digest, f.size, f.kind) == (None, None, None, FileKind.REGULAR)
    assert dist.problems == ()


def test_link_time_entries(tmp_path: Path) -> None:
    record = base_record(
        "tool",
        "1.0",
        "py311_0",
        paths_data={
            "paths": [
                {
                    "_path": "lib/python3.11/site-packages/tool/__pycache__/x.cpython-311.pyc",
                    "path_type": "pyc_file",
                },
                {"_path": "bin/tool", "path_type": "unix_python_entry_point"},
                {
                    "_path": "Scripts/tool-script.py",
                    "path_type": "windows_python_entry_point_script",
                },
                {"_path": "Scripts/tool.exe", "path_type": "windows_python_entry_point_exe"},
            ],
            "paths_version": 1,
        },
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    assert dist.problems == ()
    assert [(f.path, f.kind, f.digest, f.size) for f in dist.files] == [
        (
            "lib/python3.11/site-packages/tool/__pycache__/x.cpython-311.pyc",
            FileKind.OPTIONAL,
            None,
            None,
        ),
        ("bin/tool", FileKind.GENERATED, None, None),
        ("Scripts/tool-script.py", FileKind.GENERATED, None, None),
        ("Scripts/tool.exe", FileKind.GENERATED, None, None),
    ]


# --------------------------------------------------------------------------------------------
# noarch: python
# --------------------------------------------------------------------------------------------

NOARCH_FILES = [
    "lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA",
    "lib/python3.11/site-packages/six.py",
    "lib/python3.11/site-packages/__pycache__/six.cpython-311.pyc",
    "bin/six-tool",
]
NOARCH_PATHS = [
    {
        "_path": "site-packages/six-1.16.0.dist-info/METADATA",
        "path_type": "hardlink",
        "sha256": sha(b"meta"),
        "size_in_bytes": 4,
    },
    {
        "_path": "site-packages/six.py",
        "path_type": "hardlink",
        "sha256": sha(b"six"),
        "size_in_bytes": 3,
    },
    {
        "_path": "lib/python3.11/site-packages/__pycache__/six.cpython-311.pyc",
        "path_type": "pyc_file",
    },
    {
        "_path": "python-scripts/six-tool",
        "path_type": "hardlink",
        "sha256": sha(b"tool"),
        "size_in_bytes": 4,
    },
]


@pytest.mark.parametrize(
    "marker",
    [{"noarch": "python"}, {"package_type": "noarch_python"}, {"noarch": {"type": "python"}}],
)
def test_noarch_python_paths_are_translated(tmp_path: Path, marker: dict[str, Any]) -> None:
    record = base_record(
        "six",
        "1.16.0",
        "pyhd8ed1ab_0",
        files=NOARCH_FILES,
        paths_data={"paths": NOARCH_PATHS, "paths_version": 1},
        depends=["python >=3.6"],
        **marker,
    )
    dist = read(tmp_path, write_record(tmp_path, record, "six-1.16.0-pyhd8ed1ab_0"))
    assert dist.problems == ()
    files = by_path(dist)
    assert list(files) == NOARCH_FILES
    six = files["lib/python3.11/site-packages/six.py"]
    assert six.location == str(tmp_path / "lib" / "python3.11" / "site-packages" / "six.py")
    assert (six.digest, six.size) == (sha(b"six"), 3)
    tool = files["bin/six-tool"]
    assert tool.location == str(tmp_path / "bin" / "six-tool")
    assert files[NOARCH_FILES[2]].kind is FileKind.OPTIONAL


def test_noarch_without_files_finds_site_packages_in_the_prefix(tmp_path: Path) -> None:
    (tmp_path / "lib" / "python3.12" / "site-packages").mkdir(parents=True)
    record = base_record(
        "six",
        "1.16.0",
        "pyhd8ed1ab_0",
        noarch="python",
        paths_data={"paths": NOARCH_PATHS[1:2], "paths_version": 1},
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    assert [f.path for f in dist.files] == ["lib/python3.12/site-packages/six.py"]


def test_site_packages_paths_of_other_packages_are_left_alone(tmp_path: Path) -> None:
    record = base_record(
        "odd",
        "1.0",
        "0",
        files=["site-packages/six.py"],  # a file outside paths_data would be a finding (§12)
        paths_data={"paths": NOARCH_PATHS[1:2], "paths_version": 1},
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    assert [f.path for f in dist.files] == ["site-packages/six.py"]


# --------------------------------------------------------------------------------------------
# No paths_data: files only
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("paths_data", [None, {"paths": [], "paths_version": 1}])
def test_without_paths_data_files_are_existence_only(
    tmp_path: Path, paths_data: dict[str, Any] | None
) -> None:
    extra: dict[str, Any] = {} if paths_data is None else {"paths_data": paths_data}
    record = base_record(
        "old", "0.1", "0", files=["lib/libold.so", "lib/x/__pycache__/a.pyc", "bin/old"], **extra
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    if paths_data is None:
        assert dist.problems == ()  # old conda wrote no paths_data at all
    else:  # issue 19 §12: an empty paths_data beside a files list promises nothing
        (problem,) = dist.problems
        assert problem.code == "record-malformed" and problem.warning  # safety_checks disabled?
        assert "lists 2 file(s) with no paths_data entry, so no size or hash: " in problem.message
        assert "lib/libold.so, bin/old (conda writes none with safety_checks" in problem.message
    assert [(f.path, f.location, f.algorithm, f.digest, f.size, f.kind) for f in dist.files] == [
        ("lib/libold.so", str(tmp_path / "lib" / "libold.so"), None, None, None, FileKind.REGULAR),
        (
            "lib/x/__pycache__/a.pyc",
            str(tmp_path / "lib/x/__pycache__/a.pyc"),
            None,
            None,
            None,
            FileKind.OPTIONAL,
        ),
        ("bin/old", str(tmp_path / "bin" / "old"), None, None, None, FileKind.REGULAR),
    ]


def test_files_outside_a_partial_paths_data_are_an_error(tmp_path: Path) -> None:
    """What conda writes after its size check failed for one file of the package-cache copy
    (issue 19 §12): the others have entries, that one does not."""
    record = base_record(
        "odd",
        "1.0",
        "0",
        files=["site-packages/six.py", "lib/libodd.so"],
        paths_data={"paths": NOARCH_PATHS[1:2], "paths_version": 1},
    )
    dist = read(tmp_path, write_record(tmp_path, record))
    (problem,) = dist.problems
    assert problem.code == "record-malformed" and not problem.warning
    assert "1 file(s) with no paths_data entry, so no size or hash: lib/libodd.so (conda leaves"
    assert [(f.path, f.digest) for f in dist.files] == [
        ("site-packages/six.py", sha(b"six")),
        ("lib/libodd.so", None),  # no cache copy named: existence only
    ]


def test_name_and_version_from_the_file_name_when_the_record_lacks_them(tmp_path: Path) -> None:
    record = {"files": ["lib/a.so"]}
    dist = read(tmp_path, write_record(tmp_path, record, "libfoo-2.3.4-h1234_0"))
    assert (dist.name, dist.version) == ("libfoo", "2.3.4")
    assert dist.problems == ()


# --------------------------------------------------------------------------------------------
# Damage: record-malformed, never an exception
# --------------------------------------------------------------------------------------------


def only_malformed(dist: Distribution, rel: str = "conda-meta/pkg-1.0-0.json") -> str:
    """The one problem's message, after checking it is one record-malformed problem."""
    assert len(dist.problems) == 1, dist.problems
    (problem,) = dist.problems
    assert problem.code == "record-malformed"
    assert problem.path == rel
    assert not problem.warning
    return problem.message


@pytest.mark.parametrize(
    "content", [b"{not json", b"", b'{"name": "pkg", "files": [', b"\xff\xfe\x00garbage", b"null"]
)
def test_unreadable_json(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "conda-meta").mkdir()
    path = tmp_path / "conda-meta" / "pkg-1.0-0.json"
    path.write_bytes(content)
    dist = read(tmp_path, path)
    message = only_malformed(dist)
    assert message.startswith("conda-meta/pkg-1.0-0.json")
    assert (dist.name, dist.version, dist.files) == ("pkg", "1.0", ())


@pytest.mark.parametrize("value", [[], [1, 2], "text", 3])
def test_json_that_is_not_an_object(tmp_path: Path, value: object) -> None:
    dist = read(tmp_path, write_record(tmp_path, value))
    assert "not a JSON object" in only_malformed(dist)
    assert dist.files == ()


def test_a_record_that_vanished(tmp_path: Path) -> None:
    (tmp_path / "conda-meta").mkdir()
    dist = read(tmp_path, tmp_path / "conda-meta" / "pkg-1.0-0.json")
    only_malformed(dist)


@pytest.mark.parametrize(
    ("entry", "quoted"),
    [
        ({"path_type": "hardlink", "sha256": sha(b"x")}, "has no _path"),
        ({"_path": 5}, "has no _path"),
        ("lib/a.so", "has no _path"),
        ({"_path": "lib/a.so", "sha256": "abc"}, "'abc'"),
        ({"_path": "lib/a.so", "sha256": "z" * 64}, "'" + "z" * 64 + "'"),
        ({"_path": "lib/a.so", "sha256": sha(b"x") + "00"}, sha(b"x") + "00"),
        ({"_path": "lib/a.so", "sha256_in_prefix": "not-hex"}, "'not-hex'"),
        ({"_path": "lib/a.so", "sha256": sha(b"x"), "size_in_bytes": -1}, "-1"),
        ({"_path": "lib/a.so", "sha256": sha(b"x"), "size_in_bytes": "12"}, "'12'"),
    ],
)
def test_a_bad_paths_entry_is_one_problem(tmp_path: Path, entry: object, quoted: str) -> None:
    good = {
        "_path": "lib/good.so",
        "path_type": "hardlink",
        "sha256": sha(b"good"),
        "size_in_bytes": 4,
    }
    record = base_record("pkg", "1.0", "0", paths_data={"paths": [good, entry, good]})
    dist = read(tmp_path, write_record(tmp_path, record))
    message = only_malformed(dist)
    assert quoted in message, message
    assert [f.path for f in dist.files] == ["lib/good.so", "lib/good.so"]


@pytest.mark.parametrize(
    "damage",
    [
        {"files": 5},
        {"files": 5, "noarch": "python"},
        {"depends": 5},
        {"paths_data": {"paths": [{"_path": "lib/a.so", "path_type": ["hardlink"]}]}},
        {
            "paths_data": {
                "paths": [{"_path": "lib/a.so", "sha256": sha(b"x"), "size_in_bytes": True}]
            }
        },
        {"paths_data": "garbage"},
        {"paths_data": {"paths": "garbage"}},
        {"files": [1, None, "lib/a.so"]},
        {"name": None, "version": None},
        {"noarch": 5},
    ],
    ids=lambda d: json.dumps(d)[:60],
)
def test_wrong_json_types_never_raise(tmp_path: Path, damage: dict[str, Any]) -> None:
    """A valid JSON object whose fields have the wrong types: damage to report, not a crash.
    The size ``true`` is the JSON boolean, not a number of bytes."""
    record = base_record("pkg", "1.0", "0", files=["lib/a.so"])
    record.update(damage)
    dist = read(tmp_path, write_record(tmp_path, record))
    assert dist.installer == "conda"
    for f in dist.files:
        assert f.size is None or type(f.size) is int, f
        assert os.path.isabs(f.location)


def test_scan_conda_meta(tmp_path: Path) -> None:
    write_record(tmp_path, base_record("b", "1", "0", files=[]), "b-1-0")
    write_record(tmp_path, base_record("a", "2", "0", files=[]), "a-2-0")
    (tmp_path / "conda-meta" / "history").write_text("==> 2024 <==\n")
    assert [(d.name, d.version) for d in scan_conda_meta(str(tmp_path))] == [("a", "2"), ("b", "1")]
    assert scan_conda_meta(str(tmp_path / "not-conda")) == []


def test_parsed_records_come_from_the_stat_cache_while_unchanged(tmp_path: Path) -> None:
    """A record is parsed once; its cached parse is used while the JSON is unchanged, and a
    record with a problem (here: files outside paths_data) is never cached (issue 19 §10)."""
    from verify_env.cache.statcache import StatCache, stat_key

    prefix = tmp_path / "env"
    (prefix / "lib" / "python3.11" / "site-packages").mkdir(parents=True)
    good = base_record(
        "six",
        "1.16.0",
        "pyhd8ed1ab_0",
        noarch="python",
        files=NOARCH_FILES,
        paths_data={"paths": NOARCH_PATHS, "paths_version": 1},
    )
    bad = base_record("old", "0.1", "0", files=["bin/old"], paths_data={"paths": []})
    good_path = write_record(prefix, good, "six-1.16.0-pyhd8ed1ab_0")
    write_record(prefix, bad, "old-0.1-0")
    where = str(tmp_path / "cache" / "c.bin")
    first = StatCache(where).load()
    parsed = scan_conda_meta(str(prefix), first)
    first.save()
    cached = scan_conda_meta(str(prefix), StatCache(where).load())
    assert cached == parsed and [d.name for d in cached] == ["old", "six"]
    assert cached[0].problems and cached[1].files == parsed[1].files
    remembered = StatCache(where).load()
    for path, kept in ((good_path, True), (prefix / "conda-meta" / "old-0.1-0.json", False)):
        fact = remembered.fact("conda-meta1", str(path), stat_key(os.stat(path)))
        assert (fact is not None) is kept, path
    good["depends"] = ["python >=3.12"]  # changed: read afresh
    good_path.write_text(json.dumps(good))
    again = scan_conda_meta(str(prefix), StatCache(where).load())
    assert again[1].requires == ("python >=3.12",)
