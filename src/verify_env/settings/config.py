"""Settings, where they come from, and which source wins: one precedence for every front door.

From strongest to weakest: the command line, ``VERIFY_ENV_*`` environment variables (``PIPV_ON_
ERROR`` for pipv's ``on-error``), a front door's own settings (conda's ``plugins:``), the
project's ``[tool.verify-env]`` table, the user's config file, the defaults. Each setting is
taken whole from the strongest source that sets it (an ``ignore`` list is not merged).

**The project file** is the nearest ``pyproject.toml``, from the working directory upward, that
has a ``[tool.verify-env]`` (or a legacy ``[tool.pipv]``) table — ruff's rule for
``[tool.ruff]``: a ``pyproject.toml`` without one (a sub-package's) does not hide the project's.
**The user file** is ``config.toml`` in platformdirs' user config dir
(``~/.config/verify-env/config.toml`` on Linux, ``$XDG_CONFIG_HOME`` honoured), or the file
``VERIFY_ENV_CONFIG`` names; its keys are at the top level. Paths in a file (``baseline``,
``output``) are relative to that file's directory.

pipv's keys live in a ``pipv`` table (``[tool.verify-env.pipv]``, or ``[pipv]`` in the user
file): ``on-error`` (``fail``/``warn``) and ``verify`` (false: pip alone). ``[tool.pipv]`` in the
same pyproject.toml still works; ``[tool.verify-env.pipv]`` wins over it.

**Configuration from the working directory is never a way in** (issue 18, §5): ``--isolated``
(``VERIFY_ENV_ISOLATED``) reads no file and no other ``VERIFY_ENV_*`` variable; findings a file
accepts stay in the report, marked accepted with the file that accepted them; ``output`` in a
file may only name a path inside that file's directory tree; and a file is read non-blocking,
regular files only, at most `MAX_FILE` bytes (a FIFO named ``pyproject.toml`` must not hang
``pipv install``).

Nothing is read until a front door calls `load` after parsing its arguments: ``--version``
reads no file and imports no TOML parser. A malformed file, an unknown key or a wrong type is a
`ConfigError`, ``FILE:LINE: what is wrong``, never silently ignored.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from verify_env.errors import UsageError

if TYPE_CHECKING:
    from verify_env.settings.accept import Baseline, IgnoreRule

__all__ = ["KEYS", "ConfigError", "Key", "Settings", "load", "shown"]

DEFAULT, COMMAND_LINE = "default", "command line"
MAX_FILE = 4 << 20
"""Bytes of a configuration file read at most (a real pyproject.toml is a few KB)."""
ISOLATED_ENV = "VERIFY_ENV_ISOLATED"
IMPORT_ENV = "VERIFY_ENV_IMPORT_ENV"


class ConfigError(UsageError):
    """A configuration source is malformed: the message is ``FILE:LINE: what is wrong`` (or
    ``VARIABLE: …``)."""


@dataclass(frozen=True, slots=True)
class Key:
    """One setting."""

    name: str
    """As a TOML key (``no-cache``); ``pipv.on-error`` lives in the ``pipv`` table."""
    attr: str
    """The `Settings` field."""
    kind: str
    """How a value is read: flag, jobs, seconds, format, checks, path, ignore, on-error."""
    env: str | None
    """Its environment variable."""


KEYS: tuple[Key, ...] = (
    Key("checks", "checks", "checks", "VERIFY_ENV_CHECKS"),
    Key("format", "format", "format", "VERIFY_ENV_FORMAT"),
    Key("output", "output", "path", "VERIFY_ENV_OUTPUT"),
    Key("strict", "strict", "flag", "VERIFY_ENV_STRICT"),
    Key("no-cache", "no_cache", "flag", "VERIFY_ENV_NO_CACHE"),
    Key("jobs", "jobs", "jobs", "VERIFY_ENV_JOBS"),
    Key("blas-probe", "blas_probe", "flag", "VERIFY_ENV_BLAS_PROBE"),
    Key("import-timeout", "import_timeout", "seconds", "VERIFY_ENV_IMPORT_TIMEOUT"),
    Key("ignore", "ignore", "ignore", "VERIFY_ENV_IGNORE"),
    Key("baseline", "baseline", "path", "VERIFY_ENV_BASELINE"),
    Key("pipv.on-error", "on_error", "on-error", "PIPV_ON_ERROR"),
    Key("pipv.verify", "pipv_verify", "flag", None),
)
_BY_NAME = {k.name: k for k in KEYS}
_TOP = frozenset(k.name for k in KEYS if "." not in k.name)
_PIPV = frozenset(k.name.split(".", 1)[1] for k in KEYS if k.name.startswith("pipv."))


@dataclass(frozen=True, slots=True)
class Settings:
    """The effective settings and, per field, where its value came from."""

    checks: str | None = None
    """``--checks``: comma-separated names or ``all``; None for the default checks."""
    format: str = "text"
    output: str | None = None
    strict: bool = False
    no_cache: bool = False
    jobs: int | None = None
    blas_probe: bool = False
    import_timeout: float | None = None
    ignore: tuple[IgnoreRule, ...] = ()
    baseline: str | None = None
    """The baseline file to compare with (a path resolved against its source)."""
    on_error: str = "fail"
    """pipv: ``fail`` (error findings fail the command) or ``warn``."""
    pipv_verify: bool = True
    """pipv: verify after install/uninstall at all."""
    cache_dir: str | None = None
    """``VERIFY_ENV_CACHE_DIR``: where the stat cache lives (None: the user cache dir). Set by
    the variable alone: no file may choose it."""
    import_env: tuple[str, ...] = ()
    """``VERIFY_ENV_IMPORT_ENV``: names of further variables the imported package code may see
    (``--checks imports``). Set by the variable alone: a project file must not hand package
    code the user's tokens."""
    origins: Mapping[str, str] = field(default_factory=dict)
    """Field name -> where its value came from (``default``, ``command line``,
    ``VERIFY_ENV_JOBS``, ``FILE:LINE``)."""
    project_file: str | None = None
    """The pyproject.toml read, if one was found."""
    user_file: str | None = None
    """The user config file looked for (it may be absent)."""

    def read_baseline(self) -> Baseline | None:
        """The configured baseline, read and validated (`UsageError` if it cannot be)."""
        if self.baseline is None:
            return None
        from verify_env.settings.accept import Baseline

        return Baseline.read(self.baseline, shown(self.baseline))


def shown(path: str) -> str:
    """A path as a message shows it: relative when it lies below the working directory."""
    try:
        cwd = os.getcwd()
        rel = os.path.relpath(path, cwd)
    except (OSError, ValueError):
        return path
    return path if rel.startswith("..") or cwd == os.sep else rel


# -- reading one value -------------------------------------------------------------------------


def _kind(value: object) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def _flag(value: object, text: bool) -> bool:
    from verify_env.settings.argtypes import flag

    if text:
        parsed = flag(str(value))
        if parsed is None:
            raise ValueError(f"{value!r} is not a yes or no (1/0, true/false, yes/no, on/off)")
        return parsed
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {value!r} ({_kind(value)})")
    return value


def _number(check: Callable[[str], Any], whole: bool) -> Callable[[object, bool], Any]:
    import argparse

    def read(value: object, text: bool) -> Any:
        ok = (int,) if whole else (int, float)
        if not text and (isinstance(value, bool) or not isinstance(value, ok)):
            raise ValueError(
                f"expected {'an integer' if whole else 'a number'}, not {value!r} ({_kind(value)})"
            )
        try:
            return check(str(value))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(str(exc)) from None

    return read


def _choice(choices: Callable[[], tuple[str, ...]]) -> Callable[[object, bool], str]:
    def read(value: object, text: bool) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices():
            raise ValueError(f"{value!r} is not one of {', '.join(choices())}")
        return value.strip().lower()

    return read


def _formats() -> tuple[str, ...]:
    from verify_env.render import OutputFormat

    return tuple(f.value for f in OutputFormat)


def _checks(value: object, text: bool) -> str:
    from verify_env.checks import CHECKS

    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a string or an array of strings, not {value!r}")
    known = [c.name for c in CHECKS]
    asked = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in asked if p not in known and p != "all"]
    if unknown or not asked:
        raise ValueError(
            f"{value!r}: unknown check(s) {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(known)} or all"
        )
    return ",".join(asked)


def _path(value: object, text: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a file name, not {value!r}")
    return os.path.expanduser(value)


_READERS: dict[str, Callable[[object, bool], Any]] = {
    "flag": _flag,
    "checks": _checks,
    "path": _path,
    "format": _choice(_formats),
    "on-error": _choice(lambda: ("fail", "warn")),
}


def _read(key: Key, value: object, text: bool) -> Any:
    if key.kind in _READERS:
        return _READERS[key.kind](value, text)
    from verify_env.settings.argtypes import jobs, seconds

    return _number(jobs if key.kind == "jobs" else seconds, key.kind == "jobs")(value, text)


def _rules(value: object, source: str, text: bool) -> tuple[IgnoreRule, ...]:
    """``ignore``: strings or ``{rule = …, reason = …}`` tables (a comma-separated string in
    the environment)."""
    from verify_env.settings.accept import parse_rule

    if text:
        value = [p for p in str(value).split(",") if p.strip()]
    if not isinstance(value, list):
        raise ValueError(f"expected an array of rules, not {value!r} ({_kind(value)})")
    out = []
    for item in value:
        reason = None
        if isinstance(item, dict):
            extra = sorted(set(item) - {"rule", "reason"})
            if (
                extra
                or not isinstance(item.get("rule"), str)
                or not isinstance(item.get("reason", ""), str)
            ):
                raise ValueError(
                    f'a table in ignore takes rule = "…" and reason = "…", not {item!r}'
                )
            item, reason = item["rule"], item.get("reason") or None
        if not isinstance(item, str):
            raise ValueError(f"a rule is a string or a table, not {item!r} ({_kind(item)})")
        out.append(parse_rule(item, source, reason))
    return tuple(out)


# -- sources -----------------------------------------------------------------------------------

Layer = dict[str, tuple[Any, str]]
"""Settings field -> (value, origin) from one source."""


def _from_cli(given: Mapping[str, object]) -> Layer:
    layer: Layer = {}
    for key in KEYS:
        value = given.get(key.attr)
        if value is None:
            continue
        try:
            if key.kind == "ignore":
                from verify_env.settings.accept import parse_rule

                assert isinstance(value, (list, tuple))
                value = tuple(parse_rule(str(v), "--ignore") for v in value)
            elif key.kind == "checks":
                value = _checks(value, True)
        except ValueError as exc:
            raise ConfigError(f"--{key.name}: {exc}") from None
        layer[key.attr] = (value, COMMAND_LINE)
    return layer


def _from_env(environ: Mapping[str, str]) -> Layer:
    layer: Layer = {}
    for key in KEYS:
        text = environ.get(key.env or "")
        if not key.env or not text:  # set but empty counts as unset
            continue
        try:
            value = _rules(text, key.env, True) if key.kind == "ignore" else _read(key, text, True)
        except ValueError as exc:
            raise ConfigError(f"{key.env}: {exc}") from None
        layer[key.attr] = (value, key.env)
    return layer


def from_mapping(values: Mapping[str, object], origin: str) -> Layer:
    """A front door's own settings (conda's ``plugins.verify_env_*``), by TOML key name, typed
    as in a file."""
    layer: Layer = {}
    for name, value in values.items():
        key = _BY_NAME[name]
        try:
            value = (
                _rules(value, origin, False) if key.kind == "ignore" else _read(key, value, False)
            )
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
        layer[key.attr] = (value, origin)
    return layer


_TOML_ERROR = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")
_OUR_TABLES = re.compile(rb"""tool\s*\.\s*["']?(verify-env|pipv)\b""")


def _parse_toml(path: str, data: bytes) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    try:
        doc: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
        return doc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{shown(path)}:{line}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_ERROR.search(message)
        if found and found.group(1):
            line, column = int(found.group(1)), f" (column {found.group(2)})"
        else:  # at the end of the document
            line, column = data.count(b"\n") + (not data.endswith(b"\n")), " (at the end)"
        message = _TOML_ERROR.sub("", message)
        raise ConfigError(f"{shown(path)}:{line}: not valid TOML: {message}{column}") from None


def _line_of(text: str, key: str, table: str | None) -> int:
    """The line of ``key`` in ``[table]`` (its header's line, or 1, when no line says it)."""
    lines = text.splitlines()
    start = 0
    if table is not None:
        header = re.compile(
            r"^\s*\[\s*"
            + r"\s*\.\s*".join(rf"""["']?{re.escape(part)}["']?""" for part in table.split("."))
            + r"\s*\]"
        )
        found = next((i for i, ln in enumerate(lines) if header.match(ln)), None)
        if found is None:
            return 1
        start = found + 1
    assign = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for i in range(start, len(lines)):
        if lines[i].lstrip().startswith("["):  # the next table
            break
        if assign.match(lines[i]):
            return i + 1
    return start if table is not None else 1


def _from_table(
    path: str,
    text: str,
    table: dict[str, Any],
    name: str | None,
    allowed: frozenset[str],
    prefix: str,
    layer: Layer,
) -> None:
    """Validate one table's keys into ``layer`` (``name``: its TOML path, None at top)."""
    for raw_key, value in table.items():
        line = _line_of(text, raw_key, name)
        where = f"{shown(path)}:{line}"
        if prefix == "" and raw_key == "pipv":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: pipv must be a table, not {_kind(value)}")
            sub = f"{name}.pipv" if name else "pipv"
            _from_table(path, text, value, sub, _PIPV, "pipv.", layer)
            continue
        if raw_key not in allowed:
            choices = ", ".join(sorted(allowed | ({"pipv"} if prefix == "" else set())))
            raise ConfigError(
                f"{where}: unknown key {raw_key!r} in "
                f"{'[' + name + ']' if name else 'the top level'}; "
                f"known keys: {choices}"
            )
        key = _BY_NAME[prefix + raw_key]
        try:
            if key.kind == "ignore":
                origin = f"{shown(path)} [{name}] ignore" if name else f"{shown(path)} ignore"
                parsed: Any = _rules(value, origin, False)
            else:
                parsed = _read(key, value, False)
        except ValueError as exc:
            raise ConfigError(f"{where}: {raw_key}: {exc}") from None
        if key.kind == "path" and parsed != "-":  # "-": stdout, not a file named -
            parsed = os.path.normpath(os.path.join(os.path.dirname(path), parsed))
            if key.name == "output" and not _inside(parsed, os.path.dirname(path)):
                raise ConfigError(
                    f"{where}: output: {value!r} lies outside {shown(os.path.dirname(path))}; "
                    "a configuration file may only write inside its own directory tree "
                    "(give -o on the command line to write elsewhere)"
                )
        layer[key.attr] = (parsed, where)


def _inside(path: str, root: str) -> bool:
    """Whether ``path`` (its directory resolved, symlinks followed) lies below ``root``."""
    real_root = os.path.realpath(root)
    real = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    return os.path.commonpath([real_root, real]) == real_root and real != real_root


def _bounded(path: str) -> bytes | None:
    """A configuration file's bytes: None when absent or not a regular file (a FIFO, a
    device, a link to /dev/zero); `ConfigError` when larger than `MAX_FILE`."""
    from verify_env.files import open_regular

    opened = open_regular(path)
    if opened is None:
        return None
    fd, st = opened
    try:
        if st.st_size > MAX_FILE:
            raise ConfigError(
                f"{shown(path)}: {st.st_size} bytes; a configuration file may have "
                f"{MAX_FILE >> 20} MiB at most"
            )
        chunks, left = [], st.st_size
        while left > 0:
            chunk = os.read(fd, left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_file(path: str) -> tuple[bytes, str]:
    data = _bounded(path)
    if data is None:
        raise ConfigError(f"{shown(path)}: cannot read: not a readable regular file")
    return data, data.decode("utf-8", "replace")


def find_project(cwd: str) -> tuple[str, bytes, dict[str, Any]] | None:
    """The nearest pyproject.toml from ``cwd`` upward with one of our tables, its bytes and its
    document. Only files that mention ``verify-env`` or ``pipv`` are parsed; one that does and
    cannot be parsed is an error only when it plainly has our table (``[tool.verify-env…``):
    a broken pyproject.toml of someone else's is not ours to judge."""
    here = os.path.abspath(cwd)
    while True:
        candidate = os.path.join(here, "pyproject.toml")
        try:
            data = _bounded(candidate) or b""
        except ConfigError:
            data = b""  # too big to be a project file of ours; not ours to judge either
        if b"verify-env" in data or b"pipv" in data:
            try:
                doc = _parse_toml(candidate, data)
            except ConfigError:
                if _OUR_TABLES.search(data):
                    raise
                doc = {}
            tool = doc.get("tool")
            if isinstance(tool, dict) and ("verify-env" in tool or "pipv" in tool):
                return candidate, data, doc
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _from_project(path: str, data: bytes, doc: dict[str, Any]) -> Layer:
    text = data.decode("utf-8", "replace")
    tool = doc["tool"]
    layer: Layer = {}
    legacy = tool.get("pipv")
    if legacy is not None:  # [tool.pipv] first, so that [tool.verify-env.pipv] wins
        if not isinstance(legacy, dict):
            raise ConfigError(
                f"{shown(path)}:{_line_of(text, 'pipv', 'tool')}: "
                f"tool.pipv must be a table, not {_kind(legacy)}"
            )
        _from_table(path, text, legacy, "tool.pipv", _PIPV, "pipv.", layer)
    ours = tool.get("verify-env")
    if ours is not None:
        if not isinstance(ours, dict):
            raise ConfigError(
                f"{shown(path)}:{_line_of(text, 'verify-env', 'tool')}: "
                f"tool.verify-env must be a table, not {_kind(ours)}"
            )
        _from_table(path, text, ours, "tool.verify-env", _TOP, "", layer)
    return layer


def user_file(environ: Mapping[str, str]) -> tuple[str, bool]:
    """The user config file and whether it was named explicitly (``VERIFY_ENV_CONFIG``)."""
    named = environ.get("VERIFY_ENV_CONFIG")
    if named:
        return os.path.abspath(os.path.expanduser(named)), True
    if sys.platform.startswith("linux"):
        # platformdirs' rule for Linux, without its import (~10 ms on every pipv install)
        base = environ.get("XDG_CONFIG_HOME", "")
        if not base.strip():
            base = os.path.expanduser("~/.config")
        return os.path.join(base, "verify-env", "config.toml"), False
    import platformdirs

    return os.path.join(
        platformdirs.user_config_dir("verify-env", appauthor=False), "config.toml"
    ), False


def _from_user(path: str, explicit: bool) -> Layer:
    if not os.path.exists(path):
        if explicit:
            raise ConfigError(f"VERIFY_ENV_CONFIG={path!r}: no such file")
        return {}
    data, text = _read_file(path)
    layer: Layer = {}
    _from_table(path, text, _parse_toml(path, data), None, _TOP, "", layer)
    return layer


def _isolated_from(environ: Mapping[str, str]) -> bool:
    text = environ.get(ISOLATED_ENV)
    if not text:
        return False
    try:
        return _flag(text, True)
    except ValueError as exc:
        raise ConfigError(f"{ISOLATED_ENV}: {exc}") from None


def load(
    cli: Mapping[str, object] | None = None,
    *,
    front: Layer | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | None = None,
    isolated: bool | None = None,
) -> Settings:
    """The effective settings: ``cli`` (field -> value given on the command line), the
    environment, ``front`` (a front door's own settings, see `from_mapping`), the project
    file, the user file, the defaults. ``isolated`` (``--isolated``; None: from
    ``VERIFY_ENV_ISOLATED``) keeps the command line and the defaults only. Raises
    `ConfigError`."""
    environ = os.environ if environ is None else environ
    if isolated is None:
        isolated = _isolated_from(environ)
    if isolated:
        return Settings(
            **{attr: value for attr, (value, _) in _from_cli(cli or {}).items()},
            origins={
                k.attr: COMMAND_LINE if (cli or {}).get(k.attr) is not None else DEFAULT
                for k in KEYS
            },
        )
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was removed: no project file is in it
            cwd = None
    found = find_project(cwd) if cwd is not None else None
    user, explicit = user_file(environ)
    from verify_env.cache.location import CACHE_DIR_ENV, env_cache_dir

    cache_dir = env_cache_dir(environ)
    import_env = tuple(n.strip() for n in environ.get(IMPORT_ENV, "").split(",") if n.strip())
    layers = [
        _from_user(user, explicit),
        _from_project(*found) if found else {},
        front or {},
        _from_env(environ),
        _from_cli(cli or {}),
    ]
    values: dict[str, Any] = {"cache_dir": cache_dir, "import_env": import_env}
    origins = {k.attr: DEFAULT for k in KEYS}
    origins["cache_dir"] = CACHE_DIR_ENV if cache_dir else DEFAULT
    origins["import_env"] = IMPORT_ENV if import_env else DEFAULT
    for layer in layers:
        for attr, (value, origin) in layer.items():
            values[attr] = value
            origins[attr] = origin
    return Settings(
        **values, origins=origins, project_file=found[0] if found else None, user_file=user
    )
