"""Our own failures: the tool could not run. A broken environment is never one of these.

The CLI turns any `VerifyEnvError` into one line on stderr and exit status 2.
"""

from __future__ import annotations

__all__ = ["InterpreterFailed", "ProbeError", "UsageError", "VerifyEnvError"]


class VerifyEnvError(Exception):
    """Root of every error verify-env raises on purpose."""


class UsageError(VerifyEnvError):
    """The arguments or settings asked for something that cannot be done."""


class ProbeError(VerifyEnvError):
    """The target interpreter could not be asked for its facts."""


class InterpreterFailed(ProbeError):
    """The target interpreter could not start, or exited with an error before answering: the
    environment is then described from its files (`verify_env.target.fallback`). A probe that
    hangs, floods its output or answers garbage stays a `ProbeError`: nothing to reconcile."""
