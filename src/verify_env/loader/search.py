"""Where the dynamic loader will find each library a file needs, decided without loading it.

glibc's order for a DT_NEEDED name without a slash (``elf/dl-load.c``, ``_dl_map_object``),
modelled here step by step:

0. an object already loaded whose SONAME (or name) is that name: no search at all. In a Python
   process that is the interpreter's own closure (libc, libm, libpython …) and whatever the
   packages imported earlier loaded (a caller passes them as ``preloaded``);
1. DT_RPATH of the object that needs it, then of the object that loaded that one, and on up to
   the executable — only when the needing object has no DT_RUNPATH (and an object's DT_RPATH
   does not exist for the loader when it has a DT_RUNPATH: "If both RPATH and RUNPATH are set,
   only the latter is used", ``get-dynamic-info.h``);
2. LD_LIBRARY_PATH of the target's environment;
3. DT_RUNPATH of the needing object only (never inherited);
4. ``/etc/ld.so.cache`` (`ldcache.py`), unless the object has DF_1_NODEFLIB;
5. the default directories (multiarch ``/lib/<triplet>`` first on Debian), unless DF_1_NODEFLIB.

``$ORIGIN`` is the directory of the needing object as it was opened (not symlink-resolved, as
ld.so does), ``$LIB`` the libc's directory below ``/`` or ``/usr``, ``$PLATFORM`` the machine; an
entry with another token, or a relative one, is dropped. A candidate of another ELF class or
machine is skipped and the search goes on, as ld.so does. musl's order (``ldso/dynlink.c``) is
LD_LIBRARY_PATH, the RUNPATH (else RPATH) of the needing object and of each object that loaded
it, then ``/etc/ld-musl-ARCH.path`` or ``/lib:/usr/local/lib:/usr/lib``. The model is
confirmed by the system loader (`linkage/confirm.py`) where it matters, and the loader wins;
glibc-hwcaps subdirectories are left to that confirmation.

Figures (bench/linkage_bench.py, the torch venv: 344 shared objects, 421 objects with the
system libraries, shared 2-core machine): the dynamic sections of all 344 read with `elf.py` in
55-172 ms (4.5 MB of 836 MB read), pyelftools ~400 ms for the same DT_NEEDED (issue 5's
figure); the static pass over all 421 objects 155-168 ms cold, 28-41 ms with the facts from
the stat cache; ld.so confirmation of the 22 BLAS consumers in 14 runs, ~30 ms.
See bench/README.md.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from verify_env.binary import elf
from verify_env.files import read_regular
from verify_env.loader.ldcache import LdCache, read_ld_cache
from verify_env.loader.realpaths import RealPaths
from verify_env.loader.rootfs import RootFS
from verify_env.loader.witness import Witness

__all__ = [
    "Closure",
    "ObjectFacts",
    "RealPaths",
    "Resolution",
    "SearchSetup",
    "closure",
    "read_facts",
    "search_setup",
]

DF_1_NODEFLIB = 0x800
_TRIPLETS = {
    "x86_64": "x86_64-linux-gnu", "aarch64": "aarch64-linux-gnu", "i386": "i386-linux-gnu",
    "i686": "i386-linux-gnu", "ppc64le": "powerpc64le-linux-gnu", "s390x": "s390x-linux-gnu",
    "riscv64": "riscv64-linux-gnu", "armv7l": "arm-linux-gnueabihf",
    "loongarch64": "loongarch64-linux-gnu",
}  # fmt: skip
_MUSL_DEFAULT = ("/lib", "/usr/local/lib", "/usr/lib")
LD_SO_CACHE = "/etc/ld.so.cache"


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    """What the search needs from one ELF file (plain data: the stat cache keeps it as a tuple)."""

    triple: tuple[int, bool, int]
    """(ELF class, little endian, e_machine): a candidate must match its loader's."""
    needed: tuple[str, ...]
    """DT_NEEDED in file order."""
    soname: str | None
    """DT_SONAME."""
    rpath: tuple[str, ...]
    """DT_RPATH entries (already empty when the file has a DT_RUNPATH)."""
    runpath: tuple[str, ...]
    """DT_RUNPATH entries."""
    nodeflib: bool
    """DF_1_NODEFLIB: skip ld.so.cache and the default directories."""
    version_needs: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """DT_VERNEED: (DT_NEEDED name, the versions it must define), weak needs left out: ld.so
    refuses the object when the file it loads for that name lacks one (``dl-version.c``)."""
    version_defs: tuple[str, ...] = ()
    """DT_VERDEF: the versions this object defines."""

    def as_tuple(self) -> tuple[object, ...]:
        return (
            self.triple,
            self.needed,
            self.soname,
            self.rpath,
            self.runpath,
            self.nodeflib,
            self.version_needs,
            self.version_defs,
        )

    @classmethod
    def from_tuple(cls, t: tuple[object, ...]) -> ObjectFacts:
        return cls(*t)  # type: ignore[arg-type]


def read_facts(path: str) -> ObjectFacts | str:
    """The facts of a regular ELF file, or why it cannot be searched from (a sentence)."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return f"{path!r} is not a regular file"
        info = elf.read_dynamic(path)
    except OSError as exc:
        return f"{path!r} cannot be read: {exc.strerror or exc}"
    except elf.ElfFormatError as exc:
        return f"{path!r}: {exc}"
    h = info.header
    rpath = () if info.runpath else info.rpath
    return ObjectFacts(
        (h.elf_class, h.little_endian, h.machine),
        info.needed,
        info.soname,
        rpath,
        info.runpath,
        bool(info.flags_1 & DF_1_NODEFLIB),
        tuple(
            (n.file, strong)
            for n in info.version_needs
            if (strong := tuple(v for v in n.versions if v not in n.weak))
        ),
        info.version_defs,
    )


FactsFn = Callable[[str], "ObjectFacts | str"]


@dataclass(frozen=True, slots=True)
class SearchSetup:
    """The target's fixed search facts: one per run."""

    ld_library_path: tuple[str, ...]
    """LD_LIBRARY_PATH of the target environment, split (empty entries mean the cwd: dropped)."""
    ld_cache: LdCache
    """/etc/ld.so.cache entries for the target's machine (glibc only)."""
    default_dirs: tuple[str, ...]
    """The loader's built-in directories (or musl's path file)."""
    lib: str
    """What ``$LIB`` expands to (``lib/x86_64-linux-gnu``, ``lib64`` …)."""
    platform: str
    """What ``$PLATFORM`` expands to."""
    musl: bool
    """musl's search order instead of glibc's."""
    fs: RootFS | None = None
    """``--root``: the image whose loader is modelled. Every directory above is then a host path
    inside it, an absolute RPATH/RUNPATH entry is taken inside it, and a candidate is looked at
    where its links lead inside it (`RootFS.resolve`): the host's libraries are never used."""
    witness: Witness | None = field(default=None, compare=False)
    """Where every existence test is recorded, for a later run to repeat (`loader.witness`)."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists for the target's loader."""
        if self.witness is not None and self.fs is None:
            return self.witness.exists(path)
        return os.path.exists(path if self.fs is None else self.fs.resolve(path))


def _default_dirs(
    machine: str, elf_class: int, fs: RootFS | None, witness: Witness | None
) -> tuple[str, ...]:
    triplet = _TRIPLETS.get(machine)
    dirs: list[str] = []
    multiarch = f"/lib/{triplet}"
    if fs is None and witness is not None:
        is_dir = witness.is_dir(multiarch)
    else:
        is_dir = os.path.isdir(multiarch if fs is None else fs.resolve(multiarch))
    if triplet and is_dir:
        dirs += [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    elif elf_class == 64:
        dirs += ["/lib64", "/usr/lib64"]
    return (*dirs, "/lib", "/usr/lib")


def _musl_dirs(machine: str, fs: RootFS | None) -> tuple[str, ...]:
    path = f"/etc/ld-musl-{machine}.path"
    raw = read_regular(path if fs is None else fs.resolve(path), 1 << 16)
    if raw is None:
        return _MUSL_DEFAULT
    text = raw.decode("utf-8", "replace")
    return tuple(p for p in text.replace("\n", ":").split(":") if p.startswith("/"))


def search_setup(
    machine: str,
    elf_class: int,
    libc: str | None,
    env: Mapping[str, str],
    fs: RootFS | None = None,
    witness: Witness | None = None,
) -> SearchSetup:
    """The search facts of a target: its machine, libc and environment; with ``fs``, those of
    the image it names (its ld.so.cache, its default directories; no LD_LIBRARY_PATH).
    ``witness``: where the files read here (ld.so.cache, musl's path file) and every existence
    test of the search are recorded (not for an image: `fs` resolves its own links)."""
    if fs is not None:
        witness = None
    llp = tuple(p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p.startswith("/"))
    host = (lambda p: p) if fs is None else fs.host
    if fs is not None:
        llp = ()
    if libc == "musl":
        if witness is not None:
            witness.note(f"/etc/ld-musl-{machine}.path")  # before the read: a later change shows
        dirs = tuple(map(host, _musl_dirs(machine, fs)))
        return SearchSetup(llp, {}, dirs, "lib", machine, True, fs, witness)
    if fs is None:
        if witness is not None:
            witness.note(LD_SO_CACHE)
        cache = read_ld_cache(machine, elf_class)
    else:
        inner = read_ld_cache(machine, elf_class, fs.resolve("/etc/ld.so.cache"))
        cache = {name: tuple(map(fs.host, paths)) for name, paths in inner.items()}
    libc_paths = cache.get("libc.so.6", ())
    lib = "lib"
    if libc_paths:
        d = os.path.dirname(libc_paths[0] if fs is None else fs.inner(libc_paths[0]))
        lib = d[len("/usr/") :] if d.startswith("/usr/") else d.lstrip("/")
    dirs = tuple(map(host, _default_dirs(machine, elf_class, fs, witness)))
    return SearchSetup(llp, cache, dirs, lib, machine, False, fs, witness)


def expand(entry: str, origin: str, setup: SearchSetup) -> str | None:
    """One RPATH/RUNPATH entry with $ORIGIN, $LIB and $PLATFORM expanded; None if unusable."""
    from_origin = entry.startswith(("$ORIGIN", "${ORIGIN}"))
    if "$" in entry:
        for token, value in (("ORIGIN", origin), ("LIB", setup.lib), ("PLATFORM", setup.platform)):
            entry = entry.replace("${" + token + "}", value).replace("$" + token, value)
        if "$" in entry:
            return None
    if not entry.startswith("/"):
        return None
    return entry if setup.fs is None or from_origin else setup.fs.host(entry)


@dataclass(frozen=True, slots=True)
class Resolution:
    """How one DT_NEEDED name of one object was resolved."""

    name: str
    """The DT_NEEDED name."""
    requester: str
    """The object whose DT_NEEDED names it."""
    path: str | None
    """Where the loader finds it; None if nowhere."""
    how: str
    """``loaded`` (already in the process), ``rpath``, ``LD_LIBRARY_PATH``, ``runpath``,
    ``ld.so.cache``, ``default``, ``path`` (a name with a slash), or ``missing``."""
    searched: tuple[str, ...] = ()
    """The directories tried, in order (for the message when it is missing)."""


@dataclass(slots=True)
class Closure:
    """Everything one root object pulls in, in load order."""

    root: str
    """The object loaded first (an extension module, a library)."""
    order: list[str] = field(default_factory=list)
    """Objects mapped, in load order (the root first); preloaded ones not repeated."""
    resolved: dict[str, Resolution] = field(default_factory=dict)
    """Each name's first resolution (later requests of a name reuse it, as ld.so does)."""
    missing: list[Resolution] = field(default_factory=list)
    """Names found nowhere (each once)."""
    unreadable: dict[str, str] = field(default_factory=dict)
    """Objects of the closure whose dynamic section could not be read: path -> why."""

    def paths_by_name(self) -> dict[str, str]:
        return {n: r.path for n, r in self.resolved.items() if r.path is not None}


Found = tuple["str | None", str, tuple[str, ...]]
SearchMemo = dict[tuple[object, ...], Found]
"""Search results by everything that decides them; valid for one run (a caller shares one
across closures: most objects need libc, libm … from the same places)."""


class _Search:
    __slots__ = ("facts", "memo", "setup")

    def __init__(self, setup: SearchSetup, facts: FactsFn, memo: SearchMemo) -> None:
        self.setup, self.facts, self.memo = setup, facts, memo

    def fits(self, path: str, triple: tuple[int, bool, int]) -> bool:
        got = self.facts(path)
        if isinstance(got, ObjectFacts):
            return got.triple == triple
        fs = self.setup.fs
        return os.path.isfile(path if fs is None else fs.resolve(path))  # unreadable: it stops

    def in_dirs(
        self, name: str, dirs: tuple[str, ...], triple: tuple[int, bool, int], searched: list[str]
    ) -> str | None:
        for d in dirs:
            searched.append(d)
            candidate = os.path.join(d, name)
            if self.setup.exists(candidate) and self.fits(candidate, triple):
                return candidate
        return None

    def find(
        self, name: str, obj: str, f: ObjectFacts, chain: tuple[str, ...]
    ) -> tuple[str | None, str, tuple[str, ...]]:
        """(path, how, searched) for one DT_NEEDED name of ``obj``."""
        s = self.setup
        if "/" in name:  # used as a path; ld.so expands $ORIGIN & co. here too
            path = expand(name, os.path.dirname(obj), s) if "$" in name or s.fs else name
            usable = path is not None and s.exists(path) and self.fits(path, f.triple)
            return (path if usable else None), "path", (path or name,)
        runpath: tuple[str, ...] = ()
        if f.runpath:
            mine = ("runpath", obj)  # an object's expanded DT_RUNPATH, once per run
            known = self.memo.get(mine)
            if known is None:
                origin = os.path.dirname(obj)
                known = self.memo[mine] = (
                    None,
                    "",
                    tuple(p for e in f.runpath if (p := expand(e, origin, s))),
                )
            runpath = known[2]
        key = (name, () if f.runpath and not s.musl else chain, runpath, f.nodeflib, f.triple)
        got = self.memo.get(key)
        if got is None:
            got = self.memo[key] = self.search(name, f, chain, runpath)
        return got

    def search(
        self, name: str, f: ObjectFacts, chain: tuple[str, ...], runpath: tuple[str, ...]
    ) -> Found:
        s = self.setup
        searched: list[str] = []
        steps: list[tuple[str, tuple[str, ...]]]
        if s.musl:
            steps = [
                ("LD_LIBRARY_PATH", s.ld_library_path),
                ("rpath", chain),
                ("default", s.default_dirs),
            ]
        else:
            steps = [
                ("rpath", () if f.runpath else chain),
                ("LD_LIBRARY_PATH", s.ld_library_path),
                ("runpath", runpath),
            ]
        for how, dirs in steps:
            found = self.in_dirs(name, dirs, f.triple, searched)
            if found:
                return found, how, tuple(searched)
        if s.musl or f.nodeflib:
            return None, "missing", tuple(searched)
        for candidate in s.ld_cache.get(name, ()):
            if self.fits(candidate, f.triple):
                return candidate, "ld.so.cache", tuple(searched)
        searched.append("/etc/ld.so.cache" if s.fs is None else s.fs.host("/etc/ld.so.cache"))
        found = self.in_dirs(name, s.default_dirs, f.triple, searched)
        return found, ("default" if found else "missing"), tuple(searched)


def own_rpath(path: str, f: ObjectFacts, setup: SearchSetup) -> tuple[str, ...]:
    """The object's DT_RPATH dirs, expanded (what it passes down to what it loads); for musl,
    which walks the loader chain for both and prefers DT_RUNPATH, whichever it has."""
    origin = os.path.dirname(path)
    entries = (f.runpath or f.rpath) if setup.musl else f.rpath
    return tuple(p for e in entries if (p := expand(e, origin, setup)))


def closure(
    root: str,
    setup: SearchSetup,
    facts: FactsFn,
    preloaded: Mapping[str, str] | None = None,
    inherited: tuple[str, ...] = (),
    realpath: Callable[[str], str] | None = None,
    memo: SearchMemo | None = None,
) -> Closure:
    """Load ``root`` the way ld.so would, breadth first, and record every resolution.

    ``preloaded``: names (SONAMEs) already in the process -> their paths; a DT_NEEDED naming one
    is satisfied without a search. ``inherited``: the expanded DT_RPATH dirs of the objects that
    load ``root`` (its loader chain up to the executable), searched after root's own.
    ``realpath``: how to resolve symlinks, and ``memo``: search results (a caller shares both
    across the closures of one run).
    """
    out = Closure(root)
    realpath = realpath or RealPaths()
    loaded: dict[str, str] = dict(preloaded or {})
    seen_real: dict[str, str] = {}
    f0 = facts(root)
    if not isinstance(f0, ObjectFacts):
        out.unreadable[root] = f0
        return out
    search = _Search(setup, facts, {} if memo is None else memo)
    queue: deque[tuple[str, ObjectFacts, tuple[str, ...]]] = deque()
    queue.append((root, f0, own_rpath(root, f0, setup) + inherited))
    out.order.append(root)
    seen_real[realpath(root)] = root
    if f0.soname:
        loaded.setdefault(f0.soname, root)
    while queue:
        obj, f, chain = queue.popleft()
        for name in f.needed:
            if name in loaded or name in out.resolved:
                if name not in out.resolved:
                    out.resolved[name] = Resolution(name, obj, loaded[name], "loaded")
                continue
            path, how, searched = search.find(name, obj, f, chain)
            res = Resolution(name, obj, path, how, searched)
            out.resolved[name] = res
            if path is None:
                out.missing.append(res)
                continue
            loaded[name] = path
            real = realpath(path)
            if real in seen_real:  # the same file under another name: mapped once
                continue
            seen_real[real] = path
            got = facts(path)
            if not isinstance(got, ObjectFacts):
                out.unreadable[path] = got
                continue
            if got.soname:
                loaded.setdefault(got.soname, path)
            out.order.append(path)
            queue.append((path, got, own_rpath(path, got, setup) + chain))
    return out
