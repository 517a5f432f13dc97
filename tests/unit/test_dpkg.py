"""Distro packages are judged by dpkg's database, never by their (rewritten) RECORDs.

The database here is a real dpkg admindir layout (``info/<pkg>.list`` and ``.md5sums``) written
for a distribution laid out in tmp_path the way Debian's python3-* packages are: a dist-info
without INSTALLER whose RECORD no longer matches the files (Debian strips and rewrites them).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from verify_env.cache.statcache import StatCache
from verify_env.checks import CheckResult, Context, record
from verify_env.inventory import build_inventory
from verify_env.inventory.dpkg import DpkgDatabase
from verify_env.pool.hashing import default_jobs
from verify_env.target.model import Target, resolve_target
from verify_env.transaction.scope import Scope


def _layout(tmp_path: Path) -> tuple[Path, DpkgDatabase]:
    site = tmp_path / "usr/lib/python3/dist-packages"
    pkg = site / "yamlish"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("VERSION = '6.0'\n")
    (pkg / "_speed.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF stripped by dh\n")
    meta = site / "yamlish-6.0.dist-info"
    meta.mkdir()
    (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: yamlish\nVersion: 6.0\n")
    # The RECORD as pip wrote it before Debian's build stripped the .so: it no longer matches.
    (meta / "RECORD").write_text(
        "yamlish/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,3\n"
        "yamlish/_speed.cpython-311-x86_64-linux-gnu.so,"
        "sha256=BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB,9999\n"
        "yamlish-6.0.dist-info/RECORD,,\n"
    )
    files = [
        pkg / "__init__.py",
        pkg / "_speed.cpython-311-x86_64-linux-gnu.so",
        meta / "METADATA",
        meta / "RECORD",
    ]
    info = tmp_path / "dpkg/info"
    info.mkdir(parents=True)
    listed = [str(site), str(pkg), str(meta), *map(str, files)]
    (info / "python3-yamlish:amd64.list").write_text("\n".join(listed) + "\n")
    (info / "python3-yamlish:amd64.md5sums").write_text(
        "".join(f"{hashlib.md5(f.read_bytes()).hexdigest()}  {str(f).lstrip('/')}\n" for f in files)
    )
    return site, DpkgDatabase(str(tmp_path / "dpkg"))


def _target(site: Path) -> Target:
    me = resolve_target()
    return Target(
        prefix=str(site.parents[2]),
        executable=me.executable,
        version=me.version,
        implementation=me.implementation,
        tags=me.tags,
        extension_suffixes=me.extension_suffixes,
        platform=me.platform,
        machine=me.machine,
        libc=me.libc,
        libc_version=me.libc_version,
        site_dirs=(str(site),),
        site_packages=(str(site),),
        sys_path=(str(site),),
        env={},
    )


def _run(site: Path, db: DpkgDatabase) -> CheckResult:
    target = _target(site)
    inventory = build_inventory(target, dpkg=db)
    ctx = Context(target, inventory, Scope.full(), default_jobs(), StatCache(None))
    outcome = record.run(ctx)
    return outcome if isinstance(outcome, CheckResult) else outcome()


def test_distro_package_is_judged_by_dpkg_not_its_record(tmp_path: Path) -> None:
    site, db = _layout(tmp_path)
    (dist,) = build_inventory(_target(site), dpkg=db).distributions
    assert (dist.installer, dist.os_package) == ("dpkg", "python3-yamlish")
    assert dist.hint == "apt-get install --reinstall python3-yamlish"
    assert {f.algorithm for f in dist.files} == {"md5"}
    assert _run(site, db).findings == []  # the stale RECORD is not damage


def test_a_changed_distro_file_is_reported_with_the_os_package(tmp_path: Path) -> None:
    site, db = _layout(tmp_path)
    (site / "yamlish/__init__.py").write_text("VERSION = '6.1'  # edited\n")
    findings = _run(site, db).findings
    assert [(f.code, f.distribution, f.installer, f.severity.value) for f in findings] == [
        ("hash-mismatch", "yamlish", "dpkg", "error")
    ]
    assert findings[0].path is not None and findings[0].path.endswith("yamlish/__init__.py")
    assert findings[0].hint == "apt-get install --reinstall python3-yamlish"


def test_an_extension_owned_by_another_os_package_is_not_unrecorded(tmp_path: Path) -> None:
    site, db = _layout(tmp_path)
    extra = site / "yamlish/_cairo.cpython-311-x86_64-linux-gnu.so"
    extra.write_bytes(b"\x7fELF from python3-yamlish-cairo\n")
    (tmp_path / "dpkg/info/python3-yamlish-cairo:amd64.list").write_text(f"{extra}\n")
    assert _run(site, db).findings == []
    extra2 = site / "yamlish/_stale.cpython-311-x86_64-linux-gnu.so"
    extra2.write_bytes(b"\x7fELF nobody's\n")
    db2 = DpkgDatabase(db.admindir)  # a fresh view: the database is read once per run
    codes = [(f.code, f.path) for f in _run(site, db2).findings]
    assert codes == [("unrecorded-extension", "yamlish/_stale.cpython-311-x86_64-linux-gnu.so")]


def _split_lib(tmp_path: Path, site: Path) -> Path:
    """A compiled module Debian split into python3-yamlish-lib, with its own md5sums."""
    so = site / "yamlish/_core.cpython-311-x86_64-linux-gnu.so"
    so.write_bytes(b"\x7fELF built for python3-yamlish-lib\n" * 4)
    info = tmp_path / "dpkg/info"
    (info / "python3-yamlish-lib:amd64.list").write_text(f"{so}\n")
    (info / "python3-yamlish-lib:amd64.md5sums").write_text(
        f"{hashlib.md5(so.read_bytes()).hexdigest()}  {str(so).lstrip('/')}\n"
    )
    return so


def test_a_split_lib_packages_module_is_checked_with_the_distribution(tmp_path: Path) -> None:
    """Issue 16 §3: the -lib package's compiled modules are the distribution's (tags, linkage
    and NumPy-ABI checks see them), each judged by its own package's md5sums."""
    site, db = _layout(tmp_path)
    so = _split_lib(tmp_path, site)
    (dist,) = build_inventory(_target(site), dpkg=db).distributions
    assert str(so) in {f.location for f in dist.files}
    assert dist.hint == "apt-get install --reinstall python3-yamlish python3-yamlish-lib"
    assert _run(site, DpkgDatabase(db.admindir)).findings == []
    so.write_bytes(so.read_bytes()[:40])  # truncated, as dpkg -V would flag it
    findings = _run(site, DpkgDatabase(db.admindir)).findings
    assert [(f.code, f.distribution, f.path) for f in findings] == [
        ("hash-mismatch", "yamlish", str(so).lstrip("/"))
    ]
    assert findings[0].hint == "apt-get install --reinstall python3-yamlish python3-yamlish-lib"


PEM = b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"


def test_certificates_appended_to_a_distro_bundle_without_recorded_size(tmp_path: Path) -> None:
    """dpkg's md5sums record no size: the recorded content is found as the prefix of the
    bundle whose md5 is the recorded one; only certificates appended after it are a warning."""
    site, _ = _layout(tmp_path)
    bundle = site / "yamlish/cacert.pem"
    bundle.write_bytes(b"# Bundle\n" + PEM * 3)
    info = tmp_path / "dpkg/info"
    with (info / "python3-yamlish:amd64.list").open("a") as out:
        out.write(f"{bundle}\n")
    with (info / "python3-yamlish:amd64.md5sums").open("a") as out:
        out.write(f"{hashlib.md5(bundle.read_bytes()).hexdigest()}  {str(bundle).lstrip('/')}\n")
    db = str(tmp_path / "dpkg")
    assert _run(site, DpkgDatabase(db)).findings == []
    original = bundle.read_bytes()
    bundle.write_bytes(original + b"# Local CA\n" + PEM)
    findings = _run(site, DpkgDatabase(db)).findings
    assert [(f.code, f.severity.value) for f in findings] == [("hash-mismatch", "warning")]
    assert "appended" in findings[0].message
    bundle.write_bytes(original.replace(b"MIIB", b"MIIC", 1) + PEM)  # an edit before the tail
    findings = _run(site, DpkgDatabase(db)).findings
    assert [(f.code, f.severity.value) for f in findings] == [("hash-mismatch", "error")]


def test_a_fifo_among_the_list_files_does_not_hang(tmp_path: Path) -> None:
    """Issue 18, §6: a FIFO in dpkg's info dir is skipped, not waited on."""
    from tests.support.guard import deadline

    info = tmp_path / "info"
    info.mkdir()
    (info / "good.list").write_text("/usr/lib/good.so\n")
    os.mkfifo(info / "evil.list")
    os.mkfifo(info / "good.md5sums")
    db = DpkgDatabase(str(tmp_path))
    with deadline(20):
        assert db.owner("/usr/lib/good.so") == "good"
        assert db.owner("/usr/lib/evil.so") is None
        assert db.files("good") == ()
