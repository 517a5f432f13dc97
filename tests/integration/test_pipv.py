"""pipv with real pip in real venvs: pass-through, scoped verification after a transaction,
killed installs, pip over conda, repair."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.conda_env import PackageFile, PackageSpec, build_channel, create_prefix
from tests.support.envs import clone_env, make_venv, run_cli, site_packages
from tests.support.wheels import make_wheel, tampered_wheel

PIPV = str(Path(sys.executable).parent / "pipv")


def pipv(
    *args: str,
    cache_dir: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX", "PIPV_ON_ERROR", "PIPV_PYTHON")
    }
    full.update(
        {
            "VERIFY_ENV_CACHE_DIR": str(cache_dir),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            **(env or {}),
        }
    )
    proc = subprocess.run(
        [PIPV, *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def pip(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin/python"), "-m", "pip", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )


def test_pass_through_commands_are_pips_own(
    bare_venv: Path, cache_dir: Path, tmp_path: Path
) -> None:
    py = str(bare_venv / "bin/python")
    for args in (("list",), ("show", "pip")):
        ours = pipv("--python", py, *args, cache_dir=cache_dir, cwd=tmp_path)
        theirs = pip(bare_venv, *args)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
    # --version names pipv first, then says pip's own line (test_cli_conventions)
    ours = pipv("--python", py, "--version", cache_dir=cache_dir, cwd=tmp_path)
    theirs = pip(bare_venv, "--version")
    assert ours.stdout.splitlines()[1:] == theirs.stdout.splitlines()
    missing = pipv(
        "--python",
        py,
        "install",
        "--no-index",
        "nonexistent-package-xyz",
        cache_dir=cache_dir,
        cwd=tmp_path,
    )
    theirs = pip(bare_venv, "install", "--no-index", "nonexistent-package-xyz")
    assert missing.returncode == theirs.returncode == 1
    assert "No matching distribution found for nonexistent-package-xyz" in missing.stderr
    assert "nothing changed, nothing to verify" in missing.stderr


def test_install_of_a_wheel_altered_after_building(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """pip installs a wheel whose payload no longer matches its RECORD without a word."""
    env = clone_env(bare_venv, tmp_path / "env")
    bad = tampered_wheel(tmp_path)
    run = pipv(
        "--python",
        str(env / "bin/python"),
        "install",
        "--no-index",
        str(bad),
        cache_dir=cache_dir,
        cwd=tmp_path,
    )
    assert run.returncode == 1, run.stderr
    assert "Successfully installed tampered-1.0" in run.stdout
    assert "[record/hash-mismatch] tampered/__init__.py" in run.stderr
    assert "pipv: verified 1 changed + 0 affected distributions: 1 error" in run.stderr


@pytest.fixture(scope="session")
def numpy1_scipy_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    return make_venv(
        tmp_path_factory.mktemp("np1") / "venv", py311, ["numpy==1.26.4", "scipy==1.11.1"]
    )


def test_upgrading_numpy_breaks_the_untouched_scipy(
    numpy1_scipy_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(numpy1_scipy_venv, tmp_path / "env")
    py = str(env / "bin/python")
    run = pipv("--python", py, "install", "-q", "numpy==2.2.6", cache_dir=cache_dir, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "scipy 1.11.1 (pip)" in run.stderr
    assert "[requirements/numpy-abi]" in run.stderr
    assert "[requirements/requirement-conflict]" in run.stderr
    assert "verified 1 changed + 1 affected distributions: 2 errors" in run.stderr
    # the same, reported but not failing, when the user asks for warnings only
    again = pipv(
        "--python",
        py,
        "install",
        "-q",
        "--force-reinstall",
        "--no-deps",
        "numpy==2.2.6",
        cache_dir=cache_dir,
        cwd=tmp_path,
        env={"PIPV_ON_ERROR": "warn"},
    )
    assert again.returncode == 0 and "[requirements/numpy-abi]" in again.stderr
    # and uninstalling numpy leaves scipy without it
    gone = pipv("--python", py, "uninstall", "-y", "numpy", cache_dir=cache_dir, cwd=tmp_path)
    assert gone.returncode == 1, gone.stderr
    assert "[requirements/requirement-missing] scipy 1.11.1 requires numpy" in gone.stderr
    assert "Successfully uninstalled numpy-2.2.6" in gone.stdout


def test_no_verify_and_tool_pipv_settings(
    numpy1_scipy_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(numpy1_scipy_venv, tmp_path / "env")
    py = str(env / "bin/python")
    skipped = pipv(
        "--python", py, "uninstall", "-y", "--no-verify", "scipy", cache_dir=cache_dir, cwd=tmp_path
    )
    assert skipped.returncode == 0 and "verified" not in skipped.stderr
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.pipv]\non-error = "warn"\n')
    warned = pipv(
        "--python",
        py,
        "install",
        "-q",
        "numpy==2.2.6",
        "scipy==1.11.1",
        "--no-deps",
        cache_dir=cache_dir,
        cwd=project,
    )
    assert warned.returncode == 0 and "[requirements/numpy-abi]" in warned.stderr
    (project / "pyproject.toml").write_text('[tool.pipv]\non-error = "sometimes"\n')
    bad = pipv("--python", py, "uninstall", "-y", "scipy", cache_dir=cache_dir, cwd=project)
    assert bad.returncode == 2, bad.stderr
    assert "pyproject.toml:2: on-error: 'sometimes' is not one of fail, warn" in bad.stderr
    assert "Successfully uninstalled" not in bad.stdout  # refused before pip ran


@pytest.mark.slow
def test_a_killed_install_is_found_by_the_next_run(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """SIGKILL to pip while it unpacks torch: the dist-info is written last, so only files
    without metadata remain; the next pass-through command stays pip's and names the
    interrupted install on stderr; `pipv verify` says what is there."""
    env = clone_env(bare_venv, tmp_path / "env")
    py = str(env / "bin/python")
    full_env = {
        **os.environ,
        "VERIFY_ENV_CACHE_DIR": str(cache_dir),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    proc = subprocess.Popen(
        [PIPV, "--python", py, "install", "-q", "--no-deps", "torch==2.13.0"],
        env=full_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    torch_c = site_packages(env) / "torch"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list(torch_c.glob("_C.cpython-*.so")):
        time.sleep(0.05)
    assert list(torch_c.glob("_C.cpython-*.so")), "pip never started unpacking torch"
    for pid in _children(proc.pid):
        os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert "the transaction was cut short (it was installing torch 2.13.0+cpu)" in err
    assert not list(site_packages(env).glob("torch-*.dist-info/RECORD"))
    later = pipv("--python", py, "list", cache_dir=cache_dir, cwd=tmp_path)
    assert later.returncode == 0, later.stderr  # pip's, as its stdout
    assert later.stdout == pip(env, "list").stdout
    assert "was interrupted before it finished (it was installing torch 2.13.0+cpu)" in later.stderr
    verify = pipv(
        "--python",
        py,
        "verify",
        "--checks",
        "record",
        "--format",
        "json",
        cache_dir=cache_dir,
        cwd=tmp_path,
    )
    assert verify.returncode == 1 and '"unrecorded-extension"' in verify.stdout


def _children(pid: int) -> list[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return [int(p) for p in out.split()]


@pytest.fixture
def conda_venv(tmp_path: Path, py311: str) -> Path:
    """A conda-format prefix (conda-meta by py-rattler) that is also a real 3.11 env, with
    ``six`` 1.16.0 installed by conda."""
    site = "lib/python3.11/site-packages"
    six_py = b"# six, as conda shipped it\n__version__ = '1.16.0'\n"
    meta = b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n\n"
    record = (
        b"six.py,,\nsix-1.16.0.dist-info/METADATA,,\nsix-1.16.0.dist-info/INSTALLER,,\n"
        b"six-1.16.0.dist-info/RECORD,,\n"
    )
    channel = build_channel(
        tmp_path / "channel",
        [
            PackageSpec("python", "3.11.7", files=(PackageFile(f"{site}/.marker", b"m\n"),)),
            PackageSpec(
                "six",
                "1.16.0",
                depends=("python",),
                files=(
                    PackageFile(f"{site}/six.py", six_py),
                    PackageFile(f"{site}/six-1.16.0.dist-info/METADATA", meta),
                    PackageFile(f"{site}/six-1.16.0.dist-info/INSTALLER", b"conda\n"),
                    PackageFile(f"{site}/six-1.16.0.dist-info/RECORD", record),
                ),
            ),
        ],
    )
    prefix = tmp_path / "prefix"
    create_prefix(prefix, channel, ["six"], python_site=site)
    subprocess.run([py311, "-m", "venv", str(prefix)], check=True)
    return prefix


def test_pip_over_conda_is_refused_then_reported(
    conda_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "-d",
            str(wheels),
            "six==1.17.0",
        ],
        check=True,
    )
    py = str(conda_venv / "bin/python")
    pip_with = ("--python", py, "install", "--no-index", "--find-links", str(wheels), "six==1.17.0")
    refused = pipv(*pip_with, cache_dir=cache_dir, cwd=tmp_path)
    assert refused.returncode == 1, refused.stderr
    assert "pip would replace six 1.16.0, which conda installed (package six)" in refused.stderr
    assert 'conda install "six=1.17.0"' in refused.stderr
    assert (site_packages(conda_venv) / "six.py").read_bytes().startswith(b"# six, as conda")
    allowed = pipv(*pip_with, "--allow-conda-overwrite", cache_dir=cache_dir, cwd=tmp_path)
    assert allowed.returncode == 1, allowed.stderr
    assert (
        "[record/clobbered-file] lib/python3.11/site-packages/six.py of conda package six "
        "1.16.0 was rewritten by pip's six 1.17.0" in allowed.stderr
    )


def test_repair_reinstalls_what_pip_installed(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    from tests.support.envs import break_link

    target = next((site_packages(numpy_env) / "numpy" / "_core").glob("_multiarray_umath*.so"))
    break_link(target)
    with open(target, "r+b") as fh:
        fh.seek(4096)
        byte = fh.read(1)
        fh.seek(4096)
        fh.write(bytes([byte[0] ^ 0xFF]))
    py = str(numpy_env / "bin/python")
    broken = pipv("--python", py, "verify", "--checks", "record", cache_dir=cache_dir, cwd=tmp_path)
    assert broken.returncode == 1
    planned = pipv("--python", py, "repair", "--dry-run", cache_dir=cache_dir, cwd=tmp_path)
    assert planned.returncode == 1, planned.stderr  # nothing changed: still damaged
    assert "-m pip install --force-reinstall --no-deps numpy==2.2.6" in planned.stderr
    assert "dry run: nothing was changed" in planned.stderr
    fixed = pipv("--python", py, "repair", cache_dir=cache_dir, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert f"run: {py} -P -m pip install --force-reinstall --no-deps numpy==2.2.6" in fixed.stderr
    assert "verified again: whole" in fixed.stderr
    again = pipv("--python", py, "verify", "--checks", "record", cache_dir=cache_dir, cwd=tmp_path)
    assert again.returncode == 0, again.stdout


def test_repair_is_verified_not_assumed(
    numpy1_scipy_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """numpy 2 forced under a scipy built for numpy 1, and a damaged numpy file: the reinstall
    mends the file, not scipy, and the exit status says so (every check runs again)."""
    env = clone_env(numpy1_scipy_venv, tmp_path / "env")
    py = str(env / "bin/python")
    pip(env, "install", "-q", "--no-deps", "numpy==2.2.6")
    init = site_packages(env) / "numpy" / "__init__.py"
    init.write_text(init.read_text() + "# edited\n")
    run = pipv("--python", py, "repair", cache_dir=cache_dir, cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "--force-reinstall --no-deps numpy==2.2.6" in run.stderr
    assert "not repaired: scipy 1.11.1 [requirements/numpy-abi]" in run.stderr
    assert "verified again: " in run.stderr and "error finding(s) remain" in run.stderr
    assert "[record/size-mismatch]" not in run.stderr.split("verified again:")[1]
    later = run_cli("--python", py, "--format", "json", cache_dir=cache_dir)
    assert later.returncode == 1
    assert {f["distribution"] for f in later.findings if f["severity"] == "error"} == {"scipy"}


def test_repair_help_and_bad_arguments(bare_venv: Path, tmp_path: Path, cache_dir: Path) -> None:
    py = str(bare_venv / "bin/python")
    shown = pipv("--python", py, "repair", "--help", cache_dir=cache_dir, cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: pipv repair [--dry-run]")
    bad = pipv("--python", py, "repair", "--now", cache_dir=cache_dir, cwd=tmp_path)
    assert bad.returncode == 2 and "unknown argument(s): --now" in bad.stderr


def test_held_pip_runs_only_when_told_to(bare_venv: Path, tmp_path: Path) -> None:
    """pipv starts pip before its snapshot but holds it: cancelled, pip never installs
    anything; released, it is pip as `python -m pip` (same output, same exit status)."""
    from verify_env_pip.runner import HeldPip

    env = clone_env(bare_venv, tmp_path / "env")
    wheel = make_wheel(tmp_path / "built", "heldpkg", "1.0", {"heldpkg/__init__.py": "X = 1\n"})
    py = str(env / "bin/python")
    args = ["install", "--no-index", "--disable-pip-version-check", "-q", str(wheel)]
    cancelled = HeldPip(py, args, "install")
    cancelled.cancel()
    assert cancelled.go() == 3  # the launcher's own status: pip never ran
    assert not list(site_packages(env).glob("heldpkg*"))
    assert run_status(py, ["show", "heldpkg"]) == 1  # pip agrees: not installed
    released = HeldPip(py, args, "install")
    assert released.go() == 0
    # said before pip's process tore down: the files are there, and the process's own
    # exit status, once reaped, is the one said
    assert (site_packages(env) / "heldpkg" / "__init__.py").read_text() == "X = 1\n"
    assert released.reap() == 0
    bad = HeldPip(py, ["install", "--no-index", "nonexistent-package-xyz"], "install")
    assert bad.go() == 1  # pip's own status comes through
    assert bad.reap() == 1


def run_status(python: str, args: list[str]) -> int:
    return subprocess.run([python, "-m", "pip", *args], capture_output=True, check=False).returncode
