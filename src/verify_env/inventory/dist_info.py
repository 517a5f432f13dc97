"""Read ``*.dist-info`` and ``*.egg-info`` metadata directories from a site dir.

RECORD rows are validated by `installer.records.RecordEntry` (the same rules pip's installer
applies) and one malformed row becomes one `RecordProblem`, never an exception: a broken RECORD
is normal input. Digests are decoded here, once, to raw bytes so the hashing workers only
compare.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from collections.abc import Iterable

from verify_env.cache.statcache import StatCache, stat_key
from verify_env.files import read_regular
from verify_env.inventory import bounded, dialects
from verify_env.inventory.model import (
    Distribution,
    FileKind,
    RecordedFile,
    RecordProblem,
    canonical_name,
)
from verify_env.repair.hints import reinstall_hint

__all__ = [
    "egg_requires",
    "hint_for",
    "metadata_entries",
    "read_metadata_dir",
    "scan_site_dir",
    "wheel_file_tags",
]

# pip and uv write RECORD; a dist-info of theirs without one is damage, not a convention.
RECORD_WRITERS = frozenset({"pip", "uv", "poetry", "pdm", "installer", "pipx", "hatch"})


def hint_for(installer: str, name: str, version: str, python: str | None = None) -> str | None:
    """The repair command for a distribution this installer owns, through ``python`` (the
    target's interpreter): `verify_env.repair.hints.reinstall_hint`."""
    return reinstall_hint(installer, name, version, python)


def _read_text(path: str, limit: int) -> str | None:
    """At most ``limit`` bytes of a small metadata file (issue 18 §7: whoever writes the
    environment sizes its files; a 1 GB INSTALLER must not be read whole)."""
    data = read_regular(path, limit)
    return None if data is None else data.decode("utf-8", "surrogateescape")


def _headers(text: str) -> dict[str, list[str]]:
    """RFC 822 headers of METADATA / WHEEL, up to the first blank line (the description is
    never parsed); continuation lines are folded. email.parser does the same for ~12 ms of
    imports and ~0.5 ms a file, which every pipv install would pay."""
    out: dict[str, list[str]] = {}
    last: list[str] | None = None
    for line in text.splitlines():
        if not line:
            break  # only an empty line ends the headers: "        " continues a folded License
        if line[0] in " \t":
            if last and line.strip():
                last[-1] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = out.setdefault(key.strip().lower(), [])
        last.append(value.strip())
    return out


def wheel_file_tags(text: str) -> tuple[str, ...]:
    """Every ``Tag:`` line of a WHEEL file, wherever it stands.

    WHEEL has no body, so a blank line does not end its tags: Debian's python3-tables 3.7.0
    ships ``Tag: cp310-…`` and, after a blank line, ``Tag: cp311-cp311-linux_x86_64`` (its
    build appends the tag of each Python it builds for); stopping at the blank line read only
    the cp310 tag and made a working package a tag-mismatch."""
    tags = []
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "tag" and line[:1] not in (" ", "\t") and value.strip():
            tags.append(value.strip())
    return tuple(tags)


# Length of the unpadded urlsafe-base64 digest for each algorithm RECORD may use.
_B64_LENGTHS = {
    name: (hashlib.new(name).digest_size * 4 + 2) // 3
    for name in hashlib.algorithms_guaranteed
    if not name.startswith("shake_")
}
_B64 = re.compile(r"[A-Za-z0-9_-]+")


def parse_record(
    text: str | Iterable[str], root: str, record_rel: str
) -> tuple[list[RecordedFile], list[RecordProblem]]:
    """Rows of a RECORD as files relative to ``root``; malformed rows as problems.

    The row rules are installer's `RecordEntry.from_elements` (non-empty path, ``name=digest``
    hash, integer size), applied inline: the library's per-row objects cost 228 ms for the
    43k rows of a 103-distribution site-packages here, this loop ~70 ms (csv alone: 28 ms);
    digests stay text, compared as text (decoding them all cost 137 ms).
    Bytecode (``.pyc``) rows are left out: Python rewrites it and images strip it on purpose.
    ``text`` is the RECORD's text or its lines (`bounded.record_lines`); a line csv cannot
    read (a field over its limit) is one problem and the rows after it are still read; a
    RECORD of more than `bounded.RECORD_ROWS_CAP` rows is one problem and no rows.
    """
    files: list[RecordedFile] = []
    problems: list[RecordProblem] = []
    join, normpath = os.path.join, os.path.normpath
    regular = FileKind.REGULAR
    base = os.path.normpath(root) + os.sep
    lengths, b64 = _B64_LENGTHS, _B64.fullmatch
    append = files.append
    reader = csv.reader(text.splitlines() if isinstance(text, str) else text)
    listed = False
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            listed = True
            problems.append(
                RecordProblem(
                    "record-malformed", record_rel, f"RECORD line {reader.line_num}: {exc}"
                )
            )
            continue
        lineno = reader.line_num
        listed = listed or bool(row)
        if len(files) >= bounded.RECORD_ROWS_CAP:
            # more than any installer writes: checking its first rows one by one would report
            # each missing file of a forged list (100k findings); the record is the finding
            problems.append(
                RecordProblem(
                    "record-malformed",
                    record_rel,
                    f"{record_rel} lists more than {bounded.RECORD_ROWS_CAP} files, more than any "
                    "installer writes; none of its rows is checked",
                )
            )
            files.clear()
            break
        if row == [bounded.OVERLONG]:
            problems.append(
                RecordProblem(
                    "record-malformed",
                    record_rel,
                    f"RECORD line {lineno} is longer than {bounded.LINE_CAP} characters; not read",
                )
            )
            continue
        if len(row) != 3:
            if row:
                problems.append(
                    RecordProblem(
                        "record-malformed",
                        record_rel,
                        f"RECORD line {lineno}: {len(row)} fields {row[:4]!r}, "
                        "expected path,hash,size",
                    )
                )
            continue
        path, hash_text, size_text = row
        if path.endswith(".pyc"):
            continue  # bytecode is optional: Python rewrites it and images strip it on purpose
        digest = algorithm = None
        if not hash_text:
            if not size_text and path.endswith("__pycache__"):
                continue  # virtualenv's seeder lists a bytecode dir for every package dir
        else:
            algorithm, sep, digest = hash_text.partition("=")
            algorithm = algorithm.lower()
            if sep and not digest and algorithm in lengths:
                # pdm names the algorithm but leaves the digest empty for the files it links
                # from its install cache (every cache_method); the size it records still holds
                algorithm = digest = None
            elif not sep or lengths.get(algorithm) != len(digest) or not b64(digest):
                problems.append(
                    RecordProblem(
                        "record-malformed",
                        record_rel,
                        f"RECORD line {lineno}: hash {hash_text!r} is not 'name=digest' of a "
                        "guaranteed hashlib algorithm",
                    )
                )
                continue
        size: int | None = None
        if size_text:
            try:
                size = int(size_text)
            except ValueError:
                size = -1
            if size < 0:
                problems.append(
                    RecordProblem(
                        "record-malformed",
                        record_rel,
                        f"RECORD line {lineno}: size {size_text!r} is not a whole number of bytes",
                    )
                )
                continue
        if not path:
            problems.append(
                RecordProblem(
                    "record-malformed", record_rel, f"RECORD line {lineno}: empty path in {row!r}"
                )
            )
            continue
        if "\0" in path:
            problems.append(  # no file system path holds one: opening it would raise
                RecordProblem(
                    "record-malformed",
                    record_rel,
                    f"RECORD line {lineno}: path {path!r} holds a NUL character; not opened",
                )
            )
            continue
        if "\\" in path:
            path = path.replace("\\", "/")
        if path[0] == "/" or "." in path.partition("/")[0] or "/." in path or "//" in path:
            location = normpath(join(root, path))
        else:  # the common case, already normal: 3x cheaper than normpath(join())
            location = base + path
        append(RecordedFile(path, location, algorithm, digest, size, regular))
    if not listed:
        problems.append(
            RecordProblem(
                "record-malformed",
                record_rel,
                f"{record_rel} lists no files (an installer's RECORD lists at least itself)",
            )
        )
    return files, problems


# The cache space of parsed RECORDs; its name changes when the parse changes (RECORD3: bytecode
# dir rows left out, pdm's empty digests read; RECORD4: a location derived from the path is
# stored as None), so an older cache is never read as this one.
_RECORD_SPACE = "RECORD4"


def _base(site_dir: str) -> str:
    """What a RECORD path is appended to when its location is stored as None (RECORD4): the
    site dir as `parse_record` normalizes it. Half of a cached RECORD's bytes were locations
    spelled out again (4.4 of 9.7 MB in a torch venv's cache, all authenticated and decoded on
    every warm run)."""
    return os.path.normpath(site_dir) + os.sep


def _record(
    site_dir: str, record_path: str, record_rel: str, cache: StatCache | None
) -> tuple[list[RecordedFile], list[RecordProblem]] | None:
    """The parsed RECORD, from the cache while the file is unchanged; None if unreadable.

    Re-parsing the 23.5k rows of a torch venv costs ~70 ms; rebuilding them from the cache
    ~10 ms. Only clean parses are remembered, so problems are always reported afresh.
    """
    key = None
    if cache is not None and cache.enabled:
        try:
            key = stat_key(os.stat(record_path))
        except OSError:
            return None
        rows = cache.fact(_RECORD_SPACE, record_path, key)
        if isinstance(rows, tuple) and all(len(row) == 5 for row in rows[:1]):
            # tuple.__new__ on the stored row plus the defaults: no Python frame per row
            # (23.5k rows: 12.8 ms through RecordedFile(...), 7.7 ms this way); a location
            # stored as None is the site dir's path joined to the row's path
            tail, make, base = (FileKind.REGULAR, False), tuple.__new__, _base(site_dir)
            return [
                make(RecordedFile, (p, base + p if loc is None else loc, a, d, n, *tail))
                for p, loc, a, d, n in rows
            ], []
    cut: list[str] = []
    lines = bounded.record_lines(record_path, cut)
    if lines is None:
        return None
    files, problems = parse_record(lines, site_dir, record_rel)
    problems.extend(RecordProblem("record-malformed", record_rel, why) for why in cut)
    if key is not None and cache is not None and not problems:
        base = _base(site_dir)
        cache.remember(
            _RECORD_SPACE,
            record_path,
            key,
            tuple((p, None if loc == base + p else loc, a, d, n) for p, loc, a, d, n, *_ in files),
        )
    return files, problems


def egg_requires(text: str) -> list[str]:
    """``requires.txt`` of an egg-info as Requires-Dist lines: a ``[extra:marker]`` section
    header applies to the lines below it, as setuptools (and pip reading it) does."""
    out: list[str] = []
    extra = marker = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            extra, _, marker = line[1:-1].strip().partition(":")
            extra, marker = extra.strip(), marker.strip()
            continue
        conditions = [f"({marker})"] if marker else []
        if extra:
            conditions.append(f'extra == "{extra}"')
        out.append(f"{line}; {' and '.join(conditions)}" if conditions else line)
    return out


def read_metadata_dir(
    site_dir: str, name: str, cache: StatCache | None = None, python: str | None = None
) -> Distribution:
    """One ``.dist-info`` or ``.egg-info`` entry of ``site_dir``; ``python``: the target's
    interpreter, which its repair hint names."""
    meta_dir = os.path.join(site_dir, name)
    stem, _, ext = name.rpartition(".")
    guess_name, _, guess_version = stem.partition("-")
    problems: list[RecordProblem] = []
    is_dir = os.path.isdir(meta_dir)
    metadata_name = "METADATA" if ext == "dist-info" else "PKG-INFO"
    head = bounded.read_head(os.path.join(meta_dir, metadata_name) if is_dir else meta_dir)
    text = head[0] if head is not None else None
    headers = _headers(text) if text is not None else {}
    if head is not None and head[1]:
        problems.append(
            RecordProblem(
                "record-malformed",
                f"{name}/{metadata_name}" if is_dir else name,
                f"{metadata_name}'s headers run past {bounded.HEADER_CAP >> 10} KiB without the "
                "empty line that ends them; only that much was read",
            )
        )
    if ext == "dist-info" and not is_dir:
        problems.append(
            RecordProblem(
                "record-malformed", name, f"{name} is not a directory (a dist-info must be one)"
            )
        )
    elif text is None and is_dir and not os.access(meta_dir, os.R_OK | os.X_OK):
        problems.append(  # a umask-077 install read by another user
            RecordProblem(
                "permission-denied",
                name,
                f"{name} cannot be read by this user (its mode lets only its owner in): "
                "neither its metadata nor its record can be read",
            )
        )
        return Distribution(
            name=guess_name.replace("_", "-"),
            key=canonical_name(guess_name),
            version=guess_version.split("-")[0] or "unknown",
            installer="unknown",
            source=ext,
            root=site_dir,
            metadata_dir=meta_dir,
            site_dir=site_dir,
            problems=tuple(problems),
        )
    elif text is None and ext == "dist-info":
        problems.append(
            RecordProblem(
                "record-malformed", f"{name}/METADATA", f"{name}/METADATA is missing or unreadable"
            )
        )
    dist_name = (headers.get("name") or [guess_name.replace("_", "-")])[0]
    version = (headers.get("version") or [guess_version.split("-")[0] or "unknown"])[0]
    installer = "unknown"
    wheel_tags: tuple[str, ...] = ()
    link_roots: tuple[str, ...] = ()
    files: list[RecordedFile] = []
    requires = headers.get("requires-dist", [])
    if is_dir and ext == "dist-info":
        installer_text = _read_text(os.path.join(meta_dir, "INSTALLER"), 1 << 10)
        if installer_text is not None and installer_text.strip():
            installer = installer_text.strip().splitlines()[0].strip().lower()
        wheel = _read_text(os.path.join(meta_dir, "WHEEL"), 1 << 20)
        if wheel is not None:
            wheel_tags = wheel_file_tags(wheel)
        record_rel = f"{name}/RECORD"
        parsed_record = _record(site_dir, os.path.join(meta_dir, "RECORD"), record_rel, cache)
        if parsed_record is None:
            if os.path.lexists(os.path.join(meta_dir, "RECORD")):
                problems.append(
                    RecordProblem(
                        "record-malformed", record_rel, f"{record_rel} exists but cannot be read"
                    )
                )
            else:
                problems.append(
                    RecordProblem(
                        "record-missing",
                        record_rel,
                        f"{record_rel} is missing (INSTALLER says {installer!r})",
                        warning=installer not in RECORD_WRITERS,
                    )
                )
        else:
            files = dialects.target_layout(site_dir, parsed_record[0])
            problems = problems + parsed_record[1]
            if any(f.digest is None and f.size is not None for f in files):
                files, link_root = dialects.linked_digests(meta_dir, name, files)
                link_roots = (link_root,) if link_root else ()
    elif is_dir:
        if not requires:
            egg = _read_text(os.path.join(meta_dir, "requires.txt"), 4 << 20)
            requires = egg_requires(egg) if egg else []
        listing = _read_text(
            os.path.join(meta_dir, "installed-files.txt"), bounded.RECORD_CHARS_CAP
        )
        if listing is not None:
            installer = "pip"  # only pip's setup.py install writes installed-files.txt
            for line in listing.splitlines():
                if line.strip():
                    rel = line.strip()
                    loc = os.path.normpath(os.path.join(meta_dir, rel))
                    kind = FileKind.OPTIONAL if rel.endswith(".pyc") else FileKind.REGULAR
                    files.append(RecordedFile(rel, loc, None, None, None, kind))
    return Distribution(
        name=dist_name,
        key=canonical_name(dist_name),
        version=version,
        installer=installer,
        source=ext,
        root=site_dir,
        metadata_dir=meta_dir,
        site_dir=site_dir,
        files=tuple(files),
        wheel_tags=wheel_tags,
        link_roots=link_roots,
        requires=tuple(requires),
        requires_python=next(iter(headers.get("requires-python", ())), None),
        problems=tuple(problems),
        hint=hint_for(installer, dist_name, version, python),
    )


def metadata_entries(site_dir: str) -> Iterable[str]:
    """Names of the metadata entries in a site dir, sorted for stable output.

    Not pip's ``~`` stashes (``~umpy-1.26.4.dist-info``): what an interrupted uninstall moved
    aside is no installed distribution (pip ignores it too). Read as one, its RECORD would
    report every file as missing, and a repair would reinstall the version being replaced;
    the leftovers check reports the stash itself."""
    try:
        names = os.listdir(site_dir)
    except OSError:
        return ()
    return sorted(
        n for n in names if n.endswith((".dist-info", ".egg-info")) and not n.startswith("~")
    )


def scan_site_dir(site_dir: str, cache: StatCache | None = None) -> list[Distribution]:
    """Every distribution whose metadata lies in ``site_dir``."""
    return [read_metadata_dir(site_dir, name, cache) for name in metadata_entries(site_dir)]
