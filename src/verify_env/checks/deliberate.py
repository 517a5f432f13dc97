"""Changes to recorded files that installers and admins make on purpose, each let through
only as far as it is proven: what the record still promises is checked, never waved through.

- pipx appends isolating interpreter flags (`` -E``) to its apps' ``#!`` lines after pip
  recorded them: the file with those flags taken out must have the recorded digest.
- Admins append local CAs to certificate bundles (rpm and dpkg treat trust stores as config
  files): a file named as one whose recorded bytes are an unchanged prefix of what is there
  now, followed by certificates, is a warning (issue 18 §3).
"""

from __future__ import annotations

import base64
import hashlib
import re

from verify_env.files import read_regular
from verify_env.inventory import RecordedFile

__all__ = ["appended_certificates", "only_shebang_flags", "spell"]


def spell(raw: bytes, hex_: bool) -> str:
    """A raw digest spelled as its record spells digests."""
    if hex_:
        return raw.hex()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


_PEM_MARK = b"-----BEGIN CERTIFICATE-----"
# Trust stores by name: certifi's and pip's cacert.pem, conda's ssl/cacert.pem, ca-bundle.crt,
# ssl/certs/*.pem. Nothing else is one, whatever it contains.
_CERT_SUFFIXES = (".pem", ".crt", ".cer")
_CERT_CAP = 64 << 20


def appended_certificates(f: RecordedFile, actual: int) -> bool:
    """A certificate bundle that admins extended with local CAs on purpose (rpm and dpkg treat
    trust stores as config files for the same reason): a file named as one, grown, whose first
    recorded-size bytes still have the recorded digest and whose added tail is PEM text with a
    certificate in it. Anything else that changed is damage (issue 18 §3: a ``six.py`` with a
    certificate in a comment is not a trust store)."""
    if not f.location.lower().endswith(_CERT_SUFFIXES):
        return False
    if f.digest is None or f.algorithm is None or actual > _CERT_CAP:
        return False
    if f.size is not None and actual <= f.size:
        return False
    data = read_regular(f.location, actual)
    if data is None or len(data) != actual:
        return False
    end = f.size if f.size is not None else _recorded_prefix(data, f)
    if end is None or end >= len(data):
        return False
    prefix, tail = data[:end], data[end:]
    if spell(hashlib.new(f.algorithm, prefix).digest(), f.hex) != f.digest:
        return False
    return _PEM_MARK in tail and b"\0" not in tail


def _recorded_prefix(data: bytes, f: RecordedFile) -> int | None:
    """Where the recorded content ends in ``data`` when the record has no size (dpkg's
    md5sums): the first line end at which the running digest is the recorded one."""
    assert f.algorithm is not None
    running = hashlib.new(f.algorithm)
    start = 0
    while True:
        end = data.find(b"\n", start)
        if end < 0:
            return None
        running.update(data[start : end + 1])
        start = end + 1
        if spell(running.copy().digest(), f.hex) == f.digest:
            return start


# Interpreter options an installer may add to a script's ``#!`` line after recording it
# (pipx appends " -E" to its apps' console scripts, pipx/commands/common.py
# `_add_ignore_environment_to_python_shebang`): flags that only make Python ignore more of its
# environment. Anything else on the line (``-c…``, ``-m…``, ``-X…``) could run other code.
_SHEBANG_FLAGS = re.compile(rb"#![^\s]+((?: -[EsIBSu]+)+)")


_SCRIPT_CAP = 1 << 20  # console scripts are a few hundred bytes


def only_shebang_flags(f: RecordedFile) -> bool:
    """True when the file is a script whose body below the ``#!`` line is exactly what was
    recorded and whose ``#!`` line differs only by isolating interpreter flags appended to it:
    the recorded digest and size hold for the file with those flags taken out."""
    if f.digest is None or f.algorithm is None or f.size is None or f.size > _SCRIPT_CAP:
        return False
    if read_regular(f.location, 2) != b"#!":  # a damaged 400 MB library is never read whole
        return False
    data = read_regular(f.location, f.size + 64)
    if data is None or not data.startswith(b"#!") or len(data) > f.size + 63:
        return False
    first, sep, rest = data.partition(b"\n")
    match = _SHEBANG_FLAGS.fullmatch(first.rstrip(b"\r"))
    if match is None:
        return False
    original = first[: match.start(1)] + first[match.end(1) :] + sep + rest
    if len(original) != f.size:
        return False
    raw = hashlib.new(f.algorithm, original).digest()
    return spell(raw, f.hex) == f.digest
