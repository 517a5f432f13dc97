"""The tags check: can the target load these files at all?

WHEEL ``Tag:`` lines against the target's ``sys_tags()``; each compiled module's filename tag
against its EXTENSION_SUFFIXES (and an abi3 module against the wheel's minimum CPython); each
shared object's ELF class and machine against the interpreter's; musl against glibc, and
``manylinux_2_N`` tags or ``GLIBC_2.N`` symbol versions above the running glibc; an x86-64 ISA
level (``.note.gnu.property``, `binary.isa`) above this CPU's.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator

from packaging.tags import Tag, parse_tag

from verify_env.binary import elf, isa
from verify_env.binary.extensions import (
    abi3_minimum,
    candidate_shared_objects,
    is_shared_object,
    tagged_suffix,
)
from verify_env.cache.statcache import stat_key
from verify_env.checks.interface import CheckResult, Context
from verify_env.files import read_regular
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution, FileKind, RecordedFile
from verify_env.target.model import Target

__all__ = ["CODES", "cpu_baseline", "run"]

NAME = "tags"
CODES = ("tag-mismatch", "extension-suffix", "elf-arch", "libc-mismatch", "cpu-baseline")

_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_")


def _finding(dist: Distribution, code: str, path: str | None, message: str) -> Finding:
    return Finding(
        NAME,
        code,
        Severity.ERROR,
        dist.name,
        dist.version,
        dist.installer,
        path,
        message,
        dist.hint,
    )


def _glibc_floor(platform: str) -> tuple[int, int] | None:
    match = _MANYLINUX.match(platform)
    if match:
        return int(match.group(1)), int(match.group(2))
    for legacy, version in _LEGACY_MANYLINUX.items():
        if platform.startswith(legacy + "_"):
            return version
    return None


def _wheel_tags(dist: Distribution, target: Target) -> Iterator[Finding]:
    parsed: set[Tag] = set()
    for line in dist.wheel_tags:
        try:
            parsed |= parse_tag(line)
        except ValueError:
            continue
    if not parsed or any(str(t) in target.tag_set for t in parsed):
        return
    supported = {tag for t in target.tags for tag in parse_tag(t)}
    pairs = {(t.interpreter, t.abi) for t in supported}
    wanted = ", ".join(sorted(str(t) for t in parsed))
    for tag in sorted(parsed, key=str):
        if (tag.interpreter, tag.abi) not in pairs or target.libc != "glibc":
            continue
        if tag.platform.startswith("musllinux_"):
            yield _finding(
                dist,
                "libc-mismatch",
                None,
                f"wheel tag {tag} is built for musl libc; the target runs glibc "
                f"{_dotted(target.libc_version)}",
            )
            return
        floor = _glibc_floor(tag.platform)
        if floor and target.libc_version and floor > target.libc_version:
            yield _finding(
                dist,
                "libc-mismatch",
                None,
                f"wheel tag {tag} needs glibc {_dotted(floor)}; the target has "
                f"{_dotted(target.libc_version)}",
            )
            return
    best = target.tags[0] if target.tags else "none"
    yield _finding(
        dist,
        "tag-mismatch",
        None,
        f"no WHEEL tag ({wanted}) is supported by the target (best tag: {best})",
    )


def _dotted(version: tuple[int, int] | None) -> str:
    return "?" if version is None else f"{version[0]}.{version[1]}"


def _suffix(
    dist: Distribution, f: RecordedFile, name: str, target: Target, minimum: tuple[int, int] | None
) -> Finding | None:
    suffix = tagged_suffix(name)
    if suffix is None:
        return None
    if suffix not in target.extension_suffixes:
        return _finding(
            dist,
            "extension-suffix",
            f.path,
            f"{f.path}: suffix {suffix!r} is not one this interpreter loads "
            f"({', '.join(target.extension_suffixes)})",
        )
    if suffix.startswith(".abi3.") and minimum and target.version and target.version[:2] < minimum:
        return _finding(
            dist,
            "extension-suffix",
            f.path,
            f"{f.path}: abi3 module of a wheel for CPython >= {_dotted(minimum)}; "
            f"the target is {_dotted(target.version[:2])}",
        )
    return None


class _Interpreter:
    """The interpreter's own ELF header, the yardstick for every shared object."""

    def __init__(self, target: Target) -> None:
        self.header: elf.ElfHeader | None = None
        self.reason = ""
        if target.executable is None:
            self.reason = "no interpreter"
            return
        # non-blocking and regular only: an image's (or a broken venv's) "python" may be a FIFO
        head = read_regular(target.real(target.executable), 64)
        if head is None:
            self.reason = "the interpreter's ELF header could not be read: not a readable file"
            return
        try:
            self.header = elf.read_header(head)
        except elf.ElfFormatError as exc:
            self.reason = f"the interpreter's ELF header could not be read: {exc}"


ElfFacts = tuple[
    str, tuple[int, bool, int] | None, str | None, bool, tuple[int, int] | None, str | None, int
]
"""What the tags check needs from a shared object: (classify() kind, (class, little endian,
machine) or None, why the header is unusable, linked against musl, highest GLIBC_2.N needed,
why the dynamic section is unreadable, x86-64 ISA level needed or 0). Plain data, so the stat
cache can keep it."""


def _read_facts(location: str) -> ElfFacts | None:
    """None when the file cannot be opened (the record check reports that)."""
    head = read_regular(location, 64)
    if head is None:
        return None
    kind = elf.classify(head)
    if kind != "elf":
        return (kind, None, f"{len(head)} bytes read, starts {head[:8]!r}", False, None, None, 0)
    try:
        header = elf.read_header(head)
    except elf.ElfFormatError as exc:
        return (kind, None, str(exc), False, None, None, 0)
    triple = (header.elf_class, header.little_endian, header.machine)
    try:
        info, level = elf.read_dynamic_and(location, isa.needed_in)  # one open for both
    except (OSError, elf.ElfFormatError) as exc:
        return (kind, triple, None, False, None, str(exc), 0)
    musl = any(n.startswith("libc.musl-") for n in info.needed) or (
        info.interpreter or ""
    ).startswith("/lib/ld-musl-")
    return (kind, triple, None, musl, elf.glibc_versions_needed(info), None, level)


def _facts(location: str, ctx: Context) -> ElfFacts | None:
    """`_read_facts`, remembered in the stat cache while the file is unchanged. Only regular
    files are opened: a FIFO in place of a module would block the open forever (the record
    check reports what is not a regular file)."""
    try:
        st = os.stat(location)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    key = stat_key(st)
    cached = ctx.cache.fact("elf", location, key)
    if isinstance(cached, tuple) and len(cached) == 7:
        return cached
    facts = _read_facts(location)
    if facts is not None:
        ctx.cache.remember("elf", location, key, facts)
    return facts


def _elf(
    dist: Distribution,
    f: RecordedFile,
    tagged: bool,
    interp: elf.ElfHeader,
    ctx: Context,
    result: CheckResult,
    cpu: _CpuLevel | None,
) -> None:
    facts = _facts(f.location, ctx)
    if facts is None:
        return
    kind, triple, bad_header, musl, glibc, bad_dynamic, level = facts
    target = ctx.target
    if kind in ("mach-o", "pe"):
        result.findings.append(
            _finding(dist, "elf-arch", f.path, f"{f.path} is a {kind.upper()} file, not ELF")
        )
        return
    if kind != "elf":
        if tagged:  # an untagged .so may be a linker script
            result.findings.append(
                _finding(dist, "elf-arch", f.path, f"{f.path} is not an ELF file ({bad_header})")
            )
        return
    if triple is None:
        result.findings.append(_finding(dist, "elf-arch", f.path, f"{f.path}: {bad_header}"))
        return
    mine = (interp.elf_class, interp.little_endian, interp.machine)
    if triple != mine:
        result.findings.append(
            _finding(
                dist,
                "elf-arch",
                f.path,
                f"{f.path} is {_describe(*triple)}; the interpreter is {_describe(*mine)}",
            )
        )
        return
    if level and cpu is not None and (have := cpu.get()) is not None:
        finding = cpu_baseline(dist, f, level, have)
        if finding is not None:
            result.findings.append(finding)
    if target.libc != "glibc" or target.libc_version is None:
        return
    if bad_dynamic is not None:
        result.skips.append(
            Skip(NAME, dist.name, f.path, f"dynamic section unreadable: {bad_dynamic}")
        )
        return
    if musl:
        result.findings.append(
            _finding(
                dist,
                "libc-mismatch",
                f.path,
                f"{f.path} is linked against musl libc; the target runs glibc",
            )
        )
        return
    if glibc is not None and glibc > target.libc_version:
        result.findings.append(
            _finding(
                dist,
                "libc-mismatch",
                f.path,
                f"{f.path} needs GLIBC_{_dotted(glibc)}; the target has glibc "
                f"{_dotted(target.libc_version)}",
            )
        )


class _CpuLevel:
    """This CPU's x86-64 level (`isa.cpu_level`), read once, on first use."""

    def __init__(self) -> None:
        self._level: int | None = None
        self._read = False

    def get(self) -> int | None:
        if not self._read:
            self._level, self._read = isa.cpu_level(), True
        return self._level


def cpu_baseline(dist: Distribution, f: RecordedFile, needed: int, cpu: int) -> Finding | None:
    """The finding for a file that needs x86-64 ISA level ``needed`` on a CPU of level ``cpu``
    (`binary.isa`: 1 baseline … 4 for v4), or None when the CPU has it."""
    if needed <= cpu:
        return None
    return Finding(
        NAME,
        "cpu-baseline",
        Severity.ERROR,
        dist.name,
        dist.version,
        dist.installer,
        f.path,
        f"{f.path} needs {isa.level_name(needed)} (its .note.gnu.property); this CPU is "
        f"{isa.level_name(cpu)}: the loader refuses it ('CPU ISA level is lower than "
        "required') or it dies with 'Illegal instruction'",
        f"install a build of {dist.name} {dist.version} made for {isa.level_name(cpu)} (a "
        "baseline x86_64 wheel or package), or run on a CPU with "
        f"{isa.level_name(needed)}",
    )


def _describe(elf_class: int, little_endian: bool, machine: int) -> str:
    endian = "LSB" if little_endian else "MSB"
    return f"ELF{elf_class} {endian} {elf.machine_name(machine, little_endian=little_endian)}"


def run(ctx: Context) -> CheckResult:
    result = CheckResult()
    target = ctx.target
    if target.executable is None:
        result.skips.append(Skip(NAME, None, None, "the prefix holds no Python interpreter"))
        return result
    interp = _Interpreter(target)
    on_linux = target.platform.startswith("linux")
    if interp.header is None and on_linux:
        result.skips.append(Skip(NAME, None, None, interp.reason))
    # the CPU of this machine, read only when a file says it needs a level (most say nothing);
    # an image (--root) runs on machines this one says nothing about
    here = on_linux and target.machine == "x86_64" and target.root is None
    cpu = _CpuLevel() if here else None
    for dist in ctx.inventory.distributions:
        if not ctx.scope.includes(dist):
            continue
        result.findings.extend(_wheel_tags(dist, target))
        if dist.judged_by is not None:
            continue  # its files are checked through the record that owns them
        minimum = abi3_minimum(dist.wheel_tags)
        for f in candidate_shared_objects(dist.files):
            if f.kind is not FileKind.REGULAR:
                continue
            if not is_shared_object(f.location):
                continue
            name = os.path.basename(f.location)
            result.files += 1
            finding = _suffix(dist, f, name, target, minimum)
            if finding is not None:
                result.findings.append(finding)
            if on_linux and interp.header is not None:
                _elf(dist, f, tagged_suffix(name) is not None, interp.header, ctx, result, cpu)
    return result
