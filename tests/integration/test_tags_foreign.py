"""Wheels for another Python, another machine and another libc, landed in a 3.11 x86_64 venv.

pip refuses such wheels, so they are unpacked with `installer` (which checks no tags), the way
they really arrive: a reused ``--target`` dir, an image layer from another base, a manual unzip.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.envs import CliRun, clone_env, install_with_installer, run_cli, site_packages


def _verify(env: Path, cache_dir: Path) -> CliRun:
    return run_cli(
        "--python",
        str(env / "bin" / "python"),
        "--format",
        "json",
        "--checks",
        "tags,record",
        cache_dir=cache_dir,
    )


def test_cp312_numpy_in_a_311_venv(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, cp312_numpy_wheel: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    install_with_installer(cp312_numpy_wheel, env)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    tag = run.find("tag-mismatch")
    assert (tag["check"], tag["distribution"], tag["path"]) == ("tags", "numpy", None)
    assert "cp312" in tag["message"]
    suffix = run.find(
        "extension-suffix", "numpy/_core/_multiarray_umath.cpython-312-x86_64-linux-gnu.so"
    )
    assert suffix["distribution"] == "numpy" and suffix["severity"] == "error"
    # the files themselves are intact: nothing for the record check to say
    assert not [f for f in run.findings if f["check"] == "record"]


def test_aarch64_extension_in_an_x86_64_venv(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, aarch64_wheel: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    install_with_installer(aarch64_wheel, env)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    so = "markupsafe/_speedups.cpython-311-aarch64-linux-gnu.so"
    arch = run.find("elf-arch", so)
    assert arch["distribution"] == "MarkupSafe"
    assert "aarch64" in arch["message"] and "x86_64" in arch["message"]
    assert run.find("tag-mismatch")["distribution"] == "MarkupSafe"
    assert run.find("extension-suffix", so)


def test_musllinux_wheel_on_glibc(
    bare_venv: Path, tmp_path: Path, cache_dir: Path, musl_wheel: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    install_with_installer(musl_wheel, env)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    wheel_level = [f for f in run.findings if f["code"] == "libc-mismatch" and f["path"] is None]
    assert wheel_level and "musl" in wheel_level[0]["message"]
    so = run.find("libc-mismatch", "markupsafe/_speedups.cpython-311-x86_64-linux-musl.so")
    assert so["distribution"] == "MarkupSafe" and "musl" in so["message"]
    assert not [f for f in run.findings if f["code"] == "tag-mismatch"]


def test_macho_and_garbage_named_like_extensions(numpy_env: Path, cache_dir: Path) -> None:
    site = site_packages(numpy_env)
    (site / "numpy" / "_fake_mac.cpython-311-x86_64-linux-gnu.so").write_bytes(
        bytes.fromhex("cffaedfe07000001") + b"\0" * 64
    )
    (site / "numpy" / "_garbage.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF\x02")
    run = run_cli(
        "--python", str(numpy_env / "bin" / "python"), "--format", "json", cache_dir=cache_dir
    )
    assert run.returncode == 1
    # unowned, so the record check names them; they would load, so they are errors
    assert run.find("unrecorded-extension", "_fake_mac.cpython-311-x86_64-linux-gnu.so")
    assert run.find("unrecorded-extension", "_garbage.cpython-311-x86_64-linux-gnu.so")
