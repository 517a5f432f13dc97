"""gcc-built shared libraries and extension modules, packaged as real platform wheels (correct
RECORD) for pip to install: the linkage check's fixtures.

A fake BLAS (`FAKEBLAS_*` sources) implements ddot, dgemm and dgesv for real, so the numeric
probe can run them; its variants lack dgemm_, or are ILP64 (only ``*_64_`` names, or the plain
names with 64-bit integers).
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "FAKEBLAS",
    "FAKEBLAS_ILP64_NAMES",
    "FAKEBLAS_ILP64_SUFFIX",
    "FAKEBLAS_NO_DGEMM",
    "build_extension",
    "build_library",
    "make_platform_wheel",
    "patchelf",
    "python_include",
]

_BLAS_BODY = r"""
#include <stddef.h>
double ddot{S}(const {I} *n, const double *x, const {I} *incx, const double *y,
               const {I} *incy) {{
    double s = 0; {I} i;
    if (*n < 0 || *n > 64) return 0.0;
    for (i = 0; i < *n; i++) s += x[i * *incx] * y[i * *incy];
    return s;
}}
#ifndef NO_DGEMM
void dgemm{S}(const char *ta, const char *tb, const {I} *m, const {I} *n, const {I} *k,
              const double *alpha, const double *a, const {I} *lda, const double *b,
              const {I} *ldb, const double *beta, double *c, const {I} *ldc,
              size_t la, size_t lb) {{
    {I} i, j, l;
    if (*m < 0 || *m > 64 || *n < 0 || *n > 64 || *k < 0 || *k > 64) return;
    for (i = 0; i < *m; i++) for (j = 0; j < *n; j++) {{
        double s = 0;
        for (l = 0; l < *k; l++) s += a[i + l * *lda] * b[l + j * *ldb];
        c[i + j * *ldc] = *alpha * s + *beta * c[i + j * *ldc];
    }}
}}
#endif
void dgesv{S}(const {I} *n, const {I} *nrhs, double *a, const {I} *lda, {I} *ipiv,
              double *b, const {I} *ldb, {I} *info) {{
    /* 2x2 only, Cramer's rule: enough for a probe */
    double det;
    if (*n != 2 || *nrhs != 1) {{ *info = -1; return; }}
    det = a[0] * a[3] - a[2] * a[1];
    if (det == 0) {{ *info = 1; return; }}
    {{ double x0 = (b[0] * a[3] - a[2] * b[1]) / det, x1 = (a[0] * b[1] - b[0] * a[1]) / det;
       b[0] = x0; b[1] = x1; }}
    ipiv[0] = 1; ipiv[1] = 2; *info = 0;
}}
"""

FAKEBLAS = _BLAS_BODY.format(S="_", I="int")
"""A correct LP64 BLAS: ddot_, dgemm_, dgesv_ with 32-bit integers."""
FAKEBLAS_NO_DGEMM = "#define NO_DGEMM 1\n" + FAKEBLAS
"""The same without dgemm_."""
FAKEBLAS_ILP64_SUFFIX = _BLAS_BODY.format(S="_64_", I="long long")
"""An ILP64 BLAS exporting only the suffixed names (ddot_64_ …), as OpenBLAS64_ does."""
FAKEBLAS_ILP64_NAMES = _BLAS_BODY.format(S="_", I="long long")
"""An ILP64 BLAS under the plain names: only a probe can tell it from FAKEBLAS."""

CONSUMER = r"""
#include <Python.h>
double ddot_(const int *, const double *, const int *, const double *, const int *);
void dgemm_(const char *, const char *, const int *, const int *, const int *, const double *,
            const double *, const int *, const double *, const int *, const double *, double *,
            const int *, size_t, size_t);
static PyObject *dot3(PyObject *self, PyObject *args) {
    int n = 3, one = 1; double x[3] = {1, 2, 3}, y[3] = {4, 5, 6};
    (void)self; (void)args;
    return PyFloat_FromDouble(ddot_(&n, x, &one, y, &one));
}
static PyObject *gemm(PyObject *self, PyObject *args) {
    int two = 2; double a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {0}, one = 1, zero = 0;
    (void)self; (void)args;
    dgemm_("N", "N", &two, &two, &two, &one, a, &two, b, &two, &zero, c, &two, 1, 1);
    return PyFloat_FromDouble(c[0]);
}
static PyMethodDef methods[] = {{"dot3", dot3, METH_NOARGS, NULL},
                                {"gemm", gemm, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "MODNAME", NULL, -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_MODNAME(void) { return PyModule_Create(&mod); }
"""
"""An extension module (rename MODNAME) that imports ddot_ and dgemm_."""

PLAIN_EXTENSION = r"""
#include <Python.h>
EXTERN_DECLS
static PyObject *call(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return PyLong_FromLong(CALL_EXPR);
}
static PyMethodDef methods[] = {{"call", call, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "MODNAME", NULL, -1, methods,
                                 NULL, NULL, NULL, NULL};
PyMODINIT_FUNC PyInit_MODNAME(void) { return PyModule_Create(&mod); }
"""
"""An extension module calling one function of another library (set EXTERN_DECLS/CALL_EXPR)."""


def python_include(python: str) -> str:
    """The include dir of an interpreter's headers (``sysconfig.get_paths()["include"]``)."""
    return subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def patchelf(*args: str) -> str:
    """Run the ``patchelf`` of the test extra (installed beside this python) with ``args``;
    its stdout. auditwheel and conda-build edit SONAMEs and RPATHs with it."""
    tool = shutil.which("patchelf", path=str(Path(sys.executable).parent))
    assert tool, "patchelf (the test extra) is not installed beside this python"
    return subprocess.run([tool, *args], capture_output=True, text=True, check=True).stdout


def _gcc(args: Sequence[str]) -> None:
    subprocess.run(["gcc", *args], check=True, capture_output=True)


def build_library(dest: Path, source: str, soname: str, link: Sequence[str] = ()) -> Path:
    """A shared library with DT_SONAME ``soname``, written to ``dest`` (a file path)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = dest.with_name(dest.name + ".c")
    src.write_text(source)
    _gcc(["-shared", "-fPIC", "-O1", "-o", str(dest), str(src), f"-Wl,-soname,{soname}", *link])
    src.unlink()
    return dest


def build_extension(
    dest: Path, source: str, modname: str, include: str, link: Sequence[str] = ()
) -> Path:
    """An extension module ``dest`` (full file name with the ABI suffix) from ``source`` with
    MODNAME replaced; ``link`` adds libraries and -Wl options (RPATH, RUNPATH)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = dest.with_name(modname + ".c")
    src.write_text(source.replace("MODNAME", modname))
    _gcc(["-shared", "-fPIC", "-O1", f"-I{include}", "-o", str(dest), str(src), *link])
    src.unlink()
    return dest


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def platform_tag() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def make_platform_wheel(
    dest: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes | str | Path],
    requires: Sequence[str] = (),
    tag: str = "cp311-cp311",
) -> Path:
    """A ``{tag}-linux_<machine>`` wheel of ``files`` (paths relative to the site dir; a Path
    value is read), with a correct RECORD, for pip to install."""
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    contents: dict[str, bytes] = {}
    for path, data in files.items():
        contents[path] = (
            data.read_bytes()
            if isinstance(data, Path)
            else data.encode()
            if isinstance(data, str)
            else data
        )
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    contents[f"{dist_info}/METADATA"] = ("\n".join(meta) + "\n\n").encode()
    full_tag = f"{tag}-{platform_tag()}"
    contents[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: verify-env-tests\n"
        f"Root-Is-Purelib: false\nTag: {full_tag}\n"
    ).encode()
    record = "".join(f"{p},{_digest(d)},{len(d)}\n" for p, d in contents.items())
    record += f"{dist_info}/RECORD,,\n"
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{dist}-{version}-{full_tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in contents.items():
            info = zipfile.ZipInfo(path)
            info.external_attr = (0o755 if path.endswith(".so") or ".so." in path else 0o644) << 16
            zf.writestr(info, data)
        zf.writestr(f"{dist_info}/RECORD", record)
    return wheel
