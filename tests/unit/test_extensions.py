"""verify_env.binary.extensions: the ABI tag in real-world extension-module names, and the lowest
CPython an abi3 wheel supports."""

from __future__ import annotations

import importlib.machinery

import pytest

from verify_env.binary.extensions import abi3_minimum, is_compiled_module_name, tagged_suffix


@pytest.mark.parametrize(
    ("filename", "suffix"),
    [
        ("_multiarray_umath.cpython-311-x86_64-linux-gnu.so", ".cpython-311-x86_64-linux-gnu.so"),
        ("x.cpython-312-x86_64-linux-gnu.so", ".cpython-312-x86_64-linux-gnu.so"),
        ("x.cpython-313t-x86_64-linux-gnu.so", ".cpython-313t-x86_64-linux-gnu.so"),
        ("x.cpython-311-aarch64-linux-musl.so", ".cpython-311-aarch64-linux-musl.so"),
        ("x.cpython-311-darwin.so", ".cpython-311-darwin.so"),
        ("x.abi3.so", ".abi3.so"),
        ("x.cp311-win_amd64.pyd", ".cp311-win_amd64.pyd"),
        ("x.pyd", ".pyd"),
        ("x.pypy39-pp73-x86_64-linux-gnu.so", ".pypy39-pp73-x86_64-linux-gnu.so"),
        # a dotted module-ish stem keeps only the last tag
        ("pkg.sub.cpython-310-x86_64-linux-gnu.so", ".cpython-310-x86_64-linux-gnu.so"),
    ],
)
def test_tagged_suffix(filename: str, suffix: str) -> None:
    assert tagged_suffix(filename) == suffix
    assert is_compiled_module_name(filename)


@pytest.mark.parametrize(
    "filename",
    [
        "libopenblas.so",
        "libfoo.so.1",
        "x.so",
        "x.py",
        "x.pyc",
        "libgfortran-040039e1.so.5.0.0",
        "x.cpython-311-x86_64-linux-gnu.so.bak",
        "README",
        "",
    ],
)
def test_untagged_names(filename: str) -> None:
    assert tagged_suffix(filename) is None
    assert not is_compiled_module_name(filename)


def test_the_running_interpreters_own_suffixes_are_recognized() -> None:
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if suffix in (".so", ".pyd"):
            continue  # the untagged fallbacks carry no ABI tag
        assert tagged_suffix("mod" + suffix) == suffix


@pytest.mark.parametrize(
    ("tags", "minimum"),
    [
        (("cp38-abi3-manylinux_2_17_x86_64",), (3, 8)),
        (("cp312-abi3-manylinux_2_17_x86_64", "cp312-abi3-manylinux2014_x86_64"), (3, 12)),
        (("cp39-abi3-macosx_11_0_arm64", "cp37-abi3-macosx_10_9_x86_64"), (3, 7)),
        (("cp311-cp311-manylinux_2_17_x86_64",), None),
        (("cp311-cp311-manylinux_2_17_x86_64", "cp311-cp311-manylinux2014_x86_64"), None),
        (("py3-none-any",), None),
        (("pp39-pypy39_pp73-manylinux_2_17_x86_64",), None),
        ((), None),
        (("garbage",), None),
    ],
)
def test_abi3_minimum(tags: tuple[str, ...], minimum: tuple[int, int] | None) -> None:
    assert abi3_minimum(tags) == minimum
