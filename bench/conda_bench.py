"""The conda plugin's figures, with an existing conda (this script never builds conda).

    python bench/conda_bench.py CONDA_PYTHON [--venv VENV] [--rounds N] [--workdir DIR]

CONDA_PYTHON: a Python that can ``import conda`` and has verify-env installed (the plugin
loads from its entry point). VENV (default /work/scratch/torchenv): its numpy and scipy, with
their ``.libs``, are packaged as two linux-64 conda packages so the prefix holds real compiled
files; a ``python`` package links the pyenv 3.11 interpreter (as the tests do).

1. one-package transaction: ``conda install pyfoo`` with plugins.verify_env_mode warn vs off
   (alternated by abbench, pyfoo removed before each round), and the verification alone
   (`verify_transaction` in-process, median of N);
2. ``conda verify`` (warm and --no-cache) vs ``conda doctor`` on the same prefix, alternated;
3. on one damaged copy of the prefix: what ``conda doctor`` reports and what ``conda verify``
   finds (a noarch-python file, a file damaged through its hard link, a pip-installed cp312
   extension module).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.conda_env import PackageFile, PackageSpec, build_channel  # noqa: E402
from tests.support.conda_plugin import python_package  # noqa: E402

SITE = "lib/python3.11/site-packages"
ABBENCH = "/work/shared/tools/abbench.py"


def _tree(site: Path, names: list[str]) -> tuple[PackageFile, ...]:
    files = []
    for name in names:
        for path in sorted((site / name).rglob("*")):
            if path.is_file() and not path.is_symlink() and "__pycache__" not in path.parts:
                rel = path.relative_to(site)
                files.append(
                    PackageFile(
                        f"{SITE}/{rel}", path.read_bytes(), executable=os.access(path, os.X_OK)
                    )
                )
    return tuple(files)


def _channel(work: Path, venv: Path) -> str:
    channel = work / "channel"
    if (channel / "linux-64" / "repodata.json").exists():
        return channel.resolve().as_uri()
    site = venv / SITE
    dist = {d.name.split("-")[0]: d.name for d in site.glob("*.dist-info")}
    version = {k: v[: -len(".dist-info")].split("-")[1] for k, v in dist.items()}
    numpy_v = version["numpy"]
    scipy_v = version["scipy"]
    py311 = os.path.realpath(str(venv / "bin" / "python3"))
    packages = (
        python_package(py311, "3.11.7"),
        PackageSpec(
            "numpy",
            numpy_v,
            depends=("python 3.11.*",),
            files=_tree(site, ["numpy", "numpy.libs", dist["numpy"]]),
        ),
        PackageSpec(
            "scipy",
            scipy_v,
            depends=("python 3.11.*", "numpy"),
            files=_tree(site, ["scipy", "scipy.libs", dist["scipy"]]),
        ),
        PackageSpec(
            "pyfoo",
            "1.0",
            noarch_python=True,
            depends=("python",),
            files=(PackageFile("site-packages/pyfoo/__init__.py", b"X = 1\n"),),
        ),
    )
    return build_channel(channel, packages)


class Conda:
    def __init__(self, python: str, work: Path, channel: str) -> None:
        self.python = python
        home = work / "home"
        home.mkdir(exist_ok=True)
        (home / ".condarc").write_text(
            f"solver: classic\noffline: true\nchannels:\n  - {channel}\n"
            f"pkgs_dirs:\n  - {work / 'pkgs'}\nadd_pip_as_python_dependency: false\n"
            "notify_outdated_conda: false\n"
        )
        self.env = {
            **os.environ,
            "HOME": str(home),
            "NO_COLOR": "1",
            "VERIFY_ENV_CACHE_DIR": str(work / "statcache"),
        }
        for var in ("CONDA_PREFIX", "VIRTUAL_ENV", "CONDARC"):
            self.env.pop(var, None)

    def command(self, *args: str, mode: str = "warn") -> str:
        env = " ".join(
            f"{k}={shlex.quote(v)}"
            for k, v in (
                ("HOME", self.env["HOME"]),
                ("VERIFY_ENV_CACHE_DIR", self.env["VERIFY_ENV_CACHE_DIR"]),
                ("CONDA_PLUGINS_VERIFY_ENV_MODE", mode),
            )
        )
        return f"env {env} {shlex.quote(self.python)} -m conda " + " ".join(map(shlex.quote, args))

    def run(self, *args: str, pkgs: Path | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "CONDA_PKGS_DIRS": str(pkgs)} if pkgs else self.env
        return subprocess.run(
            [self.python, "-m", "conda", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )


def _abbench(
    rounds: int, *cmds: str, prepare: str | None = None, extra: tuple[str, ...] = ()
) -> None:
    argv = [sys.executable, ABBENCH, "-n", str(rounds), "-w", "1", *extra]
    if prepare:
        argv += ["--prepare", prepare]
    subprocess.run([*argv, *cmds], check=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("conda_python")
    parser.add_argument("--venv", default="/work/scratch/torchenv")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--workdir")
    parser.add_argument("--only", default="1,2,3", help="sections to run, e.g. 2,3")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="conda-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    channel = _channel(work, Path(args.venv))
    print(f"channel ready in {time.perf_counter() - started:.1f} s: {channel}", flush=True)
    conda = Conda(args.conda_python, work, channel)
    env = work / "env"
    if not env.exists():
        run = conda.run("create", "-y", "-p", str(env), "scipy")
        assert run.returncode == 0, run.stdout + run.stderr
    files = sum(
        len(json.loads(p.read_text()).get("files", [])) for p in (env / "conda-meta").glob("*.json")
    )
    print(f"prefix {env}: {files} files", flush=True)

    # pip compiles what it installs; an editable install under PYTHONDONTWRITEBYTECODE=1 would
    # compile verify-env's ~100 modules in every conda command and measure that instead.
    code = (
        "import os, verify_env, verify_env_conda as c\n"
        "print(os.path.dirname(verify_env.__file__), os.path.dirname(c.__file__))"
    )
    dirs = subprocess.run(
        [args.conda_python, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    subprocess.run([args.conda_python, "-m", "compileall", "-q", *dirs], check=True)
    only = set(args.only.split(","))
    if "1" in only:
        _transaction(args, conda, env)
    if "2" in only:
        _verify_vs_doctor(args, conda, env)
    if "3" in only:
        _damage(conda, work)
    print(f"\nwork dir kept for reuse: {work}")
    return 0


def _transaction(args: argparse.Namespace, conda: Conda, env: Path) -> None:
    print("\n## 1. one-package transaction (conda install pyfoo), verification on vs off")
    remove = conda.command("remove", "-y", "-q", "-p", str(env), "pyfoo", mode="off")
    install = ["install", "-y", "-q", "-p", str(env), "pyfoo"]
    _abbench(
        args.rounds,
        f"warn::{conda.command(*install, mode='warn')}",
        f"off::{conda.command(*install, mode='off')}",
        prepare=f"{remove} >/dev/null 2>&1 || true",
        extra=("--pair", "warn/off"),
    )
    code = (
        "import sys, time, statistics\n"
        "from verify_env_conda.transaction import verify_transaction\n"
        "from verify_env_conda.records import PackageRef\n"
        "from verify_env.session import Session\n"
        "import json, glob\n"
        f"meta = [json.load(open(p)) for p in glob.glob({str(env)!r} + "
        "'/conda-meta/pyfoo-*.json')]\n"
        "ref = PackageRef(meta[0]['name'], meta[0]['version'], meta[0]['build'])\n"
        "times = []\n"
        f"for _ in range({args.rounds}):\n"
        "    t = time.perf_counter()\n"
        f"    o = verify_transaction(Session(transaction=True), {str(env)!r}, [ref], [])\n"
        "    times.append(time.perf_counter() - t)\n"
        "print(f'verify_transaction alone: median {statistics.median(times)*1000:.0f} ms, "
        "min {min(times)*1000:.0f} ms; {o.changed} changed + {o.affected} affected, "
        "{o.report.summary.files} files')\n"
    )
    subprocess.run([args.conda_python, "-c", code], env=conda.env, check=True)


def _verify_vs_doctor(args: argparse.Namespace, conda: Conda, env: Path) -> None:
    """``conda doctor`` runs our health check too; ``--no-plugins`` leaves conda's own."""
    print("\n## 2. conda verify vs conda doctor, same prefix")
    _abbench(
        args.rounds,
        f"verify::{conda.command('verify', '-p', str(env))}",
        f"verify-no-cache::{conda.command('verify', '--no-cache', '-p', str(env))}",
        f"doctor-own::{conda.command('--no-plugins', 'doctor', '-p', str(env))}",
        f"doctor::{conda.command('doctor', '-p', str(env))}",
        extra=("--ref", "doctor-own"),
    )


def _damage(conda: Conda, work: Path) -> None:
    print("\n## 3. the same damage, seen by conda doctor and conda verify")
    damaged = work / "damaged"
    # Its own package cache: the damage below goes through the hard links into that cache,
    # which would otherwise damage the prefix of sections 1 and 2 too (as it did once here).
    pkgs = work / "pkgs-damaged"
    for path in (damaged, pkgs):
        shutil.rmtree(path, ignore_errors=True)
    run = conda.run("create", "-y", "-p", str(damaged), "scipy", "pyfoo", pkgs=pkgs)
    assert run.returncode == 0, run.stderr
    site = damaged / SITE
    with open(site / "pyfoo" / "__init__.py", "r+b") as fh:  # noarch python, in place
        fh.write(b"Y")
    so = next((site / "scipy" / "linalg").glob("_fblas*.so"))
    data = bytearray(so.read_bytes())
    data[len(data) // 2] ^= 1
    with open(so, "r+b") as fh:  # through the hard link: pkgs/ is damaged too
        fh.write(bytes(data))
    ext = site / "pipext"
    ext.mkdir()
    shutil.copy(so, ext / "_c.cpython-312-x86_64-linux-gnu.so")  # pip-written, for 3.12
    info = site / "pipext-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pipext\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(
        "pipext/_c.cpython-312-x86_64-linux-gnu.so,,\npipext-1.0.dist-info/RECORD,,\n"
    )
    doctor = conda.run("doctor", "-p", str(damaged), pkgs=pkgs)
    print(f"conda doctor: exit {doctor.returncode}")
    for line in doctor.stdout.split("verify-env")[0].splitlines():
        if line.strip() not in ("", "\u274c"):
            print(f"  {line}")
    verify = conda.run("verify", "-p", str(damaged), "--format", "json", pkgs=pkgs)
    report = json.loads(verify.stdout)
    print(f"conda verify: exit {verify.returncode}, {len(report['findings'])} findings")
    for f in report["findings"]:
        print(f"  {f['severity']}: {f['distribution']} [{f['check']}/{f['code']}] {f['path']}")


if __name__ == "__main__":
    sys.exit(main())
