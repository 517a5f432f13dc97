"""``numpy-abi``: compiled code built against NumPy 1.x headers while NumPy 2 is installed.

Decided from the binaries, importing nothing. A module that uses NumPy's C API calls
``import_array()`` / ``import_umath()``, which the headers expand into an import of the
multiarray module by name, so the name lands in the binary's ``.rodata``:

- NumPy 1.x headers (1.16-1.26 ``__multiarray_api.h``, ``__ufunc_api.h``) import
  ``numpy.core._multiarray_umath`` only;
- NumPy 2.x headers import ``numpy._core._multiarray_umath`` and fall back to
  ``numpy.core._multiarray_umath`` when that is missing (so they run on 1.x too).

So "the 1.x name without the 2.x one" means "built against 1.x"; such a module fails under
NumPy 2 with "A module that was compiled using NumPy 1.x cannot be run in NumPy 2" or
``_ARRAY_API not found``. Checked on real wheels: of scipy 1.11.1's 121 shared objects, 94
carry the 1.x name and none the 2.x one; of scipy 1.13.1's 121, 98 carry both. pybind11's
run-time lookup (``numpy.core.multiarray``) is not the C-API import and is not matched.

A Cython module that ``cimport``s numpy also checks, at import and before anything else, that
``numpy.dtype``'s C struct has the size its headers had: NumPy 2 shrank ``PyArray_Descr`` (96 to
88 bytes), so a module built against 1.x headers fails first with "numpy.dtype size changed, may
indicate binary incompatibility. Expected 96 from C header, got 88 from PyObject" (pandas 1.5.3
under NumPy 2). Its binary carries Cython's format string for that check ("… size changed, may
indicate binary incompatibility …") and the type name ``dtype``; the message then names that
shape too (whether the check errors or is told to ignore is an int in the code, not a string,
so the message says "or").

Only ``.rodata`` is read (`elf_sections`), and the verdict per file is kept in the stat cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from packaging.requirements import InvalidRequirement, Requirement

from verify_env.binary.elf_sections import read_only_data
from verify_env.binary.extensions import candidate_shared_objects, is_shared_object, tagged_suffix
from verify_env.cache.statcache import stat_key
from verify_env.checks.interface import CheckResult, Context
from verify_env.files import open_regular
from verify_env.finding import Finding, Severity, Skip
from verify_env.inventory import Distribution, FileKind
from verify_env.inventory.model import canonical_name
from verify_env.repair.hints import install_command

__all__ = ["BUILT_FOR_1X", "BUILT_FOR_2X", "built_against", "findings"]

BUILT_FOR_1X = b"numpy.core._multiarray_umath"
BUILT_FOR_2X = b"numpy._core._multiarray_umath"
CYTHON_SIZE_CHECK = b"size changed, may indicate binary incompatibility"
DTYPE_NAME = b"\x00dtype\x00"
CHECKS_DTYPE_SIZE = 3
"""`built_against`'s answer for a 1.x build that also checks ``numpy.dtype``'s size."""
_CHUNK = 1 << 22


def _contains(fd: int, spans: list[tuple[int, int]], needle: bytes) -> bool:
    overlap = len(needle) - 1
    for off, length in spans:
        pos, end = off, off + length
        while pos < end:
            data = os.pread(fd, min(_CHUNK + overlap, end - pos), pos)
            if not data:
                break
            if needle in data:
                return True
            pos += _CHUNK
    return False


_UNSECTIONED = 64 << 20
"""Bytes scanned of a file whose read-only data cannot be located."""


def built_against(location: str) -> int | None:
    """1 or 2: the NumPy major whose C-API headers the file was built with; 0 when it does not
    use the C API; `CHECKS_DTYPE_SIZE` for a 1.x build that checks ``numpy.dtype``'s size
    (Cython); None when it cannot be read."""
    opened = open_regular(location)
    if opened is None:
        return None
    fd, st = opened
    try:
        # no .rodata to go by (not ELF, or no section table): the head only, never a
        # whole file the environment may have made huge (issue 18, §8)
        spans = read_only_data(fd, st.st_size) or [(0, min(st.st_size, _UNSECTIONED))]
        if not _contains(fd, spans, BUILT_FOR_1X):
            return 0
        if _contains(fd, spans, BUILT_FOR_2X):
            return 2
        if _contains(fd, spans, CYTHON_SIZE_CHECK) and _contains(fd, spans, DTYPE_NAME):
            return CHECKS_DTYPE_SIZE
        return 1
    except OSError:
        return None
    finally:
        os.close(fd)


def _cached(location: str, ctx: Context) -> int | None:
    try:
        key = stat_key(os.stat(location))
    except OSError:
        return None
    known = ctx.cache.fact("numpy-abi/2", location, key)  # /2: CHECKS_DTYPE_SIZE added
    if isinstance(known, int):
        return known
    verdict = built_against(location)
    if verdict is not None:
        ctx.cache.remember("numpy-abi/2", location, key, verdict)
    return verdict


def _installed_numpy(dists: dict[str, Distribution]) -> tuple[Distribution, int] | None:
    numpy = dists.get("numpy")
    if numpy is None:
        return None
    try:
        return numpy, int(numpy.version.split(".")[0])
    except ValueError:
        return None


def _numpy_requirement(dist: Distribution, installed: str, markers: dict[str, str]) -> str:
    """What to quote as the numpy requirement at fault (issue 16 §5: the message quoted the
    first numpy line whatever its marker, e.g. one for another Python).

    The distribution's own numpy requirements whose markers hold for the target (no extra):
    one the installed numpy does not satisfy is quoted as it stands; when all of them allow
    it, the metadata is wrong about the binaries and is quoted as what it allows."""
    from packaging.version import InvalidVersion, Version

    applying: list[Requirement] = []
    for line in dist.requires:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonical_name(req.name) != "numpy" or not req.specifier:
            continue
        try:
            if req.marker is not None and not req.marker.evaluate({**markers, "extra": ""}):
                continue
        except Exception:  # an undefined marker variable: pip treats the line as not applying
            continue
        applying.append(req)
    try:
        version = Version(installed)
    except InvalidVersion:
        version = None
    for req in applying:
        if version is not None and not req.specifier.contains(version, prereleases=True):
            return f"numpy{req.specifier} (its requirement {str(req)!r})"
    if applying:
        return (
            f"numpy<2 (its metadata's {str(applying[0])!r} allows numpy {installed}, "
            "but its binaries do not)"
        )
    return "numpy<2"


def _hint(dist: Distribution, python: str | None) -> str:
    """Upgrade the dependent to a build for NumPy 2, or hold NumPy below 2: either mends the
    mismatch; a reinstall of the same wheel would not. Through the target's interpreter."""
    if dist.installer == "conda":
        return (
            f'conda install "{dist.name}" "numpy>=2" (a build for NumPy 2), or conda install '
            f'"numpy<2"'
        )
    tool = install_command("uv" if dist.installer == "uv" else "pip", python)
    return f'{tool} --upgrade "{dist.name}" (a release built for NumPy 2), or {tool} "numpy<2"'


def _scanned(
    dist: Distribution,
    numpy_dirs: tuple[str, ...],
    ctx: Context,
    result: CheckResult,
    sized: list[str],
) -> Iterator[str]:
    """Paths of the distribution's shared objects built against NumPy 1.x (those that check
    ``numpy.dtype``'s size first, into ``sized``)."""
    for f in candidate_shared_objects(dist.files):
        loc = f.location
        if (
            f.kind is not FileKind.REGULAR
            or not is_shared_object(loc)
            or loc.startswith(numpy_dirs)
        ):
            continue
        verdict = _cached(loc, ctx)
        if verdict == CHECKS_DTYPE_SIZE:
            sized.append(f.path)
        if verdict in (1, CHECKS_DTYPE_SIZE):
            yield f.path
        elif verdict is None and os.path.lexists(loc):
            result.skips.append(
                Skip("requirements", dist.name, f.path, "could not be read for NumPy C-API markers")
            )


def findings(
    ctx: Context, dists: dict[str, Distribution], result: CheckResult
) -> Iterator[Finding]:
    """One ``numpy-abi`` finding per distribution with binaries built for NumPy 1.x, when the
    NumPy Python would import is 2 or later."""
    installed = _installed_numpy(dists)
    if installed is None or installed[1] < 2:
        return
    numpy, _major = installed
    numpy_dirs = tuple(os.path.join(site, "numpy") + os.sep for site in ctx.target.site_dirs)
    for dist in ctx.inventory.distributions:
        if dist.judged_by is not None or dist.key == "numpy" or not ctx.scope.includes(dist):
            continue
        sized: list[str] = []
        old = list(_scanned(dist, numpy_dirs, ctx, result, sized))
        if not old:
            continue
        old.sort(key=lambda p: (tagged_suffix(os.path.basename(p)) is None, p))
        shown = ", ".join(os.path.basename(p) for p in old[:3])
        more = f" and {len(old) - 3} more" if len(old) > 3 else ""
        yield Finding(
            "requirements",
            "numpy-abi",
            Severity.ERROR,
            dist.name,
            dist.version,
            dist.installer,
            old[0],
            f"{dist.name} {dist.version} was built against NumPy 1.x ({len(old)} compiled "
            f"file{'s' if len(old) != 1 else ''}: {shown}{more}) and needs "
            f"{_numpy_requirement(dist, numpy.version, dict(ctx.target.markers))}, but numpy "
            f"{numpy.version} is installed: importing "
            "them fails with 'A module that was compiled using NumPy 1.x cannot be run in "
            "NumPy 2' / '_ARRAY_API not found'"
            + (
                f", or, as {len(sized)} of them check numpy.dtype's size first (Cython), with "
                "'numpy.dtype size changed, may indicate binary incompatibility. Expected 96 "
                "from C header, got 88 from PyObject'"
                if sized
                else ""
            ),
            _hint(dist, ctx.target.command_python),
        )
