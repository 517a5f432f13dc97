"""The conda plugin's logic on real conda-format prefixes (rattler-installed, real interpreter,
gcc-built library and consumer), without conda: ``conda verify``, the health check and its
fixer, the post-transaction action before and after linking, and the post-command fallback."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.conda_env import create_prefix
from tests.support.conda_plugin import (
    CORE,
    SITE,
    Channel,
    extract,
    make_channel,
    ref_from_meta,
)
from tests.support.envs import pyenv_python
from tests.support.linkwheels import python_include
from verify_env.inventory import build_inventory
from verify_env.session import Session
from verify_env.target.model import resolve_target
from verify_env.transaction.scope import scope_of
from verify_env_conda import doctor, verify_cmd
from verify_env_conda.action import TransactionCheck, TransactionRefused
from verify_env_conda.mode import Mode, parse_mode
from verify_env_conda.postcommand import CommandWatch
from verify_env_conda.transaction import change_of, verify_transaction

PY_EXT = f"{SITE}/pipext/_c.cpython-311-x86_64-linux-gnu.so"


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Channel:
    return make_channel(
        tmp_path_factory.mktemp("plugin"), py311, pyenv_python(12), python_include(py311)
    )


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(tmp_path / "statcache"))


def _env(channel: Channel, tmp_path: Path, *specs: str) -> Path:
    prefix = tmp_path / "env"
    create_prefix(
        prefix, channel.url, list(specs or ("fakeblas-ext", "libfakeblas=1.0")), python_site=SITE
    )
    return prefix


def _replace(path: Path, data: bytes) -> None:
    """Write like an editor: a new inode (conda's files are hard links into its cache)."""
    path.unlink()
    path.write_bytes(data)


def _flip(data: bytes) -> bytes:
    return data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]


def _link_from_cache(prefix: Path, name: str, path: str, cache_dir: Path) -> None:
    """Make ``path`` what conda makes it: a hard link of the package-cache copy its record's
    ``extracted_package_dir`` names (rattler's own cache is gone after the install)."""
    (cache_dir / path).unlink()
    os.link(prefix / path, cache_dir / path)
    (meta,) = (prefix / "conda-meta").glob(f"{name}-*.json")
    record = json.loads(meta.read_text())
    record["extracted_package_dir"] = str(cache_dir)
    meta.write_text(json.dumps(record))


def _conda_verify(
    *argv: str, names: dict[str, str] | None = None, active: str = "/nonexistent"
) -> int:
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    return verify_cmd.execute(
        parser.parse_args(argv),
        locate_name=lambda n: (names or {})[n],
        default_prefix=lambda: active,
    )


def test_plugin_imports_without_conda_and_without_the_core() -> None:
    code = (
        "import sys, verify_env_conda as p; "
        "assert not p.HAVE_CONDA; "
        "assert not [m for m in sys.modules if m.startswith('verify_env.')], "
        "sorted(m for m in sys.modules if m.startswith('verify_env'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_mode_setting() -> None:
    assert parse_mode(None) is Mode.WARN and parse_mode("") is Mode.WARN
    assert parse_mode(" FAIL ") is Mode.FAIL and parse_mode("off") is Mode.OFF
    with pytest.raises(ValueError, match="'fial': choose off, warn or fail"):
        parse_mode("fial")


def test_conda_verify_clean_then_damaged(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(channel, tmp_path)
    assert str(prefix).encode() in (prefix / "etc/fakeblas.conf").read_bytes()  # replaced
    assert _conda_verify("-p", str(prefix), "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["findings"] == [] and report["summary"]["distributions"] >= 3
    _replace(prefix / "lib/libfakeblas.so.3", _flip(channel.library))
    assert _conda_verify("-n", "work", "--format", "json", names={"work": str(prefix)}) == 1
    (f,) = json.loads(capsys.readouterr().out)["findings"]
    assert (f["code"], f["path"], f["distribution"]) == (
        "hash-mismatch",
        "lib/libfakeblas.so.3",
        "libfakeblas",
    )
    assert f["hint"] == "conda install --force-reinstall libfakeblas=1.0"
    assert _conda_verify("--checks", "tags", active=str(prefix)) == 0  # the active env
    assert "verify-env" in capsys.readouterr().out
    assert _conda_verify("-p", str(prefix), "--checks", "nope") == 2
    assert "unknown check(s) nope" in capsys.readouterr().err


def test_conda_verify_env_twins(
    channel: Channel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = _env(channel, tmp_path)
    monkeypatch.setenv("VERIFY_ENV_JOBS", "0")
    assert _conda_verify("-p", str(prefix)) == 2
    assert "VERIFY_ENV_JOBS: '0' is not positive" in capsys.readouterr().err
    monkeypatch.setenv("VERIFY_ENV_JOBS", "1")
    monkeypatch.setenv("VERIFY_ENV_STRICT", "maybe")
    assert _conda_verify("-p", str(prefix)) == 2
    assert "VERIFY_ENV_STRICT: 'maybe' is not a yes or no" in capsys.readouterr().err
    monkeypatch.setenv("VERIFY_ENV_STRICT", "1")
    monkeypatch.setenv("VERIFY_ENV_FORMAT", "xml")
    assert _conda_verify("-p", str(prefix)) == 2
    assert "VERIFY_ENV_FORMAT: 'xml' is not one of" in capsys.readouterr().err
    monkeypatch.setenv("VERIFY_ENV_FORMAT", "junit")
    assert _conda_verify("-p", str(prefix)) == 0
    assert capsys.readouterr().out.startswith("<?xml")


def test_health_check_and_fixer(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(channel, tmp_path)
    pkgs = tmp_path / "pkgs"
    cached = extract(channel, pkgs, "libfakeblas", "1.0")
    doctor.health_check(str(prefix), False)
    assert capsys.readouterr().out.startswith(f"{doctor.OK_MARK} verify-env:")
    # Damage in place, as through a hard link: the env and the package cache alike.
    lib = prefix / "lib/libfakeblas.so.3"
    cache_lib = pkgs / cached.dist_name / "lib/libfakeblas.so.3"
    lib.write_bytes(_flip(channel.library))
    cache_lib.write_bytes(_flip(channel.library))
    doctor.health_check(str(prefix), True)
    out = capsys.readouterr().out
    assert out.startswith(f"{doctor.X_MARK} verify-env: 1 error(s)")
    assert "[record/hash-mismatch]" in out and "lib/libfakeblas.so.3" in out
    assert "fix: conda install --force-reinstall libfakeblas=1.0" in out
    assert "note: lib/libfakeblas.so.3 has 1 other hard link(s)" not in out  # rattler copied
    os.link(lib, tmp_path / "other-env-copy")
    doctor.health_check(str(prefix), False)
    assert "note: lib/libfakeblas.so.3 has 1 other hard link(s)" in capsys.readouterr().out
    assert _conda_verify("-p", str(prefix)) == 1
    assert "package cache" not in capsys.readouterr().err  # not a link into its own cache
    _link_from_cache(prefix, "libfakeblas", "lib/libfakeblas.so.3", pkgs / cached.dist_name)
    assert _conda_verify("-p", str(prefix)) == 1
    err = capsys.readouterr().err
    assert "conda verify: the damaged files of libfakeblas are hard links into conda's" in err
    asked: list[str] = []
    reinstalled: list[tuple[list[str], list[str]]] = []

    def reinstall(specs: list[str], channels: list[str]) -> int:
        reinstalled.append((specs, channels))
        return 0  # says it worked, changes nothing: the fixer must not believe it

    assert doctor.fix(str(prefix), asked.append, pkgs_dirs=[str(pkgs)], reinstall=reinstall) == 1
    # the version, never the build, goes into conda's requested specs; the record's channel
    record = json.loads(next((prefix / "conda-meta").glob("libfakeblas-1.0-*.json")).read_text())
    assert reinstalled == [(["libfakeblas=1.0"], [record["channel"]])] and len(asked) == 1
    assert not (pkgs / cached.dist_name).exists()  # dropped, so conda extracts it afresh
    out = capsys.readouterr().out
    assert f"removed the damaged cache copy {pkgs / cached.dist_name}" in out
    assert "verified again: 1 error finding(s) remain" in out


def test_fixer_leaves_pip_damage_to_pip(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(channel, tmp_path)
    _pip_dist(prefix, channel)
    _replace(prefix / PY_EXT, _flip(channel.extension))

    def reinstall(specs: list[str], channels: list[str]) -> int:
        raise AssertionError(specs)

    assert doctor.fix(str(prefix), lambda _: None, pkgs_dirs=[], reinstall=reinstall) == 1
    out = capsys.readouterr().out
    assert "not conda's to repair; run: " in out
    assert "-m pip install --force-reinstall --no-deps pipext==0.1" in out
    assert "verified again: 1 error finding(s) remain" in out


def test_action_refuses_damaged_package_cache_before_linking(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pkgs = tmp_path / "pkgs"
    refs = [extract(channel, pkgs, "libfakeblas", "1.0"), extract(channel, pkgs, "pyfoo", "1.0")]
    check = TransactionCheck(None, str(tmp_path / "new"), [], refs, mode=Mode.FAIL)
    check.pkgs_dirs = [str(pkgs)]
    assert check.verify() is None and check.verified
    conf = pkgs / refs[0].dist_name / "etc/fakeblas.conf"  # packaged bytes, placeholder intact
    conf.write_bytes(conf.read_bytes().replace(b"fast", b"slow"))
    refused = check.verify()
    assert isinstance(refused, TransactionRefused)
    text = str(refused)
    assert f"{conf}: sha256 " in text and "differs from paths.json's" in text
    assert f"rm -rf {pkgs / refs[0].dist_name}" in text
    assert "CONDA_PLUGINS_VERIFY_ENV_MODE=warn" in text and "--no-plugins" not in text
    warn = TransactionCheck(None, str(tmp_path / "new"), [], refs, mode=Mode.WARN)
    warn.pkgs_dirs = [str(pkgs)]
    assert warn.verify() is None
    warned = capsys.readouterr().out
    assert "1 file(s) in the package cache differ" in warned and "links them anyway" in warned
    assert "verify_env_mode warn" not in warned  # warn mode is not told to switch to warn
    off = TransactionCheck(None, str(tmp_path / "new"), [], refs, mode=Mode.OFF)
    off.pkgs_dirs = [str(pkgs)]
    assert off.verify() is None and capsys.readouterr().out == ""


def test_action_refuses_clobbering_before_linking(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(channel, tmp_path, "python=3.11", "pyfoo", "libfakeblas=1.0")
    _pip_dist(prefix, channel)
    pkgs = tmp_path / "pkgs"
    clobberer = extract(channel, pkgs, "clobberer", "1.0")
    before = sorted(p.name for p in (prefix / "conda-meta").iterdir())
    check = TransactionCheck(None, str(prefix), [], [clobberer], mode=Mode.FAIL)
    check.pkgs_dirs = [str(pkgs)]
    refused = check.verify()
    assert isinstance(refused, TransactionRefused)
    text = str(refused)
    assert "2 path(s) the transaction would link belong to another installed package" in text
    assert (
        f"[record/file-conflict] clobberer-1.0-0 would overwrite {SITE}/pyfoo/__init__.py, "
        "which conda package pyfoo-1.0-0 owns" in text
    )
    assert f"{SITE}/pipext/__init__.py, which pip distribution pipext 0.1 owns" in text
    assert "needsfoo" not in text  # nobody owns it here: no conflict
    assert "nothing was linked" in text and "CONDA_PLUGINS_VERIFY_ENV_MODE=warn" in text
    assert sorted(p.name for p in (prefix / "conda-meta").iterdir()) == before
    warn = TransactionCheck(None, str(prefix), [], [clobberer], mode=Mode.WARN)
    warn.pkgs_dirs = [str(pkgs)]
    assert warn.verify() is None
    assert "conda links them anyway (mode warn)" in capsys.readouterr().out
    allowed = TransactionCheck(None, str(prefix), [], [clobberer], mode=Mode.FAIL)
    allowed.pkgs_dirs, allowed.allow_clobber = [str(pkgs)], True  # conda install --clobber
    assert allowed.verify() is None
    assert "conda links them anyway (conda's --clobber)" in capsys.readouterr().out
    allowed.cleanup()
    # linked anyway: the owners' overwritten files are verified after linking
    (prefix / SITE / "pyfoo/__init__.py").write_bytes(b"CLOBBERED = True\n")
    warn.execute()
    after = capsys.readouterr().out
    assert "pyfoo 1.0: [record/size-mismatch]" in after, after
    # Not conflicts: a package replacing itself (its old version unlinks in the same
    # transaction), and the files of what the transaction removes.
    for name, version in (("libfakeblas", "2.0"), ("pyfoo", "1.0")):
        new = extract(channel, pkgs, name, version)
        old = ref_from_meta(prefix, name)
        update = TransactionCheck(None, str(prefix), [old], [new], mode=Mode.FAIL)
        update.pkgs_dirs = [str(pkgs)]
        assert update.verify() is None, name
        update.cleanup()  # what conda calls after a transaction that did not execute it
    swap = [ref_from_meta(prefix, "pyfoo")]
    replace = TransactionCheck(None, str(prefix), swap, [clobberer], mode=Mode.FAIL)
    replace.pkgs_dirs = [str(pkgs)]
    assert "pyfoo" not in str(replace.verify()) and "pipext" in str(replace.verify())
    assert capsys.readouterr().out == ""


def test_an_accepted_clobber_is_not_refused_before_linking(
    channel: Channel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The --ignore rules every door applies after linking hold before linking too."""
    prefix = _env(channel, tmp_path, "python=3.11", "pyfoo", "libfakeblas=1.0")
    _pip_dist(prefix, channel)
    pkgs = tmp_path / "pkgs"
    clobberer = extract(channel, pkgs, "clobberer", "1.0")
    monkeypatch.setenv("VERIFY_ENV_IGNORE", "record:file-conflict:clobberer:*/pipext/*")
    check = TransactionCheck(None, str(prefix), [], [clobberer], mode=Mode.FAIL)
    check.pkgs_dirs = [str(pkgs)]
    refused = check.verify()
    assert isinstance(refused, TransactionRefused)
    assert f"{SITE}/pyfoo/__init__.py" in str(refused) and "pipext" not in str(refused)
    assert (
        f"would overwrite {SITE}/pipext/__init__.py, which pip distribution pipext 0.1 owns "
        "(accepted: VERIFY_ENV_IGNORE record:file-conflict:clobberer:*/pipext/*)"
    ) in capsys.readouterr().out
    monkeypatch.setenv("VERIFY_ENV_IGNORE", "record:file-conflict:clobberer")
    check = TransactionCheck(None, str(prefix), [], [clobberer], mode=Mode.FAIL)
    check.pkgs_dirs = [str(pkgs)]
    assert check.verify() is None
    check.cleanup()


def test_record_without_paths_data_is_a_finding_and_the_cache_still_judges(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19 §12: what conda writes after its size check of the cache copy failed."""
    prefix = _env(channel, tmp_path, "python=3.11", "libfakeblas=1.0")
    cached = extract(channel, tmp_path / "pkgs", "libfakeblas", "1.0")
    cache_dir = tmp_path / "pkgs" / cached.dist_name
    (meta,) = (prefix / "conda-meta").glob("libfakeblas-*.json")
    record = json.loads(meta.read_text())
    paths = record["paths_data"]["paths"]  # conda's size check failed for the library alone
    record["paths_data"]["paths"] = [p for p in paths if p["_path"] != "lib/libfakeblas.so.3"]
    record["extracted_package_dir"] = str(cache_dir)
    record["link"] = {"source": str(cache_dir), "type": 1}
    meta.write_text(json.dumps(record))
    _replace(prefix / "lib/libfakeblas.so.3", _flip(channel.library))

    def findings() -> set[tuple[str, str | None]]:
        assert _conda_verify("-p", str(prefix), "--format", "json", "--no-cache") == 1
        report = json.loads(capsys.readouterr().out)
        return {(f["code"], f["path"]) for f in report["findings"]}

    malformed = ("record-malformed", f"conda-meta/{meta.name}")
    assert findings() == {malformed, ("hash-mismatch", "lib/libfakeblas.so.3")}
    (cache_dir / "info/paths.json").chmod(0o666)  # anyone may write it: not trusted
    assert findings() == {malformed}


def test_json_lines_and_a_prefix_that_cannot_be_verified(channel: Channel, tmp_path: Path) -> None:
    """Issue 19 §11 (one parseable JSON line per verification under conda's --json) and the
    plugin's side of §2 (fail mode never passes a prefix whose interpreter cannot describe
    itself)."""
    import io

    prefix = _env(channel, tmp_path, "python=3.11", "pyfoo")
    _pip_dist(prefix, channel)
    _replace(prefix / SITE / "pyfoo/__init__.py", b"X = 2\n")
    pkgs = tmp_path / "pkgs"
    linked = [ref_from_meta(prefix, "pyfoo")]

    def run(check: TransactionCheck) -> list[dict[str, Any]]:
        check.stream, check.json_lines, check.pkgs_dirs = io.StringIO(), True, [str(pkgs)]
        try:
            check.verify()
            check.execute()
        finally:
            assert isinstance(check.stream, io.StringIO)
            lines = check.stream.getvalue().splitlines()
        return [json.loads(line)["verify_env"] for line in lines if line.startswith("{")]

    (after,) = run(TransactionCheck(None, str(prefix), [], linked, mode=Mode.WARN))
    assert (after["stage"], after["exit_status"], after["rolled_back"]) == ("after-link", 1, False)
    (f,) = after["report"]["findings"]
    assert (f["code"], f["distribution"]) == ("hash-mismatch", "pyfoo")
    before, after = run(
        TransactionCheck(None, str(prefix), [], [extract(channel, pkgs, "clobberer", "1.0")])
    )
    assert before["stage"] == "before-link" and not before["refused"]
    assert {(f["code"], f["path"]) for f in before["findings"]} == {
        ("file-conflict", f"{SITE}/pyfoo/__init__.py"),
        ("file-conflict", f"{SITE}/pipext/__init__.py"),
    }
    python = prefix / "bin/python3.11"
    python.unlink()
    python.write_text("#!/bin/sh\necho 'SyntaxError: damaged stdlib' >&2\nexit 1\n")
    python.chmod(0o755)
    # the interpreter that cannot start is itself a finding, and the file checks still run
    with pytest.raises(TransactionRefused) as refused:
        run(TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL))
    assert "after linking, so conda rolls the transaction back" in str(refused.value)
    warn = TransactionCheck(None, str(prefix), [], linked, mode=Mode.WARN)
    (line,) = run(warn)
    assert line["exit_status"] == 1, line
    found = {f["code"]: f for f in line["report"]["findings"]}
    assert "SyntaxError: damaged stdlib" in found["interpreter-fails"]["message"]
    assert found["hash-mismatch"]["distribution"] == "pyfoo"


def test_target_from_conda_records_when_no_compiled_file_changes(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19 §10: a transaction that changes no compiled file and not python starts no
    interpreter; the target conda's records describe is the one the probe describes."""
    from verify_env_conda.static_target import target_from_records

    prefix = _env(channel, tmp_path, "python=3.11", "pyfoo", "libfakeblas=1.0")
    described, probed = target_from_records(str(prefix)), resolve_target(prefix=str(prefix))
    assert described is not None
    for field in ("version", "implementation", "tags", "extension_suffixes", "markers"):
        assert getattr(described, field) == getattr(probed, field), field
    assert (described.site_dirs, described.libc) == (probed.site_dirs, probed.libc)
    python = prefix / "bin/python3.11"  # from now on, starting it fails
    python.unlink()
    python.write_text("#!/bin/sh\necho 'interpreter started' >&2\nexit 1\n")
    python.chmod(0o755)
    pkgs = tmp_path / "pkgs"
    reinstall = [ref_from_meta(prefix, "pyfoo")], [extract(channel, pkgs, "pyfoo", "1.0")]
    pure = TransactionCheck(None, str(prefix), *reinstall, mode=Mode.FAIL)
    pure.pkgs_dirs = [str(pkgs)]
    assert pure.verify() is None
    pure.execute()
    assert capsys.readouterr().out == "verify-env: 1 changed + 0 affected packages verified: OK\n"
    update = [ref_from_meta(prefix, "libfakeblas")], [extract(channel, pkgs, "libfakeblas", "2.0")]
    compiled = TransactionCheck(None, str(prefix), *update, mode=Mode.FAIL)
    compiled.pkgs_dirs = [str(pkgs)]
    assert compiled.verify() is None
    with pytest.raises(TransactionRefused, match="interpreter started"):
        compiled.execute()


def test_action_after_linking_warn_and_fail(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _env(channel, tmp_path)
    linked = [ref_from_meta(prefix, n) for n in ("python", "libfakeblas", "fakeblas-ext")]
    TransactionCheck(None, str(prefix), [], linked, mode=Mode.WARN).execute()
    assert capsys.readouterr().out == "verify-env: 3 changed + 0 affected packages verified: OK\n"
    check = TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL)
    check.execute()  # clean: nothing raised
    assert check.seconds < 5
    lib = prefix / "lib/libfakeblas.so.3"
    cached = extract(channel, tmp_path / "pkgs", "libfakeblas", "1.0")
    _link_from_cache(
        prefix, "libfakeblas", "lib/libfakeblas.so.3", tmp_path / "pkgs" / cached.dist_name
    )
    lib.write_bytes(_flip(channel.library))  # in place: the cache's link sees it too
    with pytest.raises(TransactionRefused) as refused:
        TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL).execute()
    text = str(refused.value)
    assert "conda rolls the transaction back" in text and "verify_env_mode warn" in text
    assert "CONDA_PLUGINS_VERIFY_ENV_MODE=warn" in text and "--no-plugins" not in text
    assert "libfakeblas 1.0: [record/hash-mismatch]" in text
    assert "lib/libfakeblas.so.3 has 1 other hard link(s)" in text
    # issue 19 §7: the fix line alone would relink the damaged cache bytes
    assert "libfakeblas are hard links into conda's package cache" in text
    assert "`conda doctor verify-env --fix` drops the damaged cache copy first" in text
    TransactionCheck(None, str(prefix), [], linked, mode=Mode.WARN).execute()
    out = capsys.readouterr().out
    assert "1 error(s), 0 warning(s)" in out
    assert "fix: conda install --force-reinstall libfakeblas=1.0" in out
    TransactionCheck(None, str(prefix), [], linked, mode=Mode.OFF).execute()
    assert capsys.readouterr().out == ""


def test_replaced_library_puts_its_consumers_in_scope(channel: Channel, tmp_path: Path) -> None:
    prefix = _env(channel, tmp_path)
    old = ref_from_meta(prefix, "libfakeblas")
    create_prefix(prefix, channel.url, ["fakeblas-ext", "libfakeblas=2.0"], python_site=SITE)
    new = ref_from_meta(prefix, "libfakeblas")
    assert (old.version, new.version) == ("1.0", "2.0")
    inventory = build_inventory(resolve_target(prefix=str(prefix)))
    scope = scope_of(change_of([new], [old]), inventory)
    assert scope.keys == frozenset({"libfakeblas", "fakeblas-ext"})
    assert "consumers of the changed libraries: fakeblas-ext" in scope.reason
    outcome = verify_transaction(Session(transaction=True), str(prefix), [new], [old])
    assert (outcome.changed, outcome.affected, outcome.report.errors) == (1, 1, 0)


def _pip_dist(prefix: Path, channel: Channel) -> None:
    """A distribution pip installed (RECORD, INSTALLER pip) with a cpython-311 extension."""
    import base64
    import hashlib

    site = prefix / SITE
    files = {
        "pipext/__init__.py": b"from . import _c\n",
        "pipext/_c.cpython-311-x86_64-linux-gnu.so": channel.extension,
        "pipext-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: pipext\nVersion: 0.1\n",
        "pipext-0.1.dist-info/INSTALLER": b"pip\n",
        "pipext-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
        b"Tag: cp311-cp311-linux_x86_64\n",
    }
    lines = []
    for rel, data in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_bytes(data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        lines.append(f"{rel},sha256={digest},{len(data)}")
    lines.append("pipext-0.1.dist-info/RECORD,,")
    (site / "pipext-0.1.dist-info/RECORD").write_text("\n".join(lines) + "\n")


def test_python_version_change_reports_dead_pip_extensions(
    channel: Channel, tmp_path: Path
) -> None:
    prefix = _env(channel, tmp_path, "python=3.11", "pyfoo")
    _pip_dist(prefix, channel)
    before = verify_transaction(
        Session(transaction=True), str(prefix), [ref_from_meta(prefix, "pyfoo")], []
    )
    assert before.report.errors == 0, before.report.findings
    old = [ref_from_meta(prefix, n) for n in ("python", "pyfoo")]
    create_prefix(
        prefix, channel.url, ["python=3.12", "pyfoo"], python_site="lib/python3.12/site-packages"
    )
    new = [ref_from_meta(prefix, n) for n in ("python", "pyfoo")]
    assert new[0].version == "3.12.1"
    outcome = verify_transaction(Session(transaction=True), str(prefix), new, old)
    dead = [f for f in outcome.report.findings if f.distribution == "pipext"]
    assert {f.code for f in dead} >= {"extension-suffix"}, outcome.report.findings
    assert any(f.path and f.path.endswith("_c.cpython-311-x86_64-linux-gnu.so") for f in dead)
    (note,) = [n for n in outcome.notes if "pipext 0.1" in n]
    assert str(prefix / SITE) in note and "reinstall them with pip" in note


def test_post_command_fallback(channel: Channel, tmp_path: Path) -> None:
    prefix = _env(channel, tmp_path)
    watch = CommandWatch()
    watch.before(str(prefix))
    assert (
        watch.after(Session(transaction=True), str(prefix)) is None
    )  # "All requested packages already installed"
    watch.before(str(prefix))
    create_prefix(prefix, channel.url, ["fakeblas-ext", "libfakeblas=2.0"], python_site=SITE)
    outcome = watch.after(Session(transaction=True), str(prefix))
    assert outcome is not None and outcome.report.errors == 0
    assert outcome.changed == 1 and outcome.affected >= 1
    assert CORE  # the consumer is what widened the scope


def test_conda_verify_verbose_and_an_unknown_name(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-v`` is stored apart from conda's own ``verbose``/``verbosity`` keys (conda refused the
    two at once), and an environment name conda does not know is a usage error: exit 2."""
    prefix = _env(channel, tmp_path)
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    args = parser.parse_args(["-p", str(prefix), "-v"])
    assert args.verify_env_verbose and not hasattr(args, "verbose")

    def unknown(name: str) -> str:
        raise LookupError(f"Could not find conda environment: {name}")

    status = verify_cmd.execute(
        parser.parse_args(["-n", "nope"]), locate_name=unknown, default_prefix=lambda: "/"
    )
    assert status == 2
    assert "conda verify: Could not find conda environment: nope" in capsys.readouterr().err


def test_rollback_message_says_what_conda_does(channel: Channel, tmp_path: Path) -> None:
    prefix = _env(channel, tmp_path)
    (prefix / "lib/libfakeblas.so.3").unlink()
    linked = [ref_from_meta(prefix, "libfakeblas")]
    check = TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL)
    check.rollback_enabled = False
    with pytest.raises(TransactionRefused) as refused:
        check.execute()
    assert "rollback_enabled is false, so what was linked stays linked" in str(refused.value)
    assert "rolls the transaction back" not in str(refused.value)
