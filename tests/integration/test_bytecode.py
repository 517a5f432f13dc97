"""Compiled files are checked (issue 18, §4): a ``.pyc`` compiled from other source, stamped
so that Python loads it in place of the untouched ``.py``, is a finding.

Every forgery is real and proven to run: the test compiles other source with the target's own
``py_compile``, stamps the real source's mtime and size (or its hash) into the header, and
shows that ``python -c "import six"`` runs the forged code before verify-env is asked.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.test_untrusted_env import byte_snapshot
from tests.support.envs import (
    CliRun,
    install_with_installer,
    pyenv_python,
    run_cli,
    site_packages,
)
from tests.support.six import six_env
from tests.support.wheels import make_wheel

FORGE = r"""
import importlib.util, os, py_compile, sys, tempfile
source, mode, stamp = sys.argv[1], sys.argv[2], sys.argv[3]
pyc = importlib.util.cache_from_source(source)
other = os.path.join(tempfile.mkdtemp(), os.path.basename(source))
with open(other, "w") as fh:
    fh.write("print('FORGED')\n")
modes = {"timestamp": py_compile.PycInvalidationMode.TIMESTAMP,
         "unchecked": py_compile.PycInvalidationMode.UNCHECKED_HASH}
tmp = pyc + ".forge"
py_compile.compile(other, cfile=tmp, dfile=source, invalidation_mode=modes[mode], doraise=True)
data = bytearray(open(tmp, "rb").read())
if stamp == "source" and mode == "timestamp":
    st = os.stat(source)
    data[8:12] = (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little")
    data[12:16] = (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
elif stamp == "source":
    data[8:16] = importlib.util.source_hash(open(source, "rb").read())
with open(tmp, "wb") as fh:
    fh.write(bytes(data))
os.replace(tmp, pyc)  # a new inode: the session env this one is hard-linked to stays clean
"""


def _forge(
    env: Path, module: Path, name: str = "six", mode: str = "timestamp", stamp: str = "source"
) -> None:
    python = str(env / "bin" / "python")
    subprocess.run([python, "-I", "-c", FORGE, str(module), mode, stamp], check=True)
    ran = subprocess.run(
        [python, "-c", f"import {name}"], capture_output=True, text=True, check=False
    )
    assert ran.stdout == "FORGED\n", "the forged .pyc must be what Python runs"


def _verify(env: Path, cache_dir: Path, *extra: str) -> CliRun:
    return run_cli(
        "--python", str(env / "bin" / "python"), "--format", "json", *extra, cache_dir=cache_dir
    )


def test_stamped_pyc_runs_and_is_an_error(
    six_wheel: Path, py311: str, tmp_path: Path, cache_dir: Path
) -> None:
    env = six_env(py311, tmp_path / "env", six_wheel)
    six = site_packages(env) / "six.py"
    _forge(env, six)
    before = byte_snapshot(env)
    for extra in ((), (), ("--strict", "--checks", "all")):  # cold, warm, and everything
        run = _verify(env, cache_dir, *extra)
        assert run.returncode == 1, run.stdout
        found = run.find("bytecode-mismatch", "__pycache__/six.cpython-311.pyc")
        assert (found["check"], found["severity"], found["distribution"]) == (
            "record",
            "error",
            "six",
        )
        assert "not compiled from six.py" in found["message"]
        assert "mtime and size" in found["message"]
        assert found["hint"].startswith("rm ") and "six.cpython-311.pyc" in found["hint"]
    assert byte_snapshot(env) == before
    # a stale file (the source changed since) is harmless: Python compiles the source instead
    six.write_bytes(six.read_bytes() + b"\n")
    run = _verify(env, cache_dir)
    assert not [f for f in run.findings if f["code"] == "bytecode-mismatch"]


def test_unchecked_hash_pyc(six_wheel: Path, py311: str, tmp_path: Path, cache_dir: Path) -> None:
    """PEP 552: an unchecked hash-based .pyc is loaded without a look at the source."""
    env = six_env(py311, tmp_path / "env", six_wheel)
    six = site_packages(env) / "six.py"
    _forge(env, six, mode="unchecked", stamp="source")  # the source's own hash, other code
    found = _verify(env, cache_dir).find("bytecode-mismatch", "six.cpython-311.pyc")
    assert "not compiled from six.py" in found["message"]
    _forge(env, six, mode="unchecked", stamp="other")  # the other source's hash: stale, yet loaded
    found = _verify(env, cache_dir).find("bytecode-mismatch", "six.cpython-311.pyc")
    assert "without a look at the source" in found["message"]


def test_deep_module_is_compared_under_strict(numpy_env: Path, cache_dir: Path) -> None:
    """Beyond entry modules the default run reads headers only; --strict compiles every
    source Python would load a compiled file for, and finds pip's own compiled files clean."""
    module = site_packages(numpy_env) / "numpy" / "version.py"
    _forge(numpy_env, module, "numpy.version")
    run = _verify(numpy_env, cache_dir, "--strict")
    assert run.returncode == 1
    mismatched = [f for f in run.findings if f["code"] == "bytecode-mismatch"]
    assert [(f["distribution"], f["path"]) for f in mismatched] == [
        ("numpy", "numpy/__pycache__/version.cpython-311.pyc")
    ]


def test_other_python_version_compiles_in_the_target(
    six_wheel: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """A 3.8 target: its own interpreter (isolated) reads and compiles, not verify-env's."""
    env = six_env(pyenv_python(8), tmp_path / "env38", six_wheel)
    _forge(env, site_packages(env) / "six.py")
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    assert "six.cpython-38.pyc" in run.find("bytecode-mismatch")["path"]


def test_compiled_file_linked_out_of_the_env_is_not_read(
    six_wheel: Path, py311: str, tmp_path: Path, cache_dir: Path
) -> None:
    """A ``.pyc`` that is a symlink leading out of the environment is never opened: a skip
    that names where it leads, not a verdict."""
    env = six_env(py311, tmp_path / "env", six_wheel)
    pyc = site_packages(env) / "__pycache__" / "six.cpython-311.pyc"
    outside = tmp_path / "outside.pyc"
    outside.write_bytes(pyc.read_bytes())
    pyc.unlink()
    pyc.symlink_to(outside)
    run = _verify(env, cache_dir)
    assert run.returncode == 0, run.stdout
    reasons = [s["reason"] for s in run.report["skipped"] if s["path"] == str(pyc)]
    assert reasons == [f"{pyc} links to {outside}, outside the environment; not read"]


def test_forgery_behind_a_slow_compile_is_found(
    py311: str, tmp_path: Path, cache_dir: Path
) -> None:
    """An entry module that takes about a second to compile: the background comparer (low
    priority) is still at work when the run collects its verdicts, and what it has not judged
    is judged at full priority; the forgery is found all the same."""
    body = "".join(f"def f{i}(a, b=1):\n    return a + b * {i}\n" for i in range(40_000))
    wheel = make_wheel(tmp_path / "wheels", "slowmod", "1.0", {"slowmod.py": body})
    env = tmp_path / "env"
    subprocess.run([py311, "-m", "venv", "--without-pip", str(env)], check=True)
    install_with_installer(wheel, env)
    module = site_packages(env) / "slowmod.py"
    _forge(env, module, "slowmod")
    run = _verify(env, cache_dir)
    assert run.returncode == 1, run.stdout
    found = run.find("bytecode-mismatch", "__pycache__/slowmod.cpython-311.pyc")
    assert "not compiled from slowmod.py" in found["message"]
    assert not run.report["skipped"]
