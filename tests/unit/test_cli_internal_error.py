"""A bug of ours is one line and exit 2; --debug shows the traceback."""

from __future__ import annotations

import pytest

from verify_env import cli
from verify_env import verify as engine
from verify_env.report import Report


def _broken(*_args: object, **_kwargs: object) -> Report:
    raise RuntimeError("boom in a check")


def test_internal_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(engine, "verify", _broken)
    assert cli.main(["--no-cache"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "verify-env: internal error: RuntimeError: boom in a check (--debug shows the traceback)"
    ]


def test_debug_lets_the_traceback_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "verify", _broken)
    with pytest.raises(RuntimeError, match="boom in a check"):
        cli.main(["--no-cache", "--debug"])
