"""The opt-in numeric probe (``--blas-probe``): does the provider really compute?

A subprocess of the target interpreter (``-I -S -B``: no site, no user paths, no bytecode
written) dlopens the provider with ctypes and calls ddot, dgemm and dgesv on tiny inputs, with
the integer width and the symbol spelling its consumer uses (``scipy_dgemm_64_`` with 64-bit
integers for numpy 2's OpenBLAS). Only the provider's own code runs, under a timeout; a crash,
a hang or a wrong number is the finding, because the consumer would get the same.

The provider is loaded as its consumer loads it (issue 16 §4): the libraries it needs, as the
consumer's search path resolved them (scipy's vendored OpenBLAS needs the vendored libgfortran
its consumer's RUNPATH finds in ``scipy.libs``), are opened first by path, dependencies before
dependents, so the provider's DT_NEEDED names match them by SONAME as in the consumer's process.
A routine is called only under the exact name the consumer imports: the known prefix (``scipy_``)
and suffix (``_``, ``_64_``, ``64_``, ``_64``) around exactly that routine; ``scipy_dgesvd_`` is
another routine, never ``dgesv``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Probe", "naming", "run_probe"]

# Runs inside the target's interpreter: Python 3.8+, standard library only.
_SCRIPT = r"""
import ctypes, json, sys
a = json.loads(sys.argv[1])
for dep in a["preload"]:
    ctypes.CDLL(dep)
lib = ctypes.CDLL(a["path"])
I = ctypes.c_int64 if a["ilp64"] else ctypes.c_int32
D = ctypes.c_double
def fn(base):
    try:
        return getattr(lib, a["prefix"] + base + a["suffix"])
    except AttributeError:
        return None
def r(v):
    # the word after each integer is poison: a provider reading wider integers than the
    # consumer passes sees a huge value instead of a plausible one
    return (I * 2)(v, 0x40000000)
out = {}
f = fn("ddot")
if f:
    f.restype = D
    out["ddot"] = f(r(3), (D * 3)(1, 2, 3), r(1), (D * 3)(4, 5, 6), r(1))
f = fn("dgemm")
if f:
    c = (D * 4)()
    f(b"N", b"N", r(2), r(2), r(2), ctypes.byref(D(1)), (D * 4)(1, 2, 3, 4), r(2),
      (D * 4)(5, 6, 7, 8), r(2), ctypes.byref(D(0)), c, r(2), ctypes.c_size_t(1),
      ctypes.c_size_t(1))
    out["dgemm"] = list(c)
f = fn("dgesv")
if f:
    m, b, piv, info = (D * 4)(2, 1, 1, 3), (D * 2)(3, 5), (I * 2)(), I(-99)
    f(r(2), r(1), m, r(2), piv, b, r(2), ctypes.byref(info))
    out["dgesv"] = [list(b), info.value, list(piv)]
sys.stdout.write(json.dumps(out))
"""

_EXPECTED = {"ddot": 32.0, "dgemm": [23.0, 34.0, 31.0, 46.0], "dgesv": [[0.8, 1.4], 0, [1, 2]]}


@dataclass(frozen=True, slots=True)
class Probe:
    """One provider probed the way one kind of consumer calls it."""

    path: str
    """The provider."""
    prefix: str
    """Symbol prefix (``scipy_`` or empty)."""
    suffix: str
    """Symbol suffix (``_``, ``_64_`` …)."""
    ilp64: bool
    """64-bit integers."""
    preload: tuple[str, ...] = ()
    """The libraries the provider needs, as its consumer's search path finds them, in the
    order to open them (dependencies first)."""


# a Fortran-style name of one of the probed routines (or a sibling the consumer may import
# instead), with exactly the manglings providers use: nothing more around the routine
_MANGLED = re.compile(r"(scipy_|)(ddot|dgemm|dgesv|dgemv|daxpy|dscal)(_64_|64_|_64|_)")


def naming(imports: tuple[str, ...], ilp64: bool) -> tuple[str, str]:
    """(prefix, suffix) of the consumer's Fortran-style names, e.g. ("scipy_", "_64_"), read
    from an import that is exactly one of the routines in a known mangling."""
    for name in sorted(imports):
        m = _MANGLED.fullmatch(name)
        if m is not None:
            return m[1], m[3]
    prefix = "scipy_" if any(n.startswith("scipy_") for n in imports) else ""
    return prefix, "_64_" if ilp64 else "_"


def _close(got: object, want: object) -> bool:
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(_close(g, w) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float):
        return isinstance(got, (int, float)) and abs(got - want) < 1e-9
    if isinstance(want, int):
        return isinstance(got, int) and got == want
    return got == want


_OUTPUT_CAP = 1 << 20


def run_probe(python: str, probe: Probe, env: Mapping[str, str], timeout: float) -> str | None:
    """None when the provider computes right; else what went wrong, as a sentence."""
    args = json.dumps(
        {
            "path": probe.path,
            "prefix": probe.prefix,
            "suffix": probe.suffix,
            "ilp64": probe.ilp64,
            "preload": list(probe.preload),
        }
    )
    child_env = {"PATH": os.defpath, "LC_ALL": "C"}
    if env.get("LD_LIBRARY_PATH"):
        child_env["LD_LIBRARY_PATH"] = env["LD_LIBRARY_PATH"]
    from verify_env import sandbox

    try:
        # own session, deadline for it and its children, capped output (issue 18, §6/§7)
        done = sandbox.run(
            [python, "-I", "-S", "-B", "-c", _SCRIPT, args], timeout, _OUTPUT_CAP, env=child_env
        )
    except OSError as exc:
        return f"the interpreter could not run: {exc}"
    if done.timed_out:
        return f"did not finish within {timeout:.0f} s"
    if done.overflowed:
        return f"printed more than {_OUTPUT_CAP} bytes"
    stdout = done.stdout.decode("utf-8", "replace")
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode is not None
    if done.returncode < 0:
        return f"crashed (signal {-done.returncode})"
    if done.returncode != 0:
        return f"failed: {(stderr.strip().splitlines() or ['no output'])[-1]}"
    try:
        got = json.loads(stdout)
    except ValueError:
        return f"printed something unexpected: {stdout[:80]!r}"
    if not got:
        return "exports none of ddot, dgemm, dgesv under the consumer's names"
    wrong = [
        f"{k} gave {got[k]!r}, expected {v!r}"
        for k, v in _EXPECTED.items()
        if k in got and not _close(got[k], v)
    ]
    return "; ".join(wrong) or None


if __name__ == "__main__":  # pragma: no cover - a manual aid: probe.py PROVIDER [ilp64]
    print(
        run_probe(sys.executable, Probe(sys.argv[1], "", "_", len(sys.argv) > 2), os.environ, 30.0)
    )
