"""The registry, the check modules and the CODES table agree, member by member."""

from __future__ import annotations

import importlib

import pytest

from verify_env.checks import CHECKS, by_name
from verify_env.finding import CODES
from verify_env.verify import DEFAULT_CHECKS, parse_checks


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_module_matches_its_registry_line(check: object) -> None:
    from verify_env.checks.interface import Check

    assert isinstance(check, Check)
    module = importlib.import_module(check.module)
    assert check.name == module.NAME
    assert set(module.CODES) == set(check.codes) and check.codes


def test_every_code_belongs_to_a_registered_check() -> None:
    names = set(by_name())
    assert {c.check for c in CODES.values()} == names


def test_imports_is_never_default_and_all_selects_every_check() -> None:
    assert "imports" not in DEFAULT_CHECKS and "requirements" in DEFAULT_CHECKS
    assert parse_checks("all") == tuple(c.name for c in CHECKS)


def test_the_default_checks_named_in_cli_help_are_the_registrys() -> None:
    from verify_env import cli
    from verify_env.settings import argtypes
    from verify_env.verify import DEFAULT_CHECKS

    assert ",".join(DEFAULT_CHECKS) == argtypes.DEFAULT_CHECKS
    assert argtypes.DEFAULT_CHECKS in cli.build_parser().format_help().replace("\n", " ")
