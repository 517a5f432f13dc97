"""Per-file facts of the linkage check, read once and kept in the stat cache.

A warm run reads no ELF file: the dynamic section facts (`loader.ObjectFacts`), the BLAS/LAPACK
names (`blas.BlasFacts`) and the OpenMP runtime kind (`openmp.kind_of`) of every file (those of
the environment and the system libraries they reach alike) are remembered under the file's stat
key in the space ``linkage``. The symbol table is read only when the dynamic string table names
a core BLAS routine, or ``omp_get_num_threads``, at all.
"""

from __future__ import annotations

import os
import stat

from verify_env.binary import elf, elfsym
from verify_env.cache.statcache import StatCache, StatKey, stat_key
from verify_env.checks.linkage import blas, openmp
from verify_env.loader.rootfs import RootFS
from verify_env.loader.search import ObjectFacts, RealPaths, read_facts
from verify_env.pool.hashing import ForkMap

__all__ = ["FileFacts"]

_SPACE = "linkage.3"  # bump when the facts change shape or meaning
_Entry = tuple[ObjectFacts | str, blas.BlasFacts | None, str | None]


def _read(path: str, table: elfsym.NameTable | None = None) -> _Entry:
    """The facts of ``path``; ``table``: its symbol names, when already read (a prefetch
    worker reads them for the binding pass: the BLAS and OpenMP names are then searched in
    them, with no second open and read of the file)."""
    obj = read_facts(path)
    if not isinstance(obj, ObjectFacts):
        return (obj, None, None)
    if table is None:
        try:
            strings = elfsym.dynamic_strings(path)
        except (OSError, elf.ElfFormatError):
            return (obj, None, None)
    else:
        strings = table.strings
    links = any(blas.is_blas_soname(n) for n in obj.needed)
    wants_blas = links or blas.maybe_blas(strings)
    wants_openmp = openmp.IN_STRINGS in strings
    if table is None and (wants_blas or wants_openmp):  # the symbol table, read only now
        try:
            table = elfsym.name_table(path)
        except (OSError, elf.ElfFormatError):
            return (obj, None, None)
    kind = None
    if wants_openmp and table is not None:
        kind = openmp.kind_of(table.matching(openmp.NAMES).defined)
    facts = _blas_facts(path, table, links) if wants_blas and table is not None else None
    return (obj, facts, kind)


def _blas_facts(path: str, table: elfsym.NameTable, links: bool) -> blas.BlasFacts:
    names = table.matching(blas.NAMES)
    imports, exports = tuple(sorted(names.undefined)), tuple(sorted(names.defined))
    family = blas.family_from_strings(table.strings) if exports else None
    build = None
    if family and "OpenBLAS" in family and blas.has_core(exports):
        build = blas.read_build_string(path)
    return blas.BlasFacts(imports, exports, family, build, links)


def _read_packed(item: tuple[str, bool, bool]) -> tuple[object, _PackedNames | None]:
    """A worker's share of `FileFacts.prefetch` for ``(path, facts too, names too)``: the
    facts, packed as the stat cache keeps them (or None when not asked for), and the symbol
    names of a dynamic object for the binding pass, packed by `_pack_names` (marshal-able)."""
    path, facts_too, names_too = item
    table = None
    if names_too:
        try:  # the names, and the strings and symbols _read wants, from one read
            table = elfsym.name_table(path)
        except (OSError, elf.ElfFormatError):
            table = None  # the binding pass reads it again and meets the same error
    entry = _read(path, table) if facts_too else None
    names = None
    if table is not None and (entry is None or isinstance(entry[0], ObjectFacts)):
        names = _pack_names(table)
    return (None if entry is None else _pack(entry)), names


_PackedNames = tuple[str | None, str | None, str | None]


def _pack_names(table: elfsym.NameTable) -> _PackedNames:
    """Each kind as one NUL-joined string, as the table holds it (decoded at once): a name
    never holds a NUL, and one long string crosses the pipe ~10x cheaper than a set of 10^5
    short ones (marshal walks each)."""
    return table.texts()


def _unpack_names(value: object) -> elfsym.SymbolNames | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    if not all(v is None or isinstance(v, str) for v in value):
        return None
    return elfsym.SymbolNames(
        *(frozenset() if v is None else frozenset(v.split("\0")) for v in value)
    )


def _pack(entry: _Entry) -> tuple[object, ...]:
    obj, b, kind = entry
    packed_obj = obj if isinstance(obj, str) else obj.as_tuple()
    packed_b = None if b is None else (b.imports, b.exports, b.family, b.build, b.links_blas)
    return (packed_obj, packed_b, kind)


def _unpack(value: object) -> _Entry | None:
    if not isinstance(value, tuple) or len(value) != 3:
        return None
    obj, b, kind = value
    try:
        facts: ObjectFacts | str = obj if isinstance(obj, str) else ObjectFacts.from_tuple(obj)
        bf = None if b is None else blas.BlasFacts(*b)
    except TypeError:
        return None
    return facts, bf, kind if isinstance(kind, str) else None


class FileFacts:
    """Facts by path, from memory, the stat cache, or the file (in that order)."""

    __slots__ = ("_by_key", "_cache", "_fs", "_keys", "_memo", "_names", "_real", "files_read")

    def __init__(self, cache: StatCache, fs: RootFS | None = None) -> None:
        self._cache = cache
        self._memo: dict[str, _Entry] = {}
        self._fs = fs
        """``--root``: every path is read where its links lead inside this image."""
        self._real = RealPaths(fs)
        self._by_key: dict[tuple[int, int, int, int, int], _Entry] = {}
        self._keys: dict[str, StatKey | None] = {}
        self._names: dict[tuple[int, int, int, int, int], elfsym.SymbolNames] = {}
        """Symbol names the prefetch workers read, by stat key: for this run only (too big for
        the stat cache, which keeps the binding verdicts instead)."""
        self.files_read = 0
        """Files whose dynamic section was actually read in this run (the rest came cached)."""

    def entry(self, path: str) -> _Entry:
        got = self._memo.get(path)
        if got is not None:
            return got
        where = path if self._fs is None else self.realpath(path)
        try:
            st = os.stat(where)
        except OSError as exc:
            got = (f"{path!r} cannot be read: {exc.strerror or exc}", None, None)
            self._memo[path] = got
            self._keys[path] = None
            return got
        key = stat_key(st)
        self._keys[path] = key if stat.S_ISREG(st.st_mode) else None
        got = self._by_key.get(key)  # one file under many spellings (dir/../../x.libs/…)
        if got is None:
            real = self.realpath(path)
            if stat.S_ISREG(st.st_mode):
                got = _unpack(self._cache.fact(_SPACE, real, key))
            if got is None:
                got = _read(where)
                self.files_read += 1
                if stat.S_ISREG(st.st_mode):
                    self._cache.remember(_SPACE, real, key, _pack(got))
            self._by_key[key] = got
        self._memo[path] = got
        return got

    def prefetch(self, paths: list[str], jobs: int) -> None:
        """Read the facts of ``paths`` not known yet in forked workers, all cores at once.

        Cold, the symbol tables of the BLAS providers and consumers and the dynamic string
        tables of every object are most of the check. The workers read each object's symbol
        names for the binding pass (`elfsym.name_table`), with those of the objects met
        already (the interpreter's closure), and search the BLAS and OpenMP names in what they
        read: ~145 ms of CPU for the torch venv's 269 objects (~280 when each was a loop over
        the symbols and the BLAS names a second read), off the main process. What is in the
        stat cache, in memory, or not a regular file is left to `entry`; a warm run (nothing
        to read) forks nothing."""
        todo: dict[str, tuple[str, tuple[int, int, int, int, int]]] = {}
        keys_todo: set[tuple[int, int, int, int, int]] = set()
        for path in paths:
            if path in self._memo:
                continue
            try:
                st = os.stat(path if self._fs is None else self.realpath(path))
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = stat_key(st)
            if key in self._by_key or key in keys_todo:  # a set: 264 files made 35k steps
                continue
            real = self.realpath(path)
            if self._cache.fact(_SPACE, real, key) is not None:
                continue
            todo[path] = (real, key)
            keys_todo.add(key)
        if not todo:  # warm: the binding verdicts are in the stat cache too, no names needed
            return
        names_too = self._fs is None  # under --root the binding pass reads paths itself
        # the objects already met (the interpreter's: libc, libpython …) need their names too
        met: dict[StatKey, str] = {}
        for p, k in self._keys.items() if names_too else ():
            if k is None or k in self._names or k in keys_todo or k in met:
                continue
            if isinstance(self._memo[p][0], ObjectFacts):
                met[k] = p
        known = [(p, k) for k, p in met.items()]
        if len(todo) + len(known) < 2:
            return
        keys = [*todo, *(p for p, _ in known)]
        items = [
            (p if self._fs is None else todo[p][0], True, names_too) for p in todo
        ]  # under --root, read where its links lead in the image
        items += [(p, False, True) for p, _ in known]
        weights = [todo[p][1][2] for p in todo] + [k[2] for _, k in known]  # bytes
        for index, answer in ForkMap(_read_packed, items, weights, jobs).results():
            if not isinstance(answer, tuple) or len(answer) != 2:
                continue
            packed, names = answer
            path = keys[index]
            symbols = _unpack_names(names)
            if path not in todo:  # names only
                if symbols is not None:
                    self._names[known[index - len(todo)][1]] = symbols
                continue
            got = _unpack(packed)
            if got is None:
                continue
            real, key = todo[path]
            if symbols is not None:
                self._names[key] = symbols
            self.files_read += 1
            self._cache.remember(_SPACE, real, key, packed)
            self._by_key[key] = got
            self._memo[path] = got
            self._keys[path] = key

    def symbol_names(self, path: str) -> elfsym.SymbolNames | None:
        """The names a prefetch worker read from the file at ``path``, or None when the caller
        must read them itself (not prefetched: in the stat cache, or outside the environment)."""
        key = self.stat_key(path)
        return None if key is None else self._names.get(key)

    def stat_key(self, path: str) -> StatKey | None:
        """The stat key its facts were read under; None when it is no regular file."""
        if path not in self._keys:
            self.entry(path)
        return self._keys.get(path)

    def realpath(self, path: str) -> str:
        """``os.path.realpath``, memoized for the run (closures share most of their paths)."""
        return self._real(path)

    def object(self, path: str) -> ObjectFacts | str:
        """The loader's facts, or why the file cannot be read as a dynamic ELF object."""
        return self.entry(path)[0]

    def blas(self, path: str) -> blas.BlasFacts | None:
        """Its BLAS/LAPACK names, or None when it neither imports nor exports core routines."""
        return self.entry(path)[1]

    def openmp(self, path: str) -> str | None:
        """``kmp`` or ``gnu`` when the file is an OpenMP runtime (`openmp.kind_of`), else None."""
        return self.entry(path)[2]
