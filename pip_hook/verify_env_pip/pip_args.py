"""Reading a pip command line just enough: which subcommand, and pipv's own options out of it.

pip's general options may come before the subcommand (``pip -q --cache-dir X install y``);
those that take a value are listed so that the value is not mistaken for the subcommand. The
list is pip's ``general_group`` (pip 23-25); an unknown option is assumed to be a flag, as pip
itself would then complain about it.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["PipCommand", "parse"]

_GENERAL_WITH_VALUE = frozenset(
    {
        "--python",
        "--log",
        "--log-file",
        "--local-log",
        "--keyring-provider",
        "--proxy",
        "--retries",
        "--resume-retries",
        "--timeout",
        "--exists-action",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--cache-dir",
        "--use-feature",
        "--use-deprecated",
    }
)
# Commands that change what is installed; everything else passes straight through.
TRANSACTIONS = frozenset({"install", "uninstall"})


class PipCommand:
    """A pip command line with pipv's own options taken out.

    Written out rather than a dataclass: this is read before pip is started, on every pip
    command, and importing dataclasses (inspect, ast, dis) cost 9.4 ms of that here."""

    __slots__ = ("allow_conda_overwrite", "args", "at", "no_verify", "python", "subcommand")

    def __init__(
        self,
        args: tuple[str, ...],
        subcommand: str | None,
        python: str | None = None,
        no_verify: bool = False,
        allow_conda_overwrite: bool = False,
        at: int = -1,
    ) -> None:
        self.args = args
        """What pip receives."""
        self.subcommand = subcommand
        """``install``, ``list`` … or None (``pip``, ``pip --version``)."""
        self.at = at
        """Index of the subcommand in ``args`` (-1 without one)."""
        self.python = python
        """``--python PATH`` given to pipv: the interpreter whose pip runs and whose env is
        verified (pip's own ``--python`` means the same)."""
        self.no_verify = no_verify
        self.allow_conda_overwrite = allow_conda_overwrite

    @property
    def changes_environment(self) -> bool:
        if self.subcommand not in TRANSACTIONS:
            return False
        return not any(a == "--dry-run" for a in self.args)

    def option_values(self, *names: str) -> list[str]:
        """Values of the subcommand's options ``names`` (``--target X`` or ``--target=X``)."""
        out: list[str] = []
        it = iter(self.args)
        for arg in it:
            for name in names:
                if arg == name:
                    out.append(next(it, ""))
                elif arg.startswith(name + "="):
                    out.append(arg.split("=", 1)[1])
        return out


def parse(argv: Sequence[str]) -> PipCommand:
    args: list[str] = []
    python = None
    no_verify = allow = False
    subcommand = None
    at = -1
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            args.extend(argv[i:])
            break
        if arg == "--no-verify":
            no_verify = True
        elif arg == "--allow-conda-overwrite":
            allow = True
        elif subcommand is None and arg == "--python" and i + 1 < len(argv):
            python = argv[i + 1]
            i += 1
        elif subcommand is None and arg.startswith("--python="):
            python = arg.split("=", 1)[1]
        else:
            args.append(arg)
            if subcommand is None:
                if arg in _GENERAL_WITH_VALUE and i + 1 < len(argv):
                    args.append(argv[i + 1])
                    i += 1
                elif not arg.startswith("-"):
                    subcommand, at = arg, len(args) - 1
        i += 1
    return PipCommand(tuple(args), subcommand, python, no_verify, allow, at)


# Options of `pip install` that say where packages come from and where they go: a repair that
# finishes an interrupted install passes them on, so that the same index (or wheel dir, or
# --user site) serves the same versions. Requirement strings, files and -r are not among them:
# the repair names the exact versions instead.
_CARRIED_WITH_VALUE = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--proxy",
        "--only-binary",
        "--no-binary",
        "--target",
        "-t",
        "--prefix",
        "--root",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--keyring-provider",
        "--config-settings",
        "-C",
    }
)
_CARRIED_FLAGS = frozenset(
    {
        "--no-index",
        "--pre",
        "--prefer-binary",
        "--user",
        "--isolated",
        "--no-build-isolation",
        "--use-pep517",
        "--no-use-pep517",
        "--break-system-packages",
    }
)


def carried_options(args: Sequence[str]) -> list[str]:
    """The options of ``args`` that a repair of the same install must pass on."""
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg in _CARRIED_FLAGS:
            out.append(arg)
        elif arg in _CARRIED_WITH_VALUE and i + 1 < len(args):
            out += [arg, args[i + 1]]
            i += 1
        elif "=" in arg and name in _CARRIED_WITH_VALUE and name.startswith("--"):
            out.append(arg)
        elif arg == "--":
            break
        i += 1
    return out
