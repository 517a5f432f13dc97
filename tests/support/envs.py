"""Real environments for the tests: pyenv interpreters, venvs with real wheels, and the CLI.

Nothing here imitates what verify-env inspects: venvs are made by ``python -m venv``, wheels are
installed by pip (or by `installer` when a test needs a wheel pip would refuse, such as a cp312
wheel in a 3.11 venv), and the CLI runs in a subprocess exactly as a user runs it.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "CliRun",
    "break_link",
    "clone_env",
    "download_wheel",
    "install_with_installer",
    "make_venv",
    "pyenv_python",
    "run_cli",
    "site_packages",
]


def pyenv_python(minor: int) -> str:
    """The pyenv CPython 3.<minor> interpreter (found through ``pyenv root``)."""
    root = os.environ.get("PYENV_ROOT")
    if not root:
        root = subprocess.run(
            ["pyenv", "root"], capture_output=True, text=True, check=True
        ).stdout.strip()
    found = sorted(
        glob.glob(os.path.join(root, "versions", f"3.{minor}.*", "bin", f"python3.{minor}"))
    )
    if not found:
        raise RuntimeError(f"pyenv has no CPython 3.{minor} under {root}")
    return found[-1]


def make_venv(
    path: Path, python: str, packages: Sequence[str] = (), pip_args: Sequence[str] = ()
) -> Path:
    """A venv made by ``python -m venv`` with ``packages`` installed by its own pip."""
    subprocess.run([python, "-m", "venv", str(path)], check=True)
    if packages:
        subprocess.run(
            [
                str(path / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--disable-pip-version-check",
                *pip_args,
                *packages,
            ],
            check=True,
        )
    return path


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3.*/site-packages"))
    assert found, f"no site-packages in {venv}"
    return found[0]


def clone_env(source: Path, dest: Path) -> Path:
    """A copy of a venv whose files are hard links to the original (fast and small).

    Modify a file only through `break_link` first, or the original changes too.
    """
    subprocess.run(["cp", "-al", str(source), str(dest)], check=True)
    return dest


def break_link(path: Path) -> Path:
    """Give ``path`` its own inode so that writing it leaves the source env alone."""
    data = path.read_bytes()
    mode = path.stat().st_mode
    path.unlink()
    path.write_bytes(data)
    path.chmod(mode)
    return path


def download_wheel(dest: Path, requirement: str, *, python_version: str, platform: str) -> Path:
    """A binary wheel for another interpreter or platform, downloaded once and kept."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python_version,
            "--platform",
            platform,
            "-d",
            str(dest),
            requirement,
        ],
        check=True,
    )
    name = requirement.split("==")[0].replace("-", "_").lower()
    wheels = [
        w
        for w in dest.glob("*.whl")
        if w.name.lower().startswith(name)
        and platform.split("_")[0] in w.name
        and f"cp{python_version.replace('.', '')}" in w.name
    ]
    assert wheels, f"pip download left no {requirement} wheel for {platform} in {dest}"
    return sorted(wheels)[-1]


def install_with_installer(wheel: Path, venv: Path) -> None:
    """Unpack a wheel into a venv with `installer`, which (unlike pip) checks no tags:
    how a wrong wheel really lands (copied images, ``--target`` reuse, manual unzip)."""
    from installer import install
    from installer.destinations import SchemeDictionaryDestination
    from installer.sources import WheelFile

    py = str(venv / "bin" / "python")
    scheme = json.loads(
        subprocess.run(
            [py, "-c", "import json,sysconfig; print(json.dumps(sysconfig.get_paths()))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    paths = {
        "purelib": scheme["purelib"],
        "platlib": scheme["platlib"],
        "headers": scheme["include"],
        "scripts": scheme["scripts"],
        "data": scheme["data"],
    }
    destination = SchemeDictionaryDestination(paths, interpreter=py, script_kind="posix")
    with WheelFile.open(wheel) as source:
        install(source, destination, {"INSTALLER": b"pip"})


class CliRun:
    """One run of the real ``verify-env`` command, with its JSON report parsed when asked."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.proc = proc
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def report(self) -> dict[str, Any]:
        data = json.loads(self.stdout)
        assert isinstance(data, dict)
        return data

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.report["findings"])

    def codes(self, severity: str | None = "error") -> set[tuple[str, str, str | None]]:
        """(check, code, distribution) of the findings of one severity (all for None)."""
        return {
            (f["check"], f["code"], f["distribution"])
            for f in self.findings
            if severity is None or f["severity"] == severity
        }

    def find(self, code: str, path_suffix: str | None = None) -> dict[str, Any]:
        for f in self.findings:
            if f["code"] == code and (
                path_suffix is None or (f["path"] or "").endswith(path_suffix)
            ):
                return f
        raise AssertionError(
            f"no {code} finding for {path_suffix!r} in:\n"
            + json.dumps(self.findings, indent=1)[:4000]
        )

    def assert_no_traceback(self) -> None:
        assert "Traceback" not in self.stderr, self.stderr


def run_cli(
    *args: str,
    cache_dir: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> CliRun:
    """``python -m verify_env ARGS`` as a subprocess (no TTY), with its own stat cache dir."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VIRTUAL_ENV", "CONDA_PREFIX") and not k.startswith("VERIFY_ENV_")
    }
    if cache_dir is not None:
        full_env["VERIFY_ENV_CACHE_DIR"] = str(cache_dir)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "verify_env", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    run = CliRun(proc)
    run.assert_no_traceback()
    return run


def sysconfig_platform() -> str:
    return sysconfig.get_platform()


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
