"""The size of ``--format sarif`` for the acceptance-style damaged env (issue 8's figure).

    python bench/sarif_size.py WORKDIR [--python PY311]

Builds in WORKDIR (once) a 3.11 venv with numpy 2.2.6 and the two foreign wheels, clones the
venv with hard links and damages the clone as ``tests/support/damage.py`` does (a flipped byte
in ``_multiarray_umath``, a truncated and a deleted extension module, a cp312 extension module,
numpy 1.26.4's dist-info left over), then runs this checkout's ``verify-env`` on it with
``--format sarif``, ``json`` and ``text`` and prints bytes, results by level and by code.
A size, not a time: no rounds.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.damage import damage_numpy_env  # noqa: E402
from tests.support.envs import (  # noqa: E402
    clone_env,
    download_wheel,
    make_venv,
    pyenv_python,
)


def prepare(work: Path, python: str) -> tuple[Path, Path, Path]:
    wheels = work / "wheels"
    source = work / "numpy-venv"
    if not source.exists():
        make_venv(source, python, ["numpy==2.2.6"])
    cp312 = download_wheel(
        wheels, "numpy==2.2.6", python_version="3.12", platform="manylinux_2_17_x86_64"
    )
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "download",
            "-q",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(wheels),
            "numpy==1.26.4",
        ],
        check=True,
    )
    (old,) = wheels.glob("numpy-1.26.4-cp311-*.whl")
    return source, old, cp312


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--python", default=None, help="a CPython 3.11 (default: pyenv's)")
    args = parser.parse_args()
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    source, old, cp312 = prepare(work, args.python or pyenv_python(11))
    env = work / "damaged"
    shutil.rmtree(env, ignore_errors=True)
    clone_env(source, env)
    damage_numpy_env(env, old, cp312)
    sizes = {}
    for fmt in ("sarif", "json", "text"):
        out = work / f"report.{fmt}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "verify_env",
                "--python",
                str(env / "bin" / "python"),
                "--format",
                fmt,
                "-o",
                str(out),
            ],
            check=False,
        )
        assert proc.returncode == 1, proc.returncode
        sizes[fmt] = out.stat().st_size
    log = json.loads((work / "report.sarif").read_text(encoding="utf-8"))
    results = log["runs"][0]["results"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    rules_bytes = len(json.dumps(rules, indent=2))
    levels = collections.Counter(r["level"] for r in results)
    codes = collections.Counter(r["ruleId"] for r in results)
    stale = sum(1 for r in results if r["properties"].get("version") == "1.26.4")
    print(
        f"sarif: {sizes['sarif']} bytes, {len(results)} results "
        f"({', '.join(f'{n} {lvl}' for lvl, n in levels.most_common())}), "
        f"{len(rules)} rules ({rules_bytes} bytes of them)"
    )
    print(f"json:  {sizes['json']} bytes; text: {sizes['text']} bytes")
    print("by code: " + ", ".join(f"{c} {n}" for c, n in codes.most_common()))
    print(f"results naming numpy 1.26.4 (the leftover dist-info's RECORD): {stale}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
