"""verify-env's configuration as the conda plugin reads it: the same sources and precedence as
``verify-env`` (`verify_env.settings.config`), with conda's own ``plugins:`` settings between the
``VERIFY_ENV_*`` variables and the project file:

```
plugins:
  verify_env_ignore: ["record:hash-mismatch:ca-certificates"]
  verify_env_baseline: /srv/env/verify-env-baseline.json
```

(or ``CONDA_PLUGINS_VERIFY_ENV_IGNORE`` / ``CONDA_PLUGINS_VERIFY_ENV_BASELINE``). No conda here:
`hooks.py` hands over ``context.plugins``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from verify_env.session import Session
    from verify_env.settings.config import Layer, Settings

__all__ = [
    "CONDA_SETTINGS",
    "full_session",
    "load_settings",
    "plugin_layer",
    "transaction_session",
]

#: verify-env key -> conda ``plugins.`` setting.
CONDA_SETTINGS = {"ignore": "verify_env_ignore", "baseline": "verify_env_baseline"}


def plugin_layer(plugins: object | None) -> Layer:
    """The ``plugins.verify_env_*`` values conda parsed, as a configuration layer."""
    from verify_env.settings.config import from_mapping

    layer: Layer = {}
    for key, setting in CONDA_SETTINGS.items():
        value = getattr(plugins, setting, None) if plugins is not None else None
        if not value:
            continue
        value = [str(v) for v in value] if key == "ignore" else str(value)
        layer.update(from_mapping({key: value}, f"conda plugins.{setting}"))
    return layer


def load_settings(
    plugins: object | None = None, cli: Mapping[str, object] | None = None
) -> Settings:
    """The effective settings (`verify_env.settings.config.ConfigError` when a source is
    malformed)."""
    from verify_env.settings.config import load

    return load(cli, front=plugin_layer(plugins))


def transaction_session(plugins: object | None = None, stream: TextIO | None = None) -> Session:
    """The session of a transaction hook. A malformed source (or a baseline that cannot be
    read) is said in one line (on ``stream``, where the plugin's other lines go: stdout unless
    conda prints JSON there) and the defaults are used, accepting nothing: a typo must not hide
    findings, nor stop conda."""
    from verify_env.errors import VerifyEnvError
    from verify_env.session import Session

    try:
        return Session(load_settings(plugins), transaction=True)
    except VerifyEnvError as exc:
        print(f"verify-env: {exc}; accepting nothing", file=stream or sys.stdout)
        return Session(transaction=True)


def full_session(plugins: object | None = None, stream: TextIO | None = None) -> Session:
    """The session of the doctor's check and fixer: the configured checks of a full run, with
    the same fallback as `transaction_session`."""
    from verify_env.errors import VerifyEnvError
    from verify_env.session import Session

    try:
        return Session(load_settings(plugins))
    except VerifyEnvError as exc:
        print(f"verify-env: {exc}; accepting nothing", file=stream or sys.stdout)
        return Session()
