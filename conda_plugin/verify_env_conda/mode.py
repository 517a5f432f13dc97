"""The ``verify_env_mode`` setting: what a finding after a conda transaction does.

``off`` skips verification, ``warn`` (the default) prints the findings and lets the transaction
stand, ``fail`` turns an error finding into a rolled-back transaction. conda reads the setting
from ``.condarc`` (``plugins: verify_env_mode: fail``) or ``CONDA_PLUGINS_VERIFY_ENV_MODE``.
"""

from __future__ import annotations

import enum

__all__ = ["DEFAULT_MODE", "SETTING", "Mode", "parse_mode"]

SETTING = "verify_env_mode"


class Mode(str, enum.Enum):
    """What a transaction's findings do."""

    OFF = "off"
    WARN = "warn"
    FAIL = "fail"

    def __str__(self) -> str:
        return self.value


DEFAULT_MODE = Mode.WARN


def parse_mode(value: object) -> Mode:
    """The setting's value as a `Mode`; an unknown value is refused with the choices, because a
    typo in ``fail`` must not quietly mean ``warn``."""
    if value is None or value == "":
        return DEFAULT_MODE
    text = str(value).strip().lower()
    for mode in Mode:
        if mode.value == text:
            return mode
    raise ValueError(f"plugins.{SETTING} = {value!r}: choose off, warn or fail")
