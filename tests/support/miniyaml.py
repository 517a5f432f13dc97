"""Just enough YAML for ``recipe/recipe.yaml``: block mappings, block lists of scalars or of
mappings, ``|`` text, plain and double-quoted scalars, ``#`` comments. The project does not
depend on a YAML library; a construct outside this subset raises, so the recipe stays simple."""

from __future__ import annotations

from typing import Any

__all__ = ["load"]


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def _lines(source: str) -> list[tuple[int, str]]:
    out = []
    for raw in source.splitlines():
        stripped = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if stripped.strip():
            out.append((len(stripped) - len(stripped.lstrip()), stripped.strip()))
    return out


def load(source: str) -> Any:
    lines = _lines(source)
    value, end = _block(lines, 0, 0)
    if end != len(lines):
        raise ValueError(f"unparsed line {lines[end]!r}")
    return value


def _block(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[Any, int]:
    if lines[i][1].startswith("- "):
        return _list(lines, i, indent)
    return _mapping(lines, i, indent)


def _list(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
        item = lines[i][1][2:]
        if ":" in item and not item.startswith('"') and " = " not in item:
            # "- key: value" opens a mapping whose keys sit two columns further in
            lines[i] = (indent + 2, item)
            value, i = _mapping(lines, i, indent + 2)
            out.append(value)
        else:
            out.append(_scalar(item))
            i += 1
    return out, i


def _mapping(lines: list[tuple[int, str]], i: int, indent: int) -> tuple[dict[str, Any], int]:
    out: dict[str, Any] = {}
    while i < len(lines) and lines[i][0] == indent:
        key, sep, rest = lines[i][1].partition(":")
        if not sep:
            raise ValueError(f"expected 'key: value', got {lines[i][1]!r}")
        rest = rest.strip()
        i += 1
        if rest == "|":
            text = []
            while i < len(lines) and lines[i][0] > indent:
                text.append(lines[i][1])
                i += 1
            out[key] = "\n".join(text) + "\n"
        elif rest:
            out[key] = _scalar(rest)
        elif i < len(lines) and lines[i][0] > indent:
            out[key], i = _block(lines, i, lines[i][0])
        else:
            out[key] = None
    return out, i
