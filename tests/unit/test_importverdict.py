"""Classification of failed imports, on the messages real interpreters and loaders print."""

from __future__ import annotations

import pytest

from verify_env.checks.imports.run import ImportOutcome
from verify_env.checks.imports.verdict import Kind, diagnose

NUMPY_STDERR = """
A module that was compiled using NumPy 1.x cannot be run in
NumPy 2.2.6 as it may crash. To support both 1.x and 2.x
versions of NumPy, modules must be compiled with NumPy 2.0.

Traceback (most recent call last):  File "<string>", line 1, in <module>
AttributeError: _ARRAY_API not found
"""


def _error(kind: str, message: str, output: str = "") -> ImportOutcome:
    return ImportOutcome("m", "error", 0.1, ((kind, message),), None, output)


@pytest.mark.parametrize(
    ("outcome", "kind", "quote", "subject"),
    [
        (
            _error("ImportError", "numpy.core.multiarray failed to import", NUMPY_STDERR),
            Kind.NUMPY_ABI,
            "A module that was compiled using NumPy 1.x cannot be run in NumPy 2.2.6 "
            "as it may crash.",
            None,
        ),
        (
            _error(
                "ValueError",
                "numpy.dtype size changed, may indicate binary incompatibility. "
                "Expected 96 from C header, got 88 from PyObject",
            ),
            Kind.NUMPY_ABI,
            "numpy.dtype size changed, may indicate binary incompatibility. "
            "Expected 96 from C header, got 88 from PyObject",
            None,
        ),
        (
            _error("ImportError", "_ARRAY_API not found"),
            Kind.ARRAY_API,
            "_ARRAY_API not found",
            None,
        ),
        (
            _error(
                "ImportError",
                "libopenblas.so.0: cannot open shared object file: No such file or directory",
            ),
            Kind.MISSING_LIBRARY,
            "libopenblas.so.0: cannot open shared object file: No such file or directory",
            "libopenblas.so.0",
        ),
        (
            _error(
                "ImportError",
                "libpython3.12.so.1.0: cannot open shared object file: No such file or directory",
            ),
            Kind.PYTHON_ABI,
            "libpython3.12.so.1.0: cannot open shared object file: No such file or directory",
            "libpython3.12.so.1.0",
        ),
        (
            _error("ImportError", "/x/_foo.so: undefined symbol: cblas_dgemm"),
            Kind.UNDEFINED_SYMBOL,
            "/x/_foo.so: undefined symbol: cblas_dgemm",
            "cblas_dgemm",
        ),
        (
            _error("ImportError", "/x/_foo.so: undefined symbol: _PyThreadState_UncheckedGet"),
            Kind.PYTHON_ABI,
            "/x/_foo.so: undefined symbol: _PyThreadState_UncheckedGet",
            "_PyThreadState_UncheckedGet",
        ),
        (
            _error(
                "ImportError", "dynamic module does not define module export function (PyInit__x)"
            ),
            Kind.PYTHON_ABI,
            "dynamic module does not define module export function (PyInit__x)",
            None,
        ),
        (
            _error("ModuleNotFoundError", "No module named 'yaml'"),
            Kind.MISSING_MODULE,
            "ModuleNotFoundError: No module named 'yaml'",
            "yaml",
        ),
        (
            ImportOutcome(
                "m",
                "error",
                0.1,
                (
                    ("ModuleNotFoundError", "No module named 'dateutil'"),
                    (
                        "ImportError",
                        "Unable to import required dependency dateutil. Please see the "
                        "traceback for details.",
                    ),
                ),
            ),
            Kind.MISSING_MODULE,
            "ImportError: Unable to import required dependency dateutil. Please "
            "see the traceback for details.",
            "dateutil",
        ),
        (
            _error("ImportError", "cannot import name 'Inf' from 'numpy' (/x/numpy/__init__.py)"),
            Kind.MISSING_NAME,
            "ImportError: cannot import name 'Inf' from 'numpy' (/x/numpy/__init__.py)",
            "numpy",
        ),
        (
            _error("SyntaxError", "invalid syntax (core.py, line 3)\nmore"),
            Kind.ERROR,
            "SyntaxError: invalid syntax (core.py, line 3)",
            None,
        ),
        (
            ImportOutcome("m", "crash", 0.2, returncode=-7),
            Kind.CRASH,
            "the interpreter died (SIGBUS)",
            "SIGBUS",
        ),
        (
            ImportOutcome("m", "crash", 0.2, returncode=3),
            Kind.CRASH,
            "the interpreter died (exit status 3)",
            "exit status 3",
        ),
        (ImportOutcome("m", "timeout", 2.04), Kind.TIMEOUT, "still importing after 2.0 s", None),
    ],
    ids=[
        "numpy-sentence",
        "dtype-size",
        "array-api",
        "missing-lib",
        "libpython",
        "symbol",
        "py-symbol",
        "no-init",
        "no-module",
        "wrapped-no-module",
        "no-name",
        "other",
        "sigbus",
        "exit",
        "timeout",
    ],
)
def test_diagnose(outcome: ImportOutcome, kind: Kind, quote: str, subject: str | None) -> None:
    d = diagnose(outcome)
    assert (d.kind, d.quote, d.subject) == (kind, quote, subject)
