"""The x86-64 ISA level rule (`tags` / `cpu-baseline`) on real gcc-built files.

This machine may well have x86-64-v4 (then no file can fail here), so the rule is proven by the
reverse comparison: a real file built with ``-march=x86-64-v4 -mneeded`` read by
`binary.isa`, judged against an explicit lower CPU level; and the CPU level itself read from
real cpuinfo files of a v3 and a v4 machine's flags.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from verify_env.binary.isa import cpu_level, x86_isa_needed
from verify_env.checks.tags import cpu_baseline
from verify_env.inventory import Distribution, RecordedFile

_V3 = (
    "fpu cx8 cmov mmx fxsr sse sse2 pni ssse3 cx16 sse4_1 sse4_2 popcnt lahf_lm avx avx2 bmi1 "
    "bmi2 f16c fma abm movbe xsave"
)


def _build(tmp_path: Path, *flags: str) -> Path:
    src, out = tmp_path / "k.c", tmp_path / f"k{len(flags)}.so"
    src.write_text(
        "double k(double *v, int n) { double s = 0; while (n--) s += v[n]; return s; }\n"
    )
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", *flags, "-o", str(out), str(src)], check=True)
    return out


def _dist(path: Path) -> tuple[Distribution, RecordedFile]:
    d = Distribution("isa-ext", "isa-ext", "1.0", "pip", "dist-info", str(path.parent), None, None)
    return d, RecordedFile(f"isa_ext/{path.name}", str(path), None, None, None)


def test_a_v4_file_on_a_v3_cpu(tmp_path: Path) -> None:
    so = _build(tmp_path, "-march=x86-64-v4", "-mneeded")
    assert x86_isa_needed(so) == 4
    dist, f = _dist(so)
    got = cpu_baseline(dist, f, x86_isa_needed(so), 3)
    assert got is not None
    assert (got.code, got.severity.value, got.path) == ("cpu-baseline", "error", f.path)
    assert "needs x86-64-v4" in got.message and "this CPU is x86-64-v3" in got.message
    assert got.hint is not None and "made for x86-64-v3" in got.hint and "--force" not in got.hint
    assert cpu_baseline(dist, f, 4, 4) is None


def test_files_without_the_note_need_nothing(tmp_path: Path) -> None:
    plain = _build(tmp_path)
    assert x86_isa_needed(plain) == 0
    assert cpu_baseline(*_dist(plain), x86_isa_needed(plain), 1) is None
    v2 = _build(tmp_path, "-march=x86-64-v2", "-mneeded", "-DV2")
    assert x86_isa_needed(v2) == 2


@pytest.mark.parametrize(
    ("flags", "level"),
    [(_V3, 3), (_V3 + " avx512f avx512bw avx512cd avx512dq avx512vl", 4), ("fpu sse", 0)],
)
def test_cpu_level_from_cpuinfo(tmp_path: Path, flags: str, level: int) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text(f"processor\t: 0\nvendor_id\t: X\nflags\t\t: {flags}\n\nprocessor\t: 1\n")
    assert cpu_level(str(info)) == level
    assert cpu_level(str(tmp_path / "absent")) is None
