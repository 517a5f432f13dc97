"""The one shape every check reports in, and the codes it may use.

`CODES` is the single table of finding codes (DESIGN.md: add, never rename): which check owns
each, how bad it is by default, and what it means. Severity follows harm: what breaks an import
is an error; what is suspicious but may be intended is a warning. A few codes are judged per
case (an unrecorded extension the target could load is an error, one it could not is only a
warning); those carry the harsher default here and the check lowers it where it must.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["CODES", "Code", "Finding", "Severity", "Skip"]


class Severity(str, enum.Enum):
    """How bad a finding is. Errors set exit status 1; warnings only under `--strict`."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Code:
    """One finding code of the contract, with everything a user needs to act on it.

    This table is the one place a code is explained: ``verify-env --explain CODE``, the SARIF
    rules (``--format sarif``) and the codes table of the README and docs/ (written by
    ``docs/codes_table.py``, kept equal by a test) all read it.
    """

    name: str
    """The code as it appears in reports, e.g. ``hash-mismatch``."""
    check: str
    """The check that reports it."""
    severity: Severity
    """Default severity; see the module docstring for the codes judged per case."""
    meaning: str
    """One line: what was found (SARIF ``shortDescription``)."""
    why: str = ""
    """Why it matters: what breaks, and how it usually comes about."""
    fix: str = ""
    """How to repair it (the finding's own hint names the exact command)."""
    severity_note: str = ""
    """When it is judged other than `severity` (shown beside the severity in the docs)."""
    detail: str = ""
    """More on how it is judged (docs table and ``--explain``)."""


_E, _W = Severity.ERROR, Severity.WARNING
_REINSTALL = (
    "Reinstall the distribution with the installer that owns it, as the hint says: "
    "`pip install --force-reinstall --no-deps NAME==VERSION` (pip, uv), "
    "`conda install --force-reinstall NAME` (conda), `apt-get install --reinstall "
    "PACKAGE` (dpkg). `pipv repair` does it for pip's damaged distributions."
)
CODES: dict[str, Code] = {
    c.name: c
    for c in (
        Code(
            "tag-mismatch",
            "tags",
            _E,
            "no WHEEL tag of the distribution is supported by the target",
            why="The wheel was built for another Python, ABI or platform (a cp312 wheel "
            "unpacked into 3.11, an aarch64 wheel on x86_64, a copied venv); its "
            "compiled modules will not import.",
            fix="Reinstall it in the target so the installer picks a matching wheel: "
            "`pip install --force-reinstall --no-deps NAME==VERSION` run by the target's "
            "own interpreter.",
        ),
        Code(
            "extension-suffix",
            "tags",
            _E,
            "an extension module's filename ABI tag cannot load in the target",
            detail="cpython-312 in 3.11, abi3 below its minimum, `.pyd` on Linux",
            why="Python only imports extension modules whose suffix is in its "
            "EXTENSION_SUFFIXES; a module for another Python is skipped, so the import "
            "fails with ModuleNotFoundError or picks up a stale copy.",
            fix="Reinstall the owning distribution with the target's interpreter; remove "
            "stray copies from an old Python that no installer owns.",
        ),
        Code(
            "elf-arch",
            "tags",
            _E,
            "ELF class/machine differs from the interpreter's, or not an ELF file on Linux",
            why="The loader refuses a shared object for another machine or word size "
            "(`wrong ELF class`, `cannot open shared object file: Exec format error`).",
            fix="Reinstall the distribution from a wheel for this platform (check `pip "
            "debug --verbose` for the tags the target supports).",
        ),
        Code(
            "libc-mismatch",
            "tags",
            _E,
            "musl vs glibc, or needs a newer glibc",
            detail="from the wheel tag (manylinux_2_N, musllinux) and the GLIBC_2.N symbol "
            "versions the ELF files need",
            why="A musllinux wheel does not load on glibc and the reverse; a file that needs "
            "a newer glibc fails at import with `version GLIBC_2.N not found`.",
            fix="Reinstall from a wheel whose manylinux/musllinux tag the target supports, or "
            "run on a system with a new enough glibc.",
        ),
        Code(
            "cpu-baseline",
            "tags",
            _E,
            "a binary needs a CPU feature level (x86-64-v2/v3/v4) this machine lacks",
            detail="the x86 ISA level a file's `.note.gnu.property` says it needs "
            "(GNU_PROPERTY_X86_ISA_1_NEEDED, written by `-march=x86-64-vN -mneeded`) against "
            "the level of this CPU's flags (/proc/cpuinfo)",
            why="glibc refuses to load it (`CPU ISA level is lower than required`), or it "
            "dies with `Illegal instruction` at the first newer instruction. NumPy checks "
            "its own baseline at import instead: `NumPy was built with baseline "
            "optimizations (X86_V2) but your machine doesn't support (X86_V2)` is the same "
            "cause, told by the package.",
            fix="Install a build made for this CPU level (a wheel of the baseline x86_64 "
            "tag, a conda package for this microarchitecture) or run on a machine with "
            "that level; reinstalling the same build does not help.",
        ),
        Code(
            "hash-mismatch",
            "record",
            _E,
            "file bytes differ from what its installer recorded",
            severity_note="warning for certificates appended to a trust store (.pem, .crt, "
            ".cer) whose recorded bytes are unchanged: admins add local CAs on purpose",
            why="A file that changed after install is corrupt (an interrupted download or "
            "copy, a bad disk, a layer merge gone wrong) or was edited by hand; a "
            "corrupt extension module crashes or fails to import.",
            fix=_REINSTALL,
        ),
        Code(
            "size-mismatch",
            "record",
            _E,
            "file size differs from what its installer recorded",
            severity_note="warning for certificates appended to a trust store (.pem, .crt, "
            ".cer) whose recorded bytes are unchanged",
            why="A truncated file is the classic mark of an install killed midway (Ctrl-C, "
            "the OOM killer, a full disk); its import fails or crashes.",
            fix=_REINSTALL,
        ),
        Code(
            "missing-file",
            "record",
            _E,
            "a file its installer recorded is gone",
            why="Something deleted part of the distribution (a cleanup script, an image "
            "slimming step, an interrupted uninstall); importing what needs it fails.",
            fix=_REINSTALL,
        ),
        Code(
            "record-missing",
            "record",
            _E,
            "the installer's record of a distribution is absent",
            severity_note="warning when no installer claims the distribution",
            why="Without a RECORD nothing can be verified and pip cannot uninstall it "
            "cleanly; usually an interrupted install or a tool that copied files in.",
            fix=_REINSTALL,
        ),
        Code(
            "record-malformed",
            "record",
            _E,
            "the installer's record cannot be read as written",
            severity_note="warning for a path outside the environment, never opened",
            why="A RECORD or conda-meta file that does not parse means the metadata was "
            "truncated or hand-edited; the files it lists cannot be checked. One bad row is "
            "one finding and the rest is still checked; a RECORD longer than any installer "
            "writes (over 100,000 rows or 64 MiB) or METADATA headers over 1 MiB are cut "
            "there and reported, never read whole.",
            fix=_REINSTALL,
        ),
        Code(
            "path-escape",
            "record",
            _E,
            "a recorded path resolves through a symlink to a place outside the environment",
            detail="a symlinked directory or file below the distribution's roots whose real "
            "path lies outside them; the file is never opened",
            why="Installers do not link recorded files out of the environment; a link "
            "that does (`site-packages/pkg -> /etc`) makes the recorded name read another "
            "file — a tamper, or a copy of an environment that kept links to its origin. "
            "verify-env never reads through it, so those files are not verified.",
            fix="Remove the symlink and reinstall the distribution, or recreate the "
            "environment without links out of it.",
        ),
        Code(
            "bytecode-mismatch",
            "record",
            _E,
            "a compiled file Python loads in place of a recorded source is not compiled from it",
            detail="`__pycache__/NAME.<cache tag>[.opt-N].pyc` of a recorded `.py`, with the "
            "target's magic number, whose header makes Python load it (the source's mtime and "
            "size, or its hash) but whose code is not what the source compiles to; or an "
            "unchecked hash-based file whose hash is not the source's. Judged by default for "
            "each distribution's entry modules (top-level modules, top-level packages' "
            "`__init__`: what `import NAME` runs first), under --strict for every compiled "
            "file (compiling all 165 MB of the torch venv's sources takes ~35 s of CPU, "
            "remembered by the stat cache). A stale file (its header names another state of "
            "the source) is harmless: Python compiles the source instead",
            why="Python runs the compiled file, not the source, and checks only its header: "
            "a `.pyc` compiled from other code and stamped with the untouched `.py`'s mtime "
            "and size runs on import while the source hashes as recorded. Installers, "
            "`compileall` and Python itself always compile from the source, so a mismatch "
            "is a tamper or a corruption.",
            fix="Delete the file (the hint names it; Python compiles the source again, or "
            "`python -m compileall -f FILE` rewrites it), then find out what wrote it.",
        ),
        Code(
            "unrecorded-extension",
            "record",
            _E,
            "a compiled module inside a distribution's package that no installer owns",
            severity_note="warning when the target could not load it anyway",
            why="A stale extension module left by an older version can shadow the "
            "recorded one and import code that no longer matches. (What an editable install "
            "builds in place in its working copy is that distribution's, not unrecorded.)",
            fix="Delete the file (the message names it), then reinstall the distribution "
            "as the hint says.",
        ),
        Code(
            "duplicate-distribution",
            "record",
            _E,
            "two metadata dirs for one project in one site dir",
            detail="with different versions or owners",
            why="Two installs of one project overlap: importlib.metadata answers with one "
            "of them at random and the files are a mix of both versions.",
            fix="Remove the stale metadata dir the message names, then reinstall the version "
            "you want.",
        ),
        Code(
            "clobbered-file",
            "record",
            _E,
            "a file recorded by a conda package was rewritten by another installer",
            detail="or removed",
            why="pip installing over conda's packages leaves conda's record wrong: conda "
            "will later remove or overwrite pip's files and the environment drifts.",
            fix="Uninstall the pip copy and reinstall the conda package, as the hint says "
            "(`pip uninstall NAME && conda install --force-reinstall NAME`).",
        ),
        Code(
            "leftover-directory",
            "record",
            _W,
            "a '~'-prefixed directory pip left behind after an interrupted uninstall/upgrade",
            detail="`~umpy` beside `numpy`",
            why="pip stashes the old version under a `~` name while upgrading; if it is "
            "killed the stash stays, wastes space and hints the upgrade may be "
            "incomplete.",
            fix="Delete the `~` directory, then reinstall the distribution as the hint says.",
        ),
        Code(
            "file-conflict",
            "record",
            _E,
            "one path recorded by two installed distributions",
            detail="files only (directories, PEP 420 namespace dirs and `__pycache__` are not "
            "rows); not reported: two records of one project (`duplicate-distribution`), "
            "conda's and the OS's packages (their installers arbitrate their files; pip over "
            "conda is `clobbered-file`), identical `__init__.py` files only (a namespace "
            "package declared the old way, `pkgutil`/`pkg_resources` style); the conda "
            "plugin reports it before linking, for a package about to be linked over a file "
            "another installed package (conda or pip) owns, and in fail mode refuses it",
            why="pip installs `opencv-python-headless` over `opencv-python` without a word: "
            "the second writes over the first's files and both records claim them. Nothing "
            "fails until either is uninstalled and takes the shared files with it (a broken "
            "`cv2`). A shared file is hashed once; when it holds the bytes one record names, "
            "the other record's mismatch is the conflict, not damage, and is not listed.",
            fix="Uninstall both, then install the one you want, with the target's "
            "interpreter as the hint says (`/venv/bin/python -m pip uninstall -y A B && "
            "/venv/bin/python -m pip install A==VERSION`). A force-reinstall of either only "
            "moves the conflict to the other.",
        ),
        Code(
            "permission-denied",
            "record",
            _E,
            "the running user cannot read a file the environment's installer recorded",
            detail="a recorded file, or a directory on its way, that `open()` refuses "
            "(EACCES/EPERM) to the user running verify-env",
            why="A root install under `umask 077` leaves files only root can read: another "
            "user's `import numpy` fails with PermissionError, or finds an unreadable "
            "package directory and imports an empty namespace package "
            "(`module 'numpy' has no attribute …`). Its bytes cannot be verified either.",
            fix="Make the environment readable to the users who run it, as its owner: "
            "`chmod -R a+rX PREFIX` (the hint names the prefix).",
        ),
        Code(
            "owner-only-permissions",
            "record",
            _W,
            "run as root: recorded files others cannot read in an environment others use",
            detail="verify-env runs as root and the environment's prefix and site dir are "
            "readable and searchable by others (so others are meant to use it), but these "
            "recorded files, or directories on their way, are not",
            why="root reads everything, so a root run sees a whole environment while every "
            "other user's import fails (PermissionError, or an empty namespace package): "
            "the umask-077 install that a Dockerfile's `USER app` then runs.",
            fix="`chmod -R a+rX PREFIX` (the hint names the prefix), or install under `umask 022`.",
        ),
        Code(
            "missing-library",
            "linkage",
            _E,
            "the loader cannot find a library a compiled file needs (DT_NEEDED)",
            severity_note="warning when only an optionally imported module needs it; info "
            "for a library no extension module reaches",
            detail="resolved in ld.so's order (RPATH, LD_LIBRARY_PATH, RUNPATH, ld.so.cache, "
            "default dirs) in the process that imports the module, confirmed by the "
            "target's own ld.so",
            why="The import fails with `cannot open shared object file` (a deleted "
            "libopenblas, a vendored .libs dir removed, a system package missing).",
            fix="Reinstall the distribution that should provide the library (the hint names "
            "it), or install the system package that ships it.",
        ),
        Code(
            "undefined-symbol",
            "linkage",
            _E,
            "a symbol a compiled file needs is defined by none of the libraries it gets",
            detail="every strong reference of the closure of each extension module, against "
            "the interpreter's objects, the closure and what the packages it requires loaded "
            "first; weak references and libraries nothing loads at import are not judged",
            why="CPython loads extension modules with RTLD_NOW, so the import fails with "
            "`undefined symbol: …`: the module was built against another version of a "
            "library than the one it gets (a torch plugin built for another torch).",
            fix="Install a build of the distribution made for the libraries it gets, or the "
            "versions of those libraries it was built against; reinstalling the same build "
            "does not help.",
        ),
        Code(
            "blas-missing",
            "linkage",
            _E,
            "a BLAS/LAPACK consumer finds no provider",
            why="numpy/scipy's linear algebra cannot load: the import fails.",
            fix="Reinstall the consumer (its wheel vendors OpenBLAS) or install the system "
            "BLAS/LAPACK it links against (e.g. `apt-get install libopenblas0`).",
        ),
        Code(
            "blas-symbols",
            "linkage",
            _E,
            "the BLAS/LAPACK provider lacks symbols its consumer imports",
            why="A reference BLAS or a trimmed build swapped in through alternatives or "
            "LD_LIBRARY_PATH lacks routines: imports or calls fail with undefined "
            "symbols.",
            fix="Point the consumer at a complete provider (`update-alternatives --config "
            "libblas.so.3-x86_64-linux-gnu`, unset LD_LIBRARY_PATH) or reinstall it.",
        ),
        Code(
            "blas-interface",
            "linkage",
            _E,
            "LP64 consumer against an ILP64 BLAS/LAPACK provider, or the reverse",
            detail="by symbol suffix, soname or OpenBLAS's build string",
            why="32- vs 64-bit integer arguments: results are silently wrong or the "
            "process crashes on large arrays.",
            fix="Use a provider with the consumer's integer width (the hint names it), or "
            "reinstall the consumer built for the provider you have.",
        ),
        Code(
            "blas-probe",
            "linkage",
            _E,
            "a BLAS/LAPACK provider crashed or computed wrong in a numeric probe",
            detail="with `--blas-probe`: ddot/dgemm/dgesv on tiny inputs, in a subprocess of the "
            "target with a timeout, the provider loaded as its consumer loads it (what it "
            "needs opened first from the consumer's search path) and called under the exact "
            "names the consumer imports",
            why="A provider for the wrong CPU, a broken build or a mismatched interface "
            "gives wrong numbers or SIGILL/SIGSEGV in real work.",
            fix="Reinstall or replace the provider the message names.",
        ),
        Code(
            "symbol-version",
            "linkage",
            _E,
            "a versioned symbol (GLIBCXX_3.4.N, CXXABI_1.3.N, GCC_N…) the library the loader "
            "picks does not define",
            detail="every DT_VERNEED entry of each closure against the DT_VERDEF of the file "
            "the loader maps for that name (RPATH/RUNPATH, LD_LIBRARY_PATH, ld.so.cache, "
            "what the process holds already); glibc's GLIBC_2.N are `libc-mismatch`",
            why="The import fails with `version 'GLIBCXX_3.4.32' not found`: the file was "
            "built with a newer toolchain than the library the process gets (an older "
            "libstdc++ in a conda prefix, an RPATH or LD_LIBRARY_PATH first in the search).",
            fix="Make the loader pick a library that defines the version: upgrade that "
            "library (`conda install libstdcxx-ng>=…`, the system's `libstdc++6`) or take the "
            "older copy out of the search path; or install a build of the distribution "
            "made for the older library. A reinstall of the same build does not help.",
        ),
        Code(
            "openmp-runtimes",
            "linkage",
            _E,
            "two KMP OpenMP runtimes (Intel libiomp5, LLVM libomp) reachable in one process",
            detail="runtimes known by their exports (`omp_get_num_threads` with "
            "`__kmpc_fork_call`), not their names; one process is a distribution's modules "
            "and those of the distributions it requires; GNU libgomp copies, and libgomp "
            "beside one KMP runtime, coexist and are not reported",
            why="A KMP runtime registers itself in the process and aborts with `OMP: Error "
            "#15: Initializing libiomp5.so, but found libiomp5.so already initialized` when "
            "another copy did; libomp beside libiomp5 crashes or deadlocks on Linux "
            "(threadpoolctl's `multiple_openmp.md`).",
            fix="Keep one runtime in the process: install builds of the distributions that "
            "share one OpenMP runtime (from one index or channel, e.g. `intel-openmp` as a "
            "dependency instead of a vendored copy), or remove one of them; "
            "`KMP_DUPLICATE_LIB_OK=TRUE` only hides it.",
        ),
        Code(
            "requirement-missing",
            "requirements",
            _E,
            "a Requires-Dist of an installed distribution is not installed",
            detail="markers evaluated with the target's values and the extras that "
            "installed dependents request",
            severity_note="warning when the dependent is a distro or conda package whose "
            "package manager chose its dependencies",
            why="Importing the dependent fails with ModuleNotFoundError once it reaches the "
            "missing dependency (often after `pip uninstall` or `--no-deps`).",
            fix="Install the requirement the message quotes with the dependent's installer "
            '(`pip install "NAME>=X"`).',
        ),
        Code(
            "requirement-conflict",
            "requirements",
            _E,
            "an installed version does not satisfy a Requires-Dist or Requires-Python",
            detail="a Requires-Dist evaluated as for `requirement-missing`, or the target's "
            "Python outside a distribution's Requires-Python",
            severity_note="warning when the dependent is a distro or conda package whose "
            "package manager chose its dependencies",
            why="The versions were not made to work together: expect AttributeError, "
            "ImportError of a removed name, or wrong behaviour.",
            fix="Install a version in range (the hint quotes it), or a release of the "
            "dependent that accepts the installed one.",
        ),
        Code(
            "numpy-abi",
            "requirements",
            _E,
            "a binary built against NumPy 1.x headers while NumPy 2 is installed",
            detail="they import `numpy.core._multiarray_umath` only; 2.x headers also name "
            "`numpy._core`",
            why="The import fails with `A module that was compiled using NumPy 1.x cannot "
            "be run in NumPy 2` or `_ARRAY_API not found`.",
            fix="Upgrade the distribution to a release built for NumPy 2, or install "
            "`numpy<2` (the hint names both).",
        ),
        Code(
            "import-error",
            "imports",
            _E,
            "importing a top-level module fails, crashes or hangs",
            severity_note="warning when the missing module is an optional dependency "
            "nothing installed declares, or one a distro package's metadata "
            "names but apt left optional",
            detail="with `--checks imports`: each top-level module (and each public "
            "subpackage holding compiled modules, such as `scipy.linalg`) imported "
            "once in a subprocess of the target (`-B`, an empty working directory, "
            "your environment variables, `--import-timeout` per module); the real "
            "error quoted and classified (missing shared object, undefined symbol, "
            "NumPy 1.x/2.x ABI, `_ARRAY_API`, built for another Python, missing "
            "module, a name missing from another distribution's module, crash with "
            "its signal, timeout) with a hint per class; the JSON "
            "`environment.imports` counts modules, workers and re-runs",
            why="This is the failure the user would meet; the class points at its cause.",
            fix="Follow the hint for the class (reinstall, install the missing dependency, "
            "or pin compatible versions).",
        ),
        Code(
            "foreign-site-packages",
            "paths",
            _E,
            "sys.path holds another Python's packages",
            detail="a PYTHONPATH entry or `.pth` line naming `python3.12/site-packages` in "
            "3.11, or compiled modules the target cannot load",
            why="Modules of another Python shadow or mix with the target's own and fail to "
            "import (wrong ABI) or behave differently.",
            fix="Remove the entry: unset PYTHONPATH or delete the `.pth` line the message names.",
        ),
        Code(
            "shadowed-module",
            "paths",
            _E,
            "a file or dir earlier on sys.path shadows an installed or standard module",
            detail="a module no installer owns, in the working directory or earlier on "
            "sys.path, named like an installed distribution's or the standard "
            "library's; or a distribution in the user site (`~/.local`, when `site` adds "
            "it) providing a module the environment's site-packages provide in another "
            "version",
            severity_note="warning for a standard-library name in the working directory",
            why="`import numpy` finds a local `numpy/` or `numpy.py` (or a stray copy on "
            "PYTHONPATH, or a `pip install --user` copy: numpy 1.x over the environment's "
            "numpy 2, `No module named 'numpy.exceptions'`) instead of the installed package.",
            fix="Rename or remove the shadowing file or dir, or run from another directory; "
            "a user-site copy: `/path/to/python -m pip uninstall NAME` (it removes the first "
            "copy on sys.path) or `PYTHONNOUSERSITE=1`.",
        ),
        Code(
            "pth-executable",
            "paths",
            _W,
            "a .pth file no installer owns has lines Python executes at every start-up",
            detail="`site` runs each `import …` line of every `.pth` file in a site dir when "
            "any interpreter of the environment starts; verify-env parses them and runs none",
            why="Installers record the `.pth` files they write (setuptools' "
            "`distutils-precedence.pth`, editable installs), so unowned start-up code is what "
            "a tamper or a hand edit looks like, and it runs in every process that uses the "
            "environment. A warning, not an error: it breaks no import, and image builders "
            "add such hooks on purpose (a CA bundle patched into certifi, virtualenv's "
            "`_virtualenv.pth`, coverage's process start-up). It can no longer forge the "
            "verdict: verify-env never runs it. `--strict` fails on it; accept a deliberate "
            "one visibly with `--ignore paths:pth-executable::PATH`.",
            fix="Remove the file, or reinstall the distribution that should own it.",
        ),
        Code(
            "site-customize",
            "paths",
            _W,
            "a sitecustomize or usercustomize module no installer owns runs at every start-up",
            detail="the first `sitecustomize` (and `usercustomize` when the user site is on) "
            "on the sys.path `site` builds; the distro's own (dpkg-owned) is not reported",
            why="`site` imports it in every process of the environment; nothing installs one "
            "without recording it, so an unowned one is a tamper or a hand edit. A warning "
            "for the reason `pth-executable` is one; `--strict` fails on it.",
            fix="Remove the module, or install it through a package that records it.",
        ),
        Code(
            "distributions-unseen",
            "paths",
            _E,
            "the site-packages dirs hold distributions but none was inventoried",
            detail="`*.dist-info` / `*.egg-info` dirs found by listing the prefix's "
            "`lib/python*/site-packages` while the inventory is empty",
            why="An empty report for a populated environment means the target's facts were "
            "wrong (a damaged or forged interpreter, a moved prefix), not that it is whole: "
            "`OK` would be a false verdict.",
            fix="Check that --python/--prefix names the environment's own interpreter; "
            "recreate the environment if its interpreter is damaged.",
        ),
        Code(
            "base-interpreter-missing",
            "paths",
            _E,
            "the venv's base interpreter is gone: its python cannot start",
            detail="`pyvenv.cfg`'s `home` holds no `pythonX.Y`, `python3` or `python`; the "
            "environment is then described from its files and the file checks still run",
            why="A venv's `bin/python` is a link to (or a copy that needs) the interpreter "
            "it was made from; upgrading or removing that Python (pyenv, Homebrew, a "
            "multi-stage image) leaves every program of the venv failing with `No such file "
            "or directory`, whatever its packages.",
            fix="Recreate the venv with an installed Python of the same version "
            "(`python3.X -m venv --clear PREFIX`) and reinstall its requirements; or "
            "reinstall that Python where `home` says.",
        ),
        Code(
            "interpreter-fails",
            "paths",
            _E,
            "the interpreter exits with an error before running any code",
            detail="the isolated probe (`-I -S -B`, no package code) failed; its last line of "
            "stderr is quoted, and the environment is described from its files instead",
            why="An interpreter that cannot start (a damaged standard library raising "
            "`SyntaxError`, a missing `libpython`) breaks every program of the environment "
            "before any package is imported.",
            fix="Reinstall the Python the environment is built on (for a venv, the one its "
            "`pyvenv.cfg` `home` names; `apt-get install --reinstall` for Debian's), or "
            "recreate the environment.",
        ),
        Code(
            "script-interpreter",
            "paths",
            _E,
            "console scripts whose `#!` line names an interpreter that does not exist",
            detail="scripts in the environment's bin dir or recorded by its installers; "
            "`#!/usr/bin/env python` is left alone; only the first line is read, at most "
            "4 KiB",
            why="A venv moved or copied to another path (a Docker multi-stage `COPY --from` "
            "to a new path, `cp -a venv /new/path`) keeps the old absolute path in every "
            "script's `#!`: `bin/pip: cannot execute: required file not found`. "
            "`python -m pip` still works, so it goes unnoticed until a script is run.",
            fix="Recreate the venv where it now lives: save `pip freeze`, run `python -m venv "
            "--clear PREFIX` with the base interpreter, reinstall from the saved list (the "
            "hint spells it out). Editing `#!` lines by hand leaves RECORDs wrong.",
        ),
        Code(
            "pth-error",
            "paths",
            _E,
            "a `.pth` line fails at every start-up of the environment's Python",
            detail="decided without running it: an `import X` line whose module X is in no "
            "sys.path directory nor the standard library, or X is installed by another "
            "distribution than the `.pth` file and its source binds no name the line uses. A "
            "path line naming a missing directory is not an error (`site` skips it)",
            why="`site` runs the `import` lines of `.pth` files at every start: one that "
            "fails prints `Error processing line N of …pth` and a traceback for every "
            "`python` started (a leftover `__editable__` finder whose module is gone, "
            "`distutils-precedence.pth` from one setuptools with `_distutils_hack` from "
            "another).",
            fix="A module gone: reinstall the distribution that owns the `.pth` file, or "
            "remove the file when none owns it. Another distribution's module: upgrade that "
            "one to a release with the name, or uninstall the one whose `.pth` calls it. The "
            "hint names the command.",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found wrong, in the shape of the JSON contract."""

    check: str
    """The check that found it (``record``, ``tags`` …)."""
    code: str
    """A key of `CODES`."""
    severity: Severity
    """How bad it is here."""
    distribution: str | None
    """The distribution (or conda / OS package) the path belongs to, if any."""
    version: str | None
    """Its installed version."""
    installer: str | None
    """Who installed it: pip, uv, conda, dpkg …; its record is the one the file is judged by."""
    path: str | None
    """The path as the owning record names it (relative to the record's root)."""
    message: str
    """What is wrong, quoting the input."""
    hint: str | None = None
    """The exact repair, for the installer that owns the file."""
    accepted: str | None = None
    """Why it is accepted (``--ignore RULE``, a baseline file …): an accepted finding is reported
    with severity info and never changes the exit status, under ``--strict`` neither."""
    location: str | None = None
    """The absolute path on disk of `path`, when it names a file (filled in by `verify`), for
    baselines and SARIF; never rendered as the finding's path."""
    environment: str | None = None
    """``--root``: the environment of the image it belongs to (its prefix inside the image)."""


@dataclass(frozen=True, slots=True)
class Skip:
    """Something a check could not judge, and why (never an error: a note for the report)."""

    check: str
    """The check that skipped it."""
    distribution: str | None
    """The distribution concerned, if any."""
    path: str | None
    """The path concerned, if any."""
    reason: str
    """Why it could not be judged."""
