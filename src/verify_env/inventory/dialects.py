"""Where installers' RECORD rows differ from what they say on their face (issue 16 §1).

Each rule here is read from the installer's own source and reads the row the way that installer
meant it; nothing in a row is dropped, only located or completed from a record that promises it.
"""

from __future__ import annotations

import os
import stat

from verify_env.files import read_regular
from verify_env.inventory.model import RecordedFile

__all__ = ["linked_digests", "owned_alike", "target_layout"]

_REFER_TO_CAP = 4096
_CACHED_RECORD_CAP = 64 << 20


def linked_digests(
    meta_dir: str, name: str, files: list[RecordedFile]
) -> tuple[list[RecordedFile], str | None]:
    """Digests for the rows pdm left without one, from the wheel's own RECORD in its cache.

    pdm links files from its install cache instead of copying them and then records
    ``sha256=`` with an empty digest (pdm/installers/installers.py ``write_to_fs``); with
    the symlink cache methods it names the cached wheel in ``REFER_TO``, whose ``*.dist-info/
    RECORD`` is the wheel's, with digests. A row takes that digest only when both records
    give it the same size; without ``REFER_TO`` (hardlinks) the size is all that is promised.

    Also returns that cache directory when it is a declared link root: the distribution's
    links may lead into it (and nowhere else outside the environment, issue 18 §9). It must
    hold the wheel's dist-info, be owned by whoever owns the metadata dir and be writable by
    no one else, so that ``REFER_TO=/tmp`` cannot open the way to other users' files.
    """
    refer = read_regular(os.path.join(meta_dir, "REFER_TO"), _REFER_TO_CAP)
    if not refer:
        return files, None
    root = os.path.normpath(refer.decode("utf-8", "surrogateescape").strip())
    cached = os.path.join(root, name, "RECORD")
    if not os.path.isabs(root) or not owned_alike(root, meta_dir):
        return files, None
    data = read_regular(cached, _CACHED_RECORD_CAP)
    if data is None:
        return files, None
    from verify_env.inventory.dist_info import parse_record  # it calls this module

    wheel_rows, _ = parse_record(data.decode("utf-8", "surrogateescape"), os.sep, "RECORD")
    known = {f.path: f for f in wheel_rows if f.digest is not None}
    out = []
    for f in files:
        row = known.get(f.path) if f.digest is None and f.size is not None else None
        if row is not None and row.size == f.size:
            f = f._replace(algorithm=row.algorithm, digest=row.digest)
        out.append(f)
    return out, root


def owned_alike(directory: str, meta_dir: str) -> bool:
    """A directory owned by whoever owns the metadata dir and writable by no one else."""
    try:
        mine, theirs = os.stat(directory), os.stat(meta_dir)
    except OSError:
        return False
    return (
        stat.S_ISDIR(mine.st_mode)
        and mine.st_uid == theirs.st_uid
        and not mine.st_mode & (stat.S_IWOTH | stat.S_IWGRP)
    )


def target_layout(site_dir: str, files: list[RecordedFile]) -> list[RecordedFile]:
    """Where the files of a ``pip install --target DIR`` install really are.

    pip installs into a temporary home scheme (purelib ``HOME/lib/python``, scripts
    ``HOME/bin``) and then moves the contents of purelib and of HOME into DIR (pip's
    ``install._handle_target_dir``), so RECORD rows written relative to ``HOME/lib/python`` that
    climb out of it (``../../bin/black``) name ``DIR/bin/black``. A site dir that is a scheme's
    own (``…/site-packages``, ``…/dist-packages``, the home scheme's ``…/lib/python``) keeps
    the literal reading.
    """
    parts = os.path.normpath(site_dir).split(os.sep)
    if parts[-1] in ("site-packages", "dist-packages") or parts[-2:] == ["lib", "python"]:
        return files
    base = os.path.normpath(site_dir) + os.sep
    moved = []
    for f in files:
        rest = f.path[6:] if f.path.startswith("../../") else ""
        if rest and not rest.startswith(("../", "/")):
            f = f._replace(location=os.path.normpath(base + rest))
        moved.append(f)
    return moved
