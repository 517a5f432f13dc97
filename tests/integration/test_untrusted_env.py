"""The environment is untrusted input (issue 18): a default run executes none of its code, and
what it planted at start-up is reported, not obeyed.

Every hostile file here is real: a ``.pth`` whose import line would write a marker file (and
lie to ``site``) if it ever ran, a ``sitecustomize.py`` doing the same, an interpreter that
forges its own facts. Each run must leave the environment byte- and ctime-identical.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from pathlib import Path

import pytest

from tests.support.envs import CliRun, clone_env, run_cli, site_packages
from tests.support.guard import deadline

TIMEOUT = 120.0
FAKE = "sha256=" + "A" * 43  # well-formed, matches nothing


def byte_snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """(mode, mtime_ns, ctime_ns, sha256 or link target) of every entry below ``root``."""
    out: dict[str, tuple[int, int, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    content = hashlib.sha256(fh.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            else:
                content = ""
            out[path] = (st.st_mode, st.st_mtime_ns, st.st_ctime_ns, content)
    return out


def _verify(env: Path, cache_dir: Path, *extra: str) -> CliRun:
    run = run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--format",
        "json",
        *extra,
        cache_dir=cache_dir,
        timeout=TIMEOUT,
    )
    assert run.returncode in (0, 1), (run.returncode, run.stderr)
    return run


def _planted(env: Path, marker: Path) -> tuple[Path, Path]:
    """A .pth that would write ``marker`` and empty ``site.getsitepackages()`` (so that an
    obeying probe sees no distribution), and a sitecustomize.py that would write it too."""
    sp = site_packages(env)
    pth = sp / "zz-evil.pth"
    pth.write_text(
        "# a comment line\n"
        f"import site; open({str(marker)!r}, 'a').write('pth\\n'); "
        "site.getsitepackages = lambda *a: []\n"
    )
    custom = sp / "sitecustomize.py"
    custom.write_text(f"open({str(marker)!r}, 'a').write('sitecustomize\\n')\n")
    return pth, custom


def test_pth_and_sitecustomize_never_run_and_are_findings(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    marker = tmp_path / "MARKER"
    pth, custom = _planted(env, marker)
    before = byte_snapshot(env)
    run = _verify(env, cache_dir, "--strict")
    assert not marker.exists(), marker.read_text()
    assert run.returncode == 1
    found = run.find("pth-executable", pth.name)
    assert found["severity"] == "warning" and found["path"] == str(pth)
    assert "line 2" in found["message"] and "import site" in found["message"]
    assert run.find("site-customize", custom.name)["severity"] == "warning"
    # the lie was not believed: pip's own distribution is still inventoried
    assert run.report["summary"]["distributions"] >= 1
    assert byte_snapshot(env) == before


def test_owned_pth_with_import_line_is_not_a_finding(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """An import line in a .pth that a RECORD owns is how editable installs work."""
    env = clone_env(bare_venv, tmp_path / "env")
    marker = tmp_path / "MARKER"
    sp = site_packages(env)
    pth = sp / "owned.pth"
    pth.write_text(f"import os; open({str(marker)!r}, 'w')\n")
    record = next(sp.glob("pip-*.dist-info")) / "RECORD"
    data = record.read_bytes()
    record.unlink()  # a hard link into the session env: replace, never write through
    record.write_bytes(data + b"owned.pth,,\n")
    run = _verify(env, cache_dir)
    assert not marker.exists()
    assert not [f for f in run.findings if f["code"] == "pth-executable"]


def test_pth_path_lines_still_extend_the_search_path(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """Path lines are applied as site applies them: a dir added by a .pth that holds another
    Python's packages is still seen (foreign-site-packages), without the .pth running."""
    env = clone_env(bare_venv, tmp_path / "env")
    other = tmp_path / "lib" / "python3.9" / "site-packages"
    (other / "somemod").mkdir(parents=True)
    (other / "somemod" / "__init__.py").write_text("")
    (site_packages(env) / "extra.pth").write_text(f"{other}\n")
    run = _verify(env, cache_dir)
    assert run.find("foreign-site-packages")["path"] == str(other)


def test_forged_facts_with_distributions_on_disk_are_an_error(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, py311: str
) -> None:
    """An interpreter that describes itself with no site dirs cannot make a populated env OK."""
    env = clone_env(bare_venv, tmp_path / "env")
    forger = tmp_path / "forge.py"
    forger.write_text(
        "import json, runpy, sys, io, contextlib\n"
        "buf = io.StringIO()\n"
        "sys.argv = [a for a in sys.argv[1:] if not a.startswith('-')]\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
        "facts = json.loads(buf.getvalue())\n"
        "facts['site_packages'] = []\n"
        "facts['sys_path'] = facts['sys_path'][:3]\n"
        f"facts['prefix'] = {str(env)!r}\n"
        "print(json.dumps(facts))\n"
    )
    python = env / "bin" / "python"
    python.unlink()
    python.write_text(f'#!/bin/sh\nexec {py311} -I -S -B {forger} "$@"\n')
    python.chmod(0o755)
    run = _verify(env, cache_dir, "--strict")
    assert run.report["summary"]["distributions"] == 0
    assert run.returncode == 1
    found = run.find("distributions-unseen")
    assert found["severity"] == "error"
    assert found["path"] == str(site_packages(env))


# --- reads stay inside the roots and bounded (issue 18, §8/§9) --------------------------------


def _record_of(env: Path) -> Path:
    return next(site_packages(env).glob("pip-*.dist-info")) / "RECORD"


def _add_rows(env: Path, rows: str) -> None:
    record = _record_of(env)
    data = record.read_bytes()
    record.unlink()  # a hard link into the session env: replace, never write through
    record.write_bytes(data + rows.encode())


def _row(rel: str, data: bytes) -> str:
    import base64

    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}\n"


def test_a_symlinked_dir_out_of_the_env_is_never_read_through(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """``site-packages/escape -> /etc`` and a row ``escape/shadow``: never opened, an error."""
    env = clone_env(bare_venv, tmp_path / "env")
    (site_packages(env) / "escape").symlink_to("/etc")
    _add_rows(env, f"escape/shadow,{FAKE},1234\nescape/passwd,{FAKE},1234\n")
    clean = _verify(clone_env(bare_venv, tmp_path / "clean"), tmp_path / "c2")
    before = byte_snapshot(env)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    found = run.find("path-escape", "escape/shadow")
    assert found["severity"] == "error" and found["distribution"] == "pip"
    assert "/etc/shadow" in found["message"] and "not opened" in found["message"]
    assert "1234" not in found["message"]
    assert run.find("path-escape", "escape/passwd")
    assert run.report["summary"]["bytes_hashed"] == clean.report["summary"]["bytes_hashed"]
    assert byte_snapshot(env) == before


def test_a_recorded_file_swapped_for_a_symlink_out_is_never_read(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    secret = tmp_path / "outside" / "secret"
    secret.parent.mkdir()
    secret.write_bytes(b"not yours\n")
    victim = site_packages(env) / "pip" / "__main__.py"
    victim.unlink()
    victim.symlink_to(secret)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    found = run.find("path-escape", "pip/__main__.py")
    assert str(secret) in found["message"]
    assert not [f for f in run.findings if f["code"] in ("size-mismatch", "hash-mismatch")]


def test_a_symlink_inside_the_env_is_followed_and_judged(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    victim = site_packages(env) / "pip" / "__main__.py"
    copy = site_packages(env) / "pip" / "real_main.txt"
    copy.write_bytes(victim.read_bytes() + b"# more\n")
    victim.unlink()
    victim.symlink_to(copy.name)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    assert run.find("size-mismatch", "pip/__main__.py")["severity"] == "error"
    assert not [f for f in run.findings if f["code"] == "path-escape"]


@pytest.mark.parametrize("recorded", ["matching-size", "no-size"])
def test_a_huge_sparse_file_behind_a_recorded_name_is_not_hashed(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, recorded: str
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    sparse = site_packages(env) / "pip" / "huge.bin"
    size = 100 << 30 if recorded == "matching-size" else 2 << 30
    with open(sparse, "wb") as fh:
        fh.truncate(size)  # sparse: no disk used
    link = site_packages(env) / "pip" / "data.bin"
    link.symlink_to(sparse.name)
    _add_rows(env, f"pip/data.bin,{FAKE},{size if recorded == 'matching-size' else ''}\n")
    with deadline(60):
        start = time.monotonic()
        run = _verify(env, cache_dir)
    assert time.monotonic() - start < 30
    assert run.returncode == 1
    found = run.find("missing-file", "pip/data.bin")
    assert "not hashed" in found["message"] and str(size) in found["message"]
    assert run.report["summary"]["bytes_hashed"] < 1 << 30


def test_one_file_listed_many_times_is_hashed_once(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    data = os.urandom(4 << 20)
    (site_packages(env) / "pip" / "blob.bin").write_bytes(data)
    clean = _verify(clone_env(bare_venv, tmp_path / "clean"), tmp_path / "c2", "--no-cache")
    _add_rows(env, _row("pip/blob.bin", data) * 200)
    run = _verify(env, cache_dir, "--no-cache")
    assert run.returncode == 0, run.findings
    assert run.report["summary"]["bytes_hashed"] == clean.report["summary"]["bytes_hashed"] + len(
        data
    )


def test_an_interpreter_that_prints_forever_is_cut_off(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """The probe's output is capped (issue 18, §7): a target whose python prints without end
    costs a second and a few MB, one line on stderr, no traceback."""
    env = clone_env(bare_venv, tmp_path / "env")
    python = env / "bin" / "python"
    python.unlink()
    python.write_text("#!/bin/sh\nexec yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")
    python.chmod(0o755)
    with deadline(60):
        start = time.monotonic()
        run = run_cli("--python", str(python), cache_dir=cache_dir, timeout=TIMEOUT)
    assert time.monotonic() - start < 30
    assert run.returncode == 2  # the interpreter cannot describe itself: nothing to judge
    (line,) = run.stderr.splitlines()
    assert "printed more than" in line and str(python) in line


def test_pipv_verify_runs_no_code_of_the_environment_either(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """pipv uses the same target code: the planted .pth and sitecustomize never run."""
    from tests.integration.test_pipv import pipv

    env = clone_env(bare_venv, tmp_path / "env")
    marker = tmp_path / "MARKER"
    _planted(env, marker)
    before = byte_snapshot(env)
    proc = pipv(
        "--python", str(env / "bin" / "python"), "verify", cache_dir=cache_dir, cwd=tmp_path
    )
    assert not marker.exists()
    assert "pth-executable" in proc.stdout + proc.stderr
    assert byte_snapshot(env) == before


def test_a_pth_with_endless_code_lines_stays_one_bounded_finding(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    marker = tmp_path / "MARKER"
    pth = site_packages(env) / "many.pth"
    pth.write_text(f"import os; open({str(marker)!r}, 'w')\n" * 200_000)  # ~9 MB
    run = _verify(env, cache_dir)
    assert not marker.exists()
    assert run.returncode == 0
    assert [f["path"] for f in run.findings if f["code"] == "pth-executable"] == [str(pth)]


def test_a_forking_printing_pth_neither_runs_nor_delays_the_run(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """Issue 18 §6/§7: a .pth whose child holds the probe's stdout and one that prints
    forever made the old probe wait 101 s and eat GBs; isolated, neither runs."""
    env = clone_env(bare_venv, tmp_path / "env")
    marker = tmp_path / "MARKER"
    sp = site_packages(env)
    (sp / "fork.pth").write_text(
        f"import os, time; os.fork() or (open({str(marker)!r}, 'w'), time.sleep(300))\n"
    )
    (sp / "spew.pth").write_text(
        "import sys; [sys.stdout.write('x' * 65536) for _ in iter(int, 1)]\n"
    )
    before = byte_snapshot(env)
    with deadline(60):
        start = time.monotonic()
        run = _verify(env, cache_dir)
    assert time.monotonic() - start < 30
    assert not marker.exists()
    assert {f["path"] for f in run.findings if f["code"] == "pth-executable"} == {
        str(sp / "fork.pth"),
        str(sp / "spew.pth"),
    }
    assert byte_snapshot(env) == before


def test_nul_characters_in_recorded_paths_and_pth_lines_are_findings_not_crashes(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """No file is named with a NUL, and opening one raises ValueError in Python: a RECORD row,
    an egg-info's installed-files.txt line and a .pth line holding one are findings (or, for
    the .pth line, skipped as ``site`` skips it), never an exit-2 "internal error"."""
    env = clone_env(bare_venv, tmp_path / "env")
    sp = site_packages(env)
    _add_rows(env, "pip/a\x00b.py,,\n")
    egg = sp / "eggy-1.0.egg-info"
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.0\nName: eggy\nVersion: 1.0\n\n")
    (egg / "installed-files.txt").write_text("../eggy/a\x00.py\n")
    (sp / "zz.pth").write_text("/tmp/a\x00b\n")
    run = _verify(env, cache_dir, "--no-cache")
    assert run.returncode == 1, run.stderr
    assert "internal error" not in run.stderr
    malformed = [
        f for f in run.findings if f["code"] == "record-malformed" and f["distribution"] == "pip"
    ]
    assert len(malformed) == 1, run.findings
    assert "'pip/a\\x00b.py' holds a NUL character; not opened" in malformed[0]["message"]
    eggy = [f for f in run.findings if f["distribution"] == "eggy"]
    # the report spells the control character out, as it does every one in a path
    assert [(f["code"], f["path"]) for f in eggy] == [("missing-file", "../eggy/a\\x00.py")], eggy
    assert "the recorded path holds a NUL character" in eggy[0]["message"]
