"""conda plugin for verify-env: ``conda verify``, a ``conda doctor`` check, and verification
after every conda transaction.

conda imports this module at start-up through the ``conda`` entry-point group and collects the
hook functions from it. Outside conda (tests, ``pip install verify-env`` alone) the hooks are
absent and the logic modules beside this one import without conda. Any other import error
propagates: conda would skip the plugin with one warning line, so tests guard against it.
"""

from __future__ import annotations

try:
    import conda.plugins  # noqa: F401  (present whenever conda loads this plugin)
except ModuleNotFoundError as exc:
    if exc.name not in ("conda", "conda.plugins"):
        raise
    HAVE_CONDA = False
else:
    HAVE_CONDA = True
    from verify_env_conda.hooks import (
        conda_health_checks,
        conda_post_commands,
        conda_post_transaction_actions,
        conda_pre_commands,
        conda_settings,
        conda_subcommands,
    )

__all__ = [
    "HAVE_CONDA",
    "conda_health_checks",
    "conda_post_commands",
    "conda_post_transaction_actions",
    "conda_pre_commands",
    "conda_settings",
    "conda_subcommands",
]
