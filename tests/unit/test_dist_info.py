"""verify_env.inventory.dist_info: RECORD rows as pip writes them (from a wheel built and
installed here), malformed rows as one quoted problem each, and metadata dirs by hand."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from verify_env.inventory.dist_info import (
    parse_record,
    read_metadata_dir,
    scan_site_dir,
    wheel_file_tags,
)
from verify_env.inventory.model import Distribution, FileKind, RecordedFile, RecordProblem

GOOD_HASH = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(b"x").digest()).decode().rstrip("=")


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")


# --------------------------------------------------------------------------------------------
# A real RECORD: a wheel built here, installed by pip into a prefix of its own
# --------------------------------------------------------------------------------------------

WHEEL_FILES = {
    "demo_pkg/__init__.py": b"from demo_pkg.core import main\n",
    "demo_pkg/core.py": b"def main() -> None:\n    print('demo')\n",
    "demo_pkg/data/table.txt": b"a,b\n1,2\n",
    "demo_pkg-1.0.dist-info/METADATA": (
        b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n"
        b"Requires-Dist: packaging>=20\n\nA demo.\n"
    ),
    "demo_pkg-1.0.dist-info/WHEEL": (
        b"Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ),
    "demo_pkg-1.0.dist-info/entry_points.txt": b"[console_scripts]\ndemo-cli = demo_pkg:main\n",
}


def build_wheel(dest: Path) -> Path:
    wheel = dest / "demo_pkg-1.0-py3-none-any.whl"
    rows = [f"{name},{record_hash(data)},{len(data)}" for name, data in WHEEL_FILES.items()]
    rows.append("demo_pkg-1.0.dist-info/RECORD,,")
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in WHEEL_FILES.items():
            zf.writestr(name, data)
        zf.writestr("demo_pkg-1.0.dist-info/RECORD", "\n".join(rows) + "\n")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(prefix, site dir) of the demo wheel installed by the real pip."""
    base = tmp_path_factory.mktemp("pip-installed")
    wheel = build_wheel(base)
    prefix = base / "prefix"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            "--prefix",
            str(prefix),
            str(wheel),
        ],
        check=True,
    )
    purelib = sysconfig.get_path("purelib", vars={"base": str(prefix)})
    site = Path(purelib)
    assert (site / "demo_pkg-1.0.dist-info" / "RECORD").is_file()
    return prefix, site


def assert_pyc_never_required(files: list[RecordedFile]) -> None:
    """Bytecode may be absent (Python rewrites it, images strip it): a ``.pyc`` row is either
    left out of the files to verify or kept as OPTIONAL, never REGULAR."""
    for f in files:
        if f.path.endswith(".pyc"):
            assert f.kind is FileKind.OPTIONAL, f


def assert_normal_absolute(files: list[RecordedFile]) -> None:
    for f in files:
        assert os.path.isabs(f.location), f
        assert os.path.normpath(f.location) == f.location, f


def test_pips_record_parses_cleanly(installed: tuple[Path, Path]) -> None:
    prefix, site = installed
    text = (site / "demo_pkg-1.0.dist-info" / "RECORD").read_text()
    files, problems = parse_record(text, str(site), "demo_pkg-1.0.dist-info/RECORD")
    assert problems == []
    assert_normal_absolute(files)
    by_path = {f.path: f for f in files}
    for name, data in WHEEL_FILES.items():
        f = by_path[name]
        assert f.location == os.path.join(str(site), name)
        assert (f.algorithm, f.size, f.kind) == ("sha256", len(data), FileKind.REGULAR)
        assert f"{f.algorithm}={f.digest}" == record_hash(data)
        assert not f.hex
        assert f.digest_style == "sha256:b64"
    # Every row names a file that is really there, with the bytes it records.
    for f in files:
        assert os.path.lexists(f.location), f
        if f.digest is not None:
            with open(f.location, "rb") as fh:
                assert f"{f.algorithm}={f.digest}" == record_hash(fh.read()), f
    # pip's bytecode rows (no hash) are never required; the script lies outside the site dir.
    assert ",," in text and ".pyc,," in text
    assert_pyc_never_required(files)
    script = next(f for f in files if f.path.endswith("bin/demo-cli"))
    assert script.path.startswith("../")
    assert script.location == os.path.join(str(prefix), "bin", "demo-cli")
    record = by_path["demo_pkg-1.0.dist-info/RECORD"]
    assert (record.algorithm, record.digest, record.size) == (None, None, None)


def test_pips_dist_info_reads_whole(installed: tuple[Path, Path]) -> None:
    _, site = installed
    dist = read_metadata_dir(str(site), "demo_pkg-1.0.dist-info")
    assert (dist.name, dist.key, dist.version, dist.installer) == (
        "demo-pkg",
        "demo-pkg",
        "1.0",
        "pip",
    )
    assert dist.source == "dist-info"
    assert dist.problems == ()
    assert dist.wheel_tags == ("py3-none-any",)
    assert dist.requires == ("packaging>=20",)
    assert dist.hint == "pip install --force-reinstall --no-deps demo-pkg==1.0"
    assert dist.metadata_dir == str(site / "demo_pkg-1.0.dist-info")
    assert [d.name for d in scan_site_dir(str(site))] == ["demo-pkg"]


def test_an_installed_record_of_the_dev_env_parses_cleanly() -> None:
    import packaging

    site = Path(packaging.__file__).parent.parent
    records = sorted(site.glob("packaging-*.dist-info/RECORD"))
    assert records, f"no packaging dist-info in {site}"
    record = records[0]
    rel = f"{record.parent.name}/RECORD"
    files, problems = parse_record(record.read_text(), str(site), rel)
    assert problems == []
    assert len(files) > 10
    assert_normal_absolute(files)
    assert any(f.path == "packaging/__init__.py" for f in files)


# --------------------------------------------------------------------------------------------
# Malformed rows: one problem each, quoting the input, the good rows kept
# --------------------------------------------------------------------------------------------

MALFORMED = {
    "too-many-fields": f"pkg/bad.py,{GOOD_HASH},1,extra",
    "too-few-fields": "pkg/bad.py,1",
    "one-field": "pkg/bad.py",
    "empty-path": f",{GOOD_HASH},1",
    "hash-without-equals": "pkg/bad.py,sha256abcdef,1",
    "unknown-algorithm": "pkg/bad.py,whirlpool=" + "A" * 43 + ",1",
    "digest-too-short": "pkg/bad.py,sha256=abc,1",
    "digest-too-long": f"pkg/bad.py,{GOOD_HASH}AA,1",
    "empty-digest-of-unknown-algorithm": "pkg/bad.py,sha257=,1",
    "digest-not-base64": "pkg/bad.py,sha256=" + "!" * 43 + ",1",
    "digest-standard-base64": "pkg/bad.py,sha256=" + "+/" * 21 + "A,1",
    "negative-size": f"pkg/bad.py,{GOOD_HASH},-1",
    "non-integer-size": f"pkg/bad.py,{GOOD_HASH},12.5",
    "word-size": f"pkg/bad.py,{GOOD_HASH},twelve",
}
# what of the input the message must quote
QUOTED = {
    "too-many-fields": "extra",
    "too-few-fields": "pkg/bad.py",
    "one-field": "pkg/bad.py",
    "empty-path": GOOD_HASH,
    "hash-without-equals": "sha256abcdef",
    "unknown-algorithm": "whirlpool=",
    "digest-too-short": "sha256=abc",
    "digest-too-long": GOOD_HASH + "AA",
    "empty-digest-of-unknown-algorithm": "sha257=",
    "digest-not-base64": "!" * 43,
    "digest-standard-base64": "+/+/",
    "negative-size": "-1",
    "non-integer-size": "12.5",
    "word-size": "twelve",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_row_is_one_quoted_problem(tmp_path: Path, case: str) -> None:
    text = "\n".join(
        [
            f"pkg/__init__.py,{GOOD_HASH},1",
            MALFORMED[case],
            "pkg/other.py,,",
            "",
        ]
    )
    files, problems = parse_record(text, str(tmp_path), "pkg-1.0.dist-info/RECORD")
    assert [f.path for f in files] == ["pkg/__init__.py", "pkg/other.py"]
    assert len(problems) == 1, problems
    problem = problems[0]
    assert problem.code == "record-malformed"
    assert problem.path == "pkg-1.0.dist-info/RECORD"
    assert problem.message.startswith("RECORD line 2"), problem.message
    assert QUOTED[case] in problem.message, problem.message
    assert not problem.warning


def test_installer_dialects_promise_what_they_record(tmp_path: Path) -> None:
    """pdm's empty digest keeps its size; a row with neither hash nor size is kept (it promises
    that the path exists: virtualenv's seeder); its bytecode-dir rows are left out like .pyc."""
    text = "\n".join(
        [
            "pkg/linked.py,sha256=,13354",  # pdm, linked from its install cache
            "pkg,,",  # virtualenv --symlink-app-data: a whole top-level directory
            "pkg/__pycache__,,",  # virtualenv's seeder: a bytecode dir per package dir
            "../../../bin/tool,,",  # virtualenv's seeder: a console script it generated
            f"pkg/kept.py,{GOOD_HASH},1",
            "",
        ]
    )
    files, problems = parse_record(text, str(tmp_path), "pkg-1.0.dist-info/RECORD")
    assert problems == []
    by_path = {f.path: f for f in files}
    assert sorted(by_path) == ["../../../bin/tool", "pkg", "pkg/kept.py", "pkg/linked.py"]
    linked = by_path["pkg/linked.py"]
    assert (linked.algorithm, linked.digest, linked.size, linked.kind) == (
        None,
        None,
        13354,
        FileKind.REGULAR,
    )
    for path in ("pkg", "../../../bin/tool"):
        assert (by_path[path].algorithm, by_path[path].size) == (None, None)


def test_line_numbers_count_from_one_and_skip_nothing(tmp_path: Path) -> None:
    text = "\n".join(
        [
            "a.py,,",
            "",  # a blank line is still a line
            "b.py,md5,1",
            "c.py,,-5",
            "d.py,,",
        ]
    )
    files, problems = parse_record(text, str(tmp_path), "x.dist-info/RECORD")
    assert [f.path for f in files] == ["a.py", "d.py"]
    assert [p.message.split(":")[0] for p in problems] == ["RECORD line 3", "RECORD line 4"]


def test_many_bad_rows_are_collected_not_raised(tmp_path: Path) -> None:
    text = "\n".join(MALFORMED[c] for c in sorted(MALFORMED))
    files, problems = parse_record(text, str(tmp_path), "x.dist-info/RECORD")
    assert files == []
    assert len(problems) == len(MALFORMED)
    assert all(isinstance(p, RecordProblem) and p.code == "record-malformed" for p in problems)


@pytest.mark.parametrize(
    "algorithm", ["sha256", "sha384", "sha512", "md5", "sha1", "sha3_256", "blake2b"]
)
def test_every_guaranteed_algorithm_is_accepted(tmp_path: Path, algorithm: str) -> None:
    digest = base64.urlsafe_b64encode(hashlib.new(algorithm, b"x").digest()).decode().rstrip("=")
    files, problems = parse_record(f"m.py,{algorithm}={digest},1\n", str(tmp_path), "R")
    assert problems == []
    assert (files[0].algorithm, files[0].digest) == (algorithm, digest)


def test_uppercase_algorithm_name_is_normalized(tmp_path: Path) -> None:
    digest = GOOD_HASH.partition("=")[2]
    files, problems = parse_record(f"m.py,SHA256={digest},1\n", str(tmp_path), "R")
    assert problems == []
    assert files[0].algorithm == "sha256"


def test_parent_paths_normalize_outside_root(tmp_path: Path) -> None:
    root = tmp_path / "prefix" / "lib" / "python3.11" / "site-packages"
    text = "../../../bin/x,,\n"
    files, problems = parse_record(text, str(root), "R")
    assert problems == []
    (f,) = files
    assert f.path == "../../../bin/x"
    assert f.location == str(tmp_path / "prefix" / "bin" / "x")
    assert not f.location.startswith(str(root))


@pytest.mark.parametrize(
    ("path", "relative_location"),
    [
        ("pkg/mod.py", "pkg/mod.py"),
        ("pkg\\win\\mod.py", "pkg/win/mod.py"),
        ("./pkg/mod.py", "pkg/mod.py"),
        ("pkg/./mod.py", "pkg/mod.py"),
        ("pkg//mod.py", "pkg/mod.py"),
        ("pkg/sub/../mod.py", "pkg/mod.py"),
        (".hidden/x", ".hidden/x"),
        ("pkg/.hidden", "pkg/.hidden"),
        ("pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/METADATA"),
    ],
)
def test_locations_are_normalized(tmp_path: Path, path: str, relative_location: str) -> None:
    root = tmp_path / "site"
    files, problems = parse_record(f"{path},,\n", str(root), "R")
    assert problems == []
    assert files[0].location == os.path.join(str(root), relative_location)
    assert_normal_absolute(files)


def test_absolute_paths_stay_absolute(tmp_path: Path) -> None:
    files, _ = parse_record("/usr/share/x/y.txt,,\n", str(tmp_path), "R")
    assert files[0].location == "/usr/share/x/y.txt"


def test_root_with_a_trailing_slash(tmp_path: Path) -> None:
    files, _ = parse_record("pkg/m.py,,\n", str(tmp_path) + "/", "R")
    assert files[0].location == str(tmp_path / "pkg" / "m.py")


def test_pyc_rows_are_never_required(tmp_path: Path) -> None:
    text = (
        f"pkg/__pycache__/m.cpython-311.pyc,,\npkg/old.pyc,{GOOD_HASH},1\npkg/m.py,,\npkg/m.pyi,,\n"
    )
    files, problems = parse_record(text, str(tmp_path), "R")
    assert problems == []
    assert_pyc_never_required(files)
    assert [(f.path, f.kind) for f in files if not f.path.endswith(".pyc")] == [
        ("pkg/m.py", FileKind.REGULAR),
        ("pkg/m.pyi", FileKind.REGULAR),
    ]


def test_quoted_csv_fields(tmp_path: Path) -> None:
    text = f'"pkg/a,b.py",{GOOD_HASH},1\n'
    files, problems = parse_record(text, str(tmp_path), "R")
    assert problems == []
    assert files[0].path == "pkg/a,b.py"


def test_non_utf8_names_survive(tmp_path: Path) -> None:
    raw = b"pkg/bad\xff.so,,\n".decode("utf-8", "surrogateescape")
    files, problems = parse_record(raw, str(tmp_path), "R")
    assert problems == []
    assert files[0].location == os.path.join(str(tmp_path), "pkg/bad\udcff.so")


# --------------------------------------------------------------------------------------------
# read_metadata_dir on hand-made metadata dirs
# --------------------------------------------------------------------------------------------

METADATA = (
    "Metadata-Version: 2.1\n"
    "Name: Foo_Bar\n"
    "Version: 2.0.1\n"
    "Requires-Python: >=3.9\n"
    "Requires-Dist: numpy>=1.22\n"
    "Requires-Dist: pytest; extra == 'test'\n"
    'Requires-Dist: tomli>=1.1; python_version < "3.11"\n'
    "\n"
    "Requires-Dist: this-is-the-description\n"
)


def make_dist_info(
    site: Path,
    name: str = "Foo_Bar-2.0.1.dist-info",
    *,
    metadata: str | None = METADATA,
    installer: str | None = "pip",
    wheel: str | None = None,
    record: str | None = "foo_bar/__init__.py,,\n",
) -> Path:
    d = site / name
    d.mkdir(parents=True)
    for filename, content in (
        ("METADATA", metadata),
        ("INSTALLER", installer),
        ("WHEEL", wheel),
        ("RECORD", record),
    ):
        if content is not None:
            (d / filename).write_text(content)
    return d


def problem_codes(dist: Distribution) -> list[tuple[str, bool]]:
    return [(p.code, p.warning) for p in dist.problems]


def test_metadata_headers(tmp_path: Path) -> None:
    make_dist_info(tmp_path)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert (dist.name, dist.key, dist.version) == ("Foo_Bar", "foo-bar", "2.0.1")
    assert dist.requires == (
        "numpy>=1.22",
        "pytest; extra == 'test'",
        'tomli>=1.1; python_version < "3.11"',
    )
    assert dist.requires_python == ">=3.9"
    assert dist.problems == ()
    assert dist.root == dist.site_dir == str(tmp_path)
    assert [f.location for f in dist.files] == [str(tmp_path / "foo_bar" / "__init__.py")]


def test_pip_installer_without_record_is_an_error(tmp_path: Path) -> None:
    make_dist_info(tmp_path, installer="pip\n", record=None)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert dist.installer == "pip"
    assert problem_codes(dist) == [("record-missing", False)]
    assert dist.problems[0].path == "Foo_Bar-2.0.1.dist-info/RECORD"
    assert "'pip'" in dist.problems[0].message
    assert dist.files == ()


def test_uv_installer_without_record_is_an_error(tmp_path: Path) -> None:
    make_dist_info(tmp_path, installer="uv", record=None)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert problem_codes(dist) == [("record-missing", False)]
    assert dist.hint == "uv pip install --reinstall --no-deps Foo_Bar==2.0.1"


def test_no_installer_and_no_record_is_a_warning(tmp_path: Path) -> None:
    make_dist_info(tmp_path, installer=None, record=None)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert dist.installer == "unknown"
    assert problem_codes(dist) == [("record-missing", True)]


def test_an_os_installer_without_record_is_a_warning(tmp_path: Path) -> None:
    make_dist_info(tmp_path, installer="debian", record=None)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert dist.installer == "debian"
    assert problem_codes(dist) == [("record-missing", True)]
    assert dist.hint is None


def test_a_record_that_cannot_be_read(tmp_path: Path) -> None:
    d = make_dist_info(tmp_path, record=None)
    (d / "RECORD").mkdir()
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert problem_codes(dist) == [("record-malformed", False)]


def test_a_dangling_record_symlink_cannot_be_read(tmp_path: Path) -> None:
    d = make_dist_info(tmp_path, record=None)
    (d / "RECORD").symlink_to(tmp_path / "nowhere")
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert problem_codes(dist) == [("record-malformed", False)]


def test_missing_metadata_is_malformed(tmp_path: Path) -> None:
    make_dist_info(tmp_path, name="foo_bar-3.1.dist-info", metadata=None)
    dist = read_metadata_dir(str(tmp_path), "foo_bar-3.1.dist-info")
    assert problem_codes(dist) == [("record-malformed", False)]
    assert dist.problems[0].path == "foo_bar-3.1.dist-info/METADATA"
    # name and version fall back to the directory's name
    assert (dist.name, dist.key, dist.version) == ("foo-bar", "foo-bar", "3.1")
    assert len(dist.files) == 1


def test_record_problems_follow_metadata_problems(tmp_path: Path) -> None:
    make_dist_info(tmp_path, metadata=None, record="a.py,md5,1\n")
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert [p.code for p in dist.problems] == ["record-malformed", "record-malformed"]
    assert dist.problems[1].message.startswith("RECORD line 1")


def test_wheel_tags(tmp_path: Path) -> None:
    wheel = (
        "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.43.0)\nRoot-Is-Purelib: false\n"
        "Tag: cp311-cp311-manylinux_2_17_x86_64\nTag: cp311-cp311-manylinux2014_x86_64\n"
        "Build: 1\n"
    )
    make_dist_info(tmp_path, wheel=wheel)
    dist = read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info")
    assert dist.wheel_tags == (
        "cp311-cp311-manylinux_2_17_x86_64",
        "cp311-cp311-manylinux2014_x86_64",
    )


def test_no_wheel_file_means_no_tags(tmp_path: Path) -> None:
    make_dist_info(tmp_path)
    assert read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info").wheel_tags == ()


def test_installer_first_line_lowercased(tmp_path: Path) -> None:
    make_dist_info(tmp_path, installer="  UV \nsomething else\n")
    assert read_metadata_dir(str(tmp_path), "Foo_Bar-2.0.1.dist-info").installer == "uv"


def test_egg_info_dir_with_installed_files(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    egg = site / "legacy-0.9-py3.11.egg-info"
    egg.mkdir(parents=True)
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.9\n")
    (egg / "installed-files.txt").write_text(
        "../legacy/__init__.py\n../legacy/__pycache__/__init__.cpython-311.pyc\n"
        "\n../../../../bin/legacy-tool\nPKG-INFO\n"
    )
    dist = read_metadata_dir(str(site), egg.name)
    assert (dist.name, dist.version, dist.installer, dist.source) == (
        "legacy",
        "0.9",
        "pip",
        "egg-info",
    )
    assert dist.problems == ()
    assert [(f.path, f.location, f.kind) for f in dist.files] == [
        ("../legacy/__init__.py", str(site / "legacy" / "__init__.py"), FileKind.REGULAR),
        (
            "../legacy/__pycache__/__init__.cpython-311.pyc",
            str(site / "legacy" / "__pycache__" / "__init__.cpython-311.pyc"),
            FileKind.OPTIONAL,
        ),
        ("../../../../bin/legacy-tool", str(tmp_path / "bin" / "legacy-tool"), FileKind.REGULAR),
        ("PKG-INFO", str(egg / "PKG-INFO"), FileKind.REGULAR),
    ]
    assert all(f.digest is None and f.size is None for f in dist.files)


def test_egg_info_without_installed_files(tmp_path: Path) -> None:
    egg = tmp_path / "legacy-0.9-py3.11.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: legacy\nVersion: 0.9\n")
    dist = read_metadata_dir(str(tmp_path), egg.name)
    assert (dist.name, dist.version, dist.installer) == ("legacy", "0.9", "unknown")
    assert dist.files == ()
    assert dist.problems == ()


def test_egg_info_as_a_single_file(tmp_path: Path) -> None:
    (tmp_path / "oldlib-1.2-py3.11.egg-info").write_text(
        "Metadata-Version: 1.0\nName: oldlib\nVersion: 1.2\n"
    )
    dist = read_metadata_dir(str(tmp_path), "oldlib-1.2-py3.11.egg-info")
    assert (dist.name, dist.version, dist.files, dist.problems) == ("oldlib", "1.2", (), ())


def test_scan_site_dir_is_sorted_and_ignores_other_entries(tmp_path: Path) -> None:
    make_dist_info(tmp_path, name="zeta-1.0.dist-info", metadata="Name: zeta\nVersion: 1.0\n")
    make_dist_info(tmp_path, name="alpha-2.0.dist-info", metadata="Name: alpha\nVersion: 2.0\n")
    (tmp_path / "alpha").mkdir()
    (tmp_path / "README.txt").write_text("")
    assert [(d.name, d.version) for d in scan_site_dir(str(tmp_path))] == [
        ("alpha", "2.0"),
        ("zeta", "1.0"),
    ]
    assert scan_site_dir(str(tmp_path / "missing")) == []


def test_every_wheel_tag_line_counts_wherever_it_stands() -> None:
    # Debian's python3-tables 3.7.0-5, byte for byte
    debian = (
        "Wheel-Version: 1.0\nGenerator: bdist_wheel (0.38.4)\nRoot-Is-Purelib: false\n"
        "Tag: cp310-cp310-linux_x86_64\n\nTag: cp311-cp311-linux_x86_64\n"
    )
    assert wheel_file_tags(debian) == ("cp310-cp310-linux_x86_64", "cp311-cp311-linux_x86_64")
    assert wheel_file_tags("tag:py3-none-any\r\n  Tag: folded\nTags: no\nTag:\n") == (
        "py3-none-any",
    )
