"""The plugin inside a real conda: ``conda create``/``install`` firing the post-transaction
action, a damaged package cache refused before linking, a rollback in ``fail`` mode,
``conda verify`` vs ``conda doctor`` on one damaged prefix, and ``conda doctor --fix``.

conda is not installable from PyPI, so these tests need a Python that can ``import conda`` and
verify_env_conda: ``VERIFY_ENV_TEST_CONDA=/path/to/python``, or the interpreter running pytest.
Without one they skip, saying so. Each run gets its own HOME, package cache and ``.condarc``
(classic solver, offline, the local channel only).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.conda_plugin import SITE, Channel, make_channel
from tests.support.envs import pyenv_python
from tests.support.linkwheels import python_include


def _conda_python() -> str | None:
    explicit = os.environ.get("VERIFY_ENV_TEST_CONDA")
    candidates = [explicit] if explicit else [sys.executable]
    for python in candidates:
        probe = subprocess.run(
            [python, "-c", "import conda, verify_env_conda"], capture_output=True, check=False
        )
        if probe.returncode == 0:
            return python
    return None


CONDA = _conda_python()
pytestmark = pytest.mark.skipif(
    CONDA is None,
    reason="needs a real conda: `import conda` fails here (conda is not on PyPI); "
    "set VERIFY_ENV_TEST_CONDA=/path/to/python of a conda install",
)


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Channel:
    return make_channel(
        tmp_path_factory.mktemp("realconda"), py311, pyenv_python(12), python_include(py311)
    )


class Conda:
    """``python -m conda`` with a private HOME, package cache and .condarc."""

    def __init__(self, root: Path, channel: Channel) -> None:
        self.root = root
        self.pkgs = root / "pkgs"
        home = root / "home"
        home.mkdir(parents=True)
        (home / ".condarc").write_text(
            f"solver: classic\noffline: true\nchannels:\n  - {channel.url}\n"
            f"pkgs_dirs:\n  - {self.pkgs}\nenvs_dirs:\n  - {root / 'envs'}\n"
            "notify_outdated_conda: false\nadd_pip_as_python_dependency: false\n"
        )
        self.env = {
            **os.environ,
            "HOME": str(home),
            "NO_COLOR": "1",
            "VERIFY_ENV_CACHE_DIR": str(root / "statcache"),
        }
        for var in ("CONDA_PREFIX", "CONDA_DEFAULT_ENV", "CONDARC", "VIRTUAL_ENV"):
            self.env.pop(var, None)

    def __call__(self, *args: str, mode: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env)
        if mode:
            env["CONDA_PLUGINS_VERIFY_ENV_MODE"] = mode
        assert CONDA is not None
        return subprocess.run(
            [CONDA, "-m", "conda", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.root,
            timeout=300,
            check=False,
        )


def _flip(path: Path) -> None:
    """Change one byte in place (through every hard link), keeping the size."""
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    with open(path, "r+b") as fh:
        fh.write(bytes(data))


@pytest.fixture
def conda(tmp_path: Path, channel: Channel) -> Conda:
    return Conda(tmp_path, channel)


def test_plugin_is_loaded(conda: Conda) -> None:
    run = conda("verify", "--help")
    assert run.returncode == 0 and "--checks" in run.stdout, run.stderr
    assert "verify_env_conda" not in run.stderr  # no "failed to load plugin" warning
    listed = conda("doctor", "--list")
    assert "verify-env:" in listed.stdout and "fix: Reinstall conda packages" in listed.stdout


def test_create_and_install_are_verified(conda: Conda, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    run = conda("create", "-y", "-p", str(prefix), "fakeblas-ext", "libfakeblas=1.0")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "verify-env: 3 changed + 0 affected packages verified: OK" in run.stdout
    run = conda("install", "-y", "-p", str(prefix), "libfakeblas=2.0")
    assert run.returncode == 0, run.stdout + run.stderr
    # libfakeblas replaced: its consumer (fakeblas-ext) is verified too
    assert "verify-env: 1 changed + 1 affected packages verified: OK" in run.stdout
    run = conda("install", "-y", "-p", str(prefix), "--json", "pyfoo")
    assert run.returncode == 0 and json.loads(run.stdout)["success"] is True
    assert "verify-env:" in run.stderr  # never inside conda's JSON


def test_damaged_package_cache_is_refused_before_linking(conda: Conda, tmp_path: Path) -> None:
    first = conda("create", "-y", "-p", str(tmp_path / "a"), "libfakeblas=2.0")
    assert first.returncode == 0, first.stderr
    cached = next(conda.pkgs.glob("libfakeblas-2.0-*/lib/libfakeblas.so.3"))
    data = cached.read_bytes()
    cached.unlink()  # a new inode: env "a" keeps the good bytes
    cached.write_bytes(data[:-2] + bytes([data[-2] ^ 1]) + data[-1:])
    run = conda("create", "-y", "-p", str(tmp_path / "b"), "libfakeblas=2.0", mode="fail")
    assert run.returncode == 1
    assert "Verifying transaction: ...working... failed" in run.stdout + run.stderr
    assert "differs from paths.json's" in run.stderr and "rm -rf" in run.stderr
    assert not (tmp_path / "b" / "lib" / "libfakeblas.so.3").exists()


def _pip_dependent(prefix: Path) -> Path:
    """A pip-installed distribution that requires pyfoo, with a damaged file."""
    site = prefix / SITE
    (site / "needsfoo").mkdir(parents=True)
    (site / "needsfoo/__init__.py").write_text("import pyfoo\n")
    info = site / "needsfoo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: needsfoo\nVersion: 1.0\nRequires-Dist: pyfoo\n"
    )
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(
        "needsfoo/__init__.py,sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,13\n"
        "needsfoo-1.0.dist-info/METADATA,,\nneedsfoo-1.0.dist-info/INSTALLER,,\n"
        "needsfoo-1.0.dist-info/RECORD,,\n"
    )
    return site


def test_fail_mode_rolls_the_transaction_back(conda: Conda, tmp_path: Path) -> None:
    prefix = tmp_path / "env"
    assert conda("create", "-y", "-p", str(prefix), "python=3.11").returncode == 0
    _pip_dependent(prefix)
    history = (prefix / "conda-meta" / "history").read_bytes()
    run = conda("install", "-y", "-p", str(prefix), "pyfoo", mode="fail")
    assert run.returncode == 1, run.stdout
    text = run.stdout + run.stderr
    assert "conda rolls the transaction back" in text
    assert "needsfoo 1.0: [record/hash-mismatch]" in text
    assert "CONDA_PLUGINS_VERIFY_ENV_MODE=warn" in text and "verify_env_mode warn" in text
    assert not list((prefix / "conda-meta").glob("pyfoo-*.json"))
    assert not (prefix / SITE / "pyfoo/__init__.py").exists()  # conda leaves the empty dir
    assert (prefix / "conda-meta" / "history").read_bytes() == history
    warned = conda("install", "-y", "-p", str(prefix), "pyfoo")  # warn: it stands
    assert warned.returncode == 0 and "needsfoo 1.0: [record/hash-mismatch]" in warned.stdout
    assert list((prefix / "conda-meta").glob("pyfoo-*.json"))


def test_verify_finds_what_doctor_misses_and_doctor_fix_repairs(
    conda: Conda, tmp_path: Path
) -> None:
    prefix = tmp_path / "env"
    run = conda("create", "-y", "-p", str(prefix), "pyfoo", "libfakeblas=1.0", "python=3.11")
    assert run.returncode == 0, run.stderr
    _flip(prefix / SITE / "pyfoo/__init__.py")  # noarch python: conda doctor skips it
    _flip(prefix / "lib/libfakeblas.so.3")  # in place: the package cache copy too
    verify = conda("verify", "-p", str(prefix), "--format", "json")
    assert verify.returncode == 1, verify.stderr
    found = {(f["distribution"], f["code"]) for f in json.loads(verify.stdout)["findings"]}
    assert found == {("pyfoo", "hash-mismatch"), ("libfakeblas", "hash-mismatch")}
    # §7: the fix line alone would relink the cache's damaged bytes; the note says so
    assert "damaged files of libfakeblas, pyfoo are hard links into conda's" in verify.stderr
    doctor = conda("doctor", "-p", str(prefix))
    assert doctor.returncode == 0  # conda doctor exits 0 whatever it finds
    assert (
        "libfakeblas-1.0-0: 1" in doctor.stdout
        and "pyfoo" not in doctor.stdout.split("verify-env")[0]
    )
    assert "verify-env: 2 error(s)" in doctor.stdout
    fixed = conda("doctor", "verify-env", "--fix", "--yes", "-p", str(prefix))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "removed the damaged cache copy" in fixed.stdout
    again = conda("verify", "-p", str(prefix))
    assert again.returncode == 0, again.stdout


def test_conda_start_up_imports_no_core_and_reads_the_setting(conda: Conda) -> None:
    code = (
        "import sys\n"
        "from conda.base.context import context\n"
        "pm = context.plugin_manager\n"
        "assert 'verify' in pm.get_subcommands(), pm.get_subcommands()\n"
        "assert 'verify_env_mode' in pm.get_settings()\n"
        "assert 'verify-env' in pm.get_health_checks()\n"
        "from verify_env_conda.hooks import current_mode\n"
        "print(current_mode())\n"
        "print(sorted(m for m in sys.modules if m.startswith('verify_env.')))\n"
    )
    assert CONDA is not None
    run = subprocess.run(
        [CONDA, "-c", code],
        capture_output=True,
        text=True,
        env={**conda.env, "CONDA_PLUGINS_VERIFY_ENV_MODE": "fail"},
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["fail", "[]"]
    bad = conda("verify", "--help", mode="fial")
    assert bad.returncode == 0  # a bad value is reported when a transaction reads it


def test_python_upgrade_reports_dead_pip_extensions(
    conda: Conda, channel: Channel, tmp_path: Path
) -> None:
    prefix = tmp_path / "env"
    assert conda("create", "-y", "-p", str(prefix), "python=3.11", "pyfoo").returncode == 0
    site = prefix / SITE
    (site / "pipext").mkdir()
    (site / "pipext/_c.cpython-311-x86_64-linux-gnu.so").write_bytes(channel.extension)
    info = site / "pipext-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pipext\nVersion: 0.1\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(
        "pipext/_c.cpython-311-x86_64-linux-gnu.so,,\npipext-0.1.dist-info/RECORD,,\n"
    )
    run = conda("install", "-y", "-p", str(prefix), "python=3.12")
    assert run.returncode == 0, run.stdout + run.stderr
    assert (prefix / "lib/python3.12/site-packages/pyfoo/__init__.py").exists()  # relinked
    assert "pipext 0.1: [tags/extension-suffix]" in run.stdout, run.stdout
    assert f"stay in {site}, which the new python does not read: pipext 0.1" in run.stdout


def test_condarc_ignore_and_baseline_are_read_by_real_conda(conda: Conda, tmp_path: Path) -> None:
    """The plugin's own settings, through conda's configuration machinery: an ignore rule in
    .condarc accepts one finding (info, exit 0); --write-baseline then --baseline accept the
    rest (an admin's edit of a config file: a damaged library never goes into a baseline), and
    a further change to a baselined file is new again."""
    prefix = tmp_path / "env"
    run = conda("create", "-y", "-p", str(prefix), "pyfoo", "libfakeblas=1.0", "python=3.11")
    assert run.returncode == 0, run.stderr
    _flip(prefix / SITE / "pyfoo/__init__.py")
    _flip(prefix / "etc/fakeblas.conf")
    condarc = Path(conda.env["HOME"]) / ".condarc"
    condarc.write_text(
        condarc.read_text() + "plugins:\n  verify_env_ignore:\n    - record:hash-mismatch:pyfoo\n"
    )
    first = conda("verify", "-p", str(prefix), "--format", "json")
    assert first.returncode == 1, first.stderr  # libfakeblas is still an error
    found = {
        (f["distribution"], f["severity"], bool(f["accepted"]))
        for f in json.loads(first.stdout)["findings"]
    }
    assert found == {("pyfoo", "info", True), ("libfakeblas", "error", False)}
    baseline = tmp_path / "baseline.json"
    wrote = conda("verify", "-p", str(prefix), "--write-baseline", str(baseline))
    assert wrote.returncode == 0, wrote.stdout + wrote.stderr
    accepted = conda("verify", "-p", str(prefix), "--baseline", str(baseline))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    conf = prefix / "etc/fakeblas.conf"  # changed again: no longer what was accepted
    data = bytearray(conf.read_bytes())
    data[-3] ^= 0x01  # another byte: flipping the same one would undo the first change
    with open(conf, "r+b") as fh:
        fh.write(bytes(data))
    again = conda("verify", "-p", str(prefix), "--baseline", str(baseline), "--format", "json")
    assert again.returncode == 1, again.stderr
    assert [
        f["distribution"] for f in json.loads(again.stdout)["findings"] if f["severity"] == "error"
    ] == ["libfakeblas"]


def _json_lines(stderr: str) -> list[dict[str, object]]:
    """The plugin's JSON lines on stderr under --json (docs/conda.md)."""
    out = []
    for line in stderr.splitlines():
        if line.startswith('{"verify_env":'):
            body = json.loads(line)["verify_env"]
            assert isinstance(body, dict)
            out.append(body)
    return out


def test_clobbering_is_refused_before_linking(conda: Conda, tmp_path: Path) -> None:
    """Issue 19 §3/§4/§11: a package bringing files a conda package and a pip distribution
    own is refused in Verifying transaction (fail), linked with the findings in warn mode,
    and under --json the findings are parseable lines on stderr beside conda's JSON."""
    prefix = tmp_path / "env"
    run = conda("create", "-y", "-p", str(prefix), "python=3.11", "pyfoo")
    assert run.returncode == 0, run.stdout + run.stderr
    site = _pip_dependent(prefix)
    pip_code = (site / "needsfoo/__init__.py").read_bytes()
    refused = conda("install", "-y", "-p", str(prefix), "clobberer", mode="fail")
    assert refused.returncode == 1, refused.stdout
    text = refused.stdout + refused.stderr
    assert "Verifying transaction: ...working... failed" in text
    assert "2 path(s) the transaction would link belong to another installed package" in text
    assert f"{SITE}/pyfoo/__init__.py, which conda package pyfoo-1.0-0 owns" in text
    assert f"{SITE}/needsfoo/__init__.py, which pip distribution needsfoo 1.0 owns" in text
    assert (site / "needsfoo/__init__.py").read_bytes() == pip_code  # nothing was linked
    assert not list((prefix / "conda-meta").glob("clobberer-*.json"))
    warned = conda("install", "-y", "-p", str(prefix), "--json", "clobberer")
    assert warned.returncode == 0, warned.stderr
    assert json.loads(warned.stdout)["success"] is True  # stdout: conda's one document
    before, after = _json_lines(warned.stderr)
    assert before["stage"] == "before-link" and before["refused"] is False
    findings = before["findings"]
    assert isinstance(findings, list) and {f["code"] for f in findings} == {"file-conflict"}
    assert after["stage"] == "after-link" and after["exit_status"] == 1
    report = after["report"]
    assert isinstance(report, dict)
    assert {(f["distribution"], f["code"]) for f in report["findings"]} >= {
        ("pyfoo", "size-mismatch")
    }


def test_record_without_paths_data_after_a_damaged_cache(conda: Conda, tmp_path: Path) -> None:
    """Issue 19 §12: conda's size check fails on a damaged cache copy; with its default
    safety_checks it links the file anyway and leaves it out of paths_data."""
    first = conda("create", "-y", "-p", str(tmp_path / "a"), "libfakeblas=2.0")
    assert first.returncode == 0, first.stderr
    cached = next(conda.pkgs.glob("libfakeblas-2.0-*/lib/libfakeblas.so.3"))
    data = cached.read_bytes()
    cached.unlink()  # a new inode: env "a" keeps the good bytes
    cached.write_bytes(data + b"\0")
    prefix = tmp_path / "b"
    run = conda("create", "-y", "-p", str(prefix), "libfakeblas=2.0")  # warn: linked anyway
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 file(s) in the package cache differ" in run.stdout
    (meta,) = (prefix / "conda-meta").glob("libfakeblas-*.json")
    record = json.loads(meta.read_text())
    assert "lib/libfakeblas.so.3" in record["files"]
    assert "lib/libfakeblas.so.3" not in [p["_path"] for p in record["paths_data"]["paths"]]
    verify = conda("verify", "-p", str(prefix), "--format", "json")
    assert verify.returncode == 1, verify.stderr
    found = {(f["code"], f["path"]) for f in json.loads(verify.stdout)["findings"]}
    assert ("record-malformed", f"conda-meta/{meta.name}") in found
    assert ("size-mismatch", "lib/libfakeblas.so.3") in found  # judged by the cache's paths.json


def test_fail_mode_does_not_pass_a_prefix_it_cannot_verify(conda: Conda, tmp_path: Path) -> None:
    """Issue 19 §2, the plugin's side: the environment's Python no longer starts; a fail-mode
    transaction is not passed unverified (it used to print "could not verify" and exit 0)."""
    prefix = tmp_path / "env"
    run = conda("create", "-y", "-p", str(prefix), "python=3.11", "libfakeblas=1.0")
    assert run.returncode == 0, run.stdout + run.stderr
    python = prefix / "bin/python3.11"
    python.unlink()
    python.write_text("#!/bin/sh\necho 'SyntaxError: damaged stdlib' >&2\nexit 1\n")
    python.chmod(0o755)
    failed = conda("install", "-y", "-p", str(prefix), "libfakeblas=2.0", mode="fail")
    assert failed.returncode == 1, failed.stdout
    text = failed.stdout + failed.stderr
    # the interpreter that cannot start is the finding; the file checks ran too
    assert "[paths/interpreter-fails]" in text and "so conda rolls the transaction back" in text
    assert "SyntaxError: damaged stdlib" in text
    assert list((prefix / "conda-meta").glob("libfakeblas-1.0-*.json"))  # rolled back
