"""What a failed import means: its class, the line of the real error worth quoting, a hint.

The exception a user sees is often the least telling line: an extension built for NumPy 1.x
fails with ``ImportError: numpy.core.multiarray failed to import`` after NumPy printed the real
reason (``A module that was compiled using NumPy 1.x cannot be run in NumPy 2.2.6 …``) on
stderr, so the whole chain and the captured output are searched, most specific class first.
"""

from __future__ import annotations

import enum
import re
import signal
from dataclasses import dataclass

from verify_env.checks.imports.run import ImportOutcome

__all__ = ["Diagnosis", "Kind", "diagnose", "raised_line"]


class Kind(str, enum.Enum):
    """The classes of import failure, each with its own hint."""

    NUMPY_ABI = "NumPy 1.x/2.x ABI"
    ARRAY_API = "_ARRAY_API not found"
    PYTHON_ABI = "built for another Python"
    MISSING_LIBRARY = "missing shared object"
    UNDEFINED_SYMBOL = "undefined symbol"
    MISSING_MODULE = "missing module"
    MISSING_NAME = "name missing from a module"
    CRASH = "crash"
    TIMEOUT = "timeout"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One failed import, classified."""

    kind: Kind
    """The class."""
    quote: str
    """The first line of the real error, as printed."""
    subject: str | None = None
    """What the class is about: the library, the symbol, the missing module, the signal."""


_NUMPY_SENTENCE = re.compile(
    r"(A module that was compiled using NumPy 1\.x cannot be run in\s+NumPy \S+ as it may"
    r" crash)"
)
_NUMPY_FAILED = re.compile(r"numpy\.(?:_?core\.)?(?:multiarray|umath) failed to import")
# Cython's check of NumPy's struct sizes, in modules built against the 1.x headers
_NUMPY_SIZE = re.compile(r"numpy\.(?:dtype|ndarray|ufunc) size changed")
_ARRAY_API = re.compile(r"_ARRAY_API not found|_UFUNC_API not found")
_SHARED = re.compile(r"(\S+): cannot open shared object file")
_SYMBOL = re.compile(r"undefined symbol: (\S+)")
_PY_ABI = re.compile(
    r"wrong ELF class|does not define module export function"
    r"|compiled for Python|Python version mismatch"
)
_NO_MODULE = re.compile(r"No module named '([^']+)'")
_NO_NAME = re.compile(r"cannot import name '[^']+' from '([^']+)'")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def raised_line(outcome: ImportOutcome) -> str:
    """``Type: first line`` of the exception that reached the importer."""
    if not outcome.chain:
        return ""
    kind, message = outcome.chain[-1]
    line = _first_line(message)
    return f"{kind}: {line}" if line else kind


def _line_with(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end >= 0 else len(text)].strip()


def _signal_name(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def diagnose(outcome: ImportOutcome) -> Diagnosis:
    """Classify a failed outcome (``error``, ``crash`` or ``timeout``)."""
    if outcome.status == "timeout":
        return Diagnosis(Kind.TIMEOUT, f"still importing after {outcome.seconds:.1f} s")
    messages = "\n".join(m for _, m in outcome.chain)
    raised = raised_line(outcome)
    if outcome.status == "crash":
        name = _signal_name(outcome.returncode)
        return Diagnosis(Kind.CRASH, f"the interpreter died ({name})", name)
    everything = f"{messages}\n{outcome.output}"
    numpy = _NUMPY_SENTENCE.search(everything)
    if numpy:
        return Diagnosis(Kind.NUMPY_ABI, " ".join(numpy.group(1).split()) + ".")
    failed = _NUMPY_FAILED.search(everything) or _NUMPY_SIZE.search(messages)
    array_api = _ARRAY_API.search(everything)
    if array_api and not failed:
        return Diagnosis(Kind.ARRAY_API, _line_with(everything, array_api))
    if failed:
        return Diagnosis(Kind.NUMPY_ABI, _line_with(everything, failed))
    shared = _SHARED.search(messages)
    if shared:
        lib = shared.group(1)
        kind = Kind.PYTHON_ABI if re.match(r"libpython\d", lib) else Kind.MISSING_LIBRARY
        return Diagnosis(kind, _line_with(messages, shared), lib)
    symbol = _SYMBOL.search(messages)
    if symbol:
        name = symbol.group(1)
        kind = Kind.PYTHON_ABI if name.startswith(("Py", "_Py")) else Kind.UNDEFINED_SYMBOL
        return Diagnosis(kind, _line_with(messages, symbol), name)
    py_abi = _PY_ABI.search(messages)
    if py_abi:
        return Diagnosis(Kind.PYTHON_ABI, _line_with(messages, py_abi))
    # the raised error or what it wraps (pandas: "Unable to import required dependency
    # dateutil", raised from the ModuleNotFoundError)
    for exc_type, message in reversed(outcome.chain):
        missing = _NO_MODULE.search(message) if exc_type == "ModuleNotFoundError" else None
        if missing:
            return Diagnosis(Kind.MISSING_MODULE, raised, missing.group(1))
    no_name = _NO_NAME.search(outcome.chain[-1][1]) if outcome.chain else None
    if no_name and outcome.chain[-1][0] == "ImportError":  # e.g. numpy 2 dropped numpy.Inf
        return Diagnosis(Kind.MISSING_NAME, raised, no_name.group(1))
    return Diagnosis(Kind.ERROR, raised or "failed without an exception message")
