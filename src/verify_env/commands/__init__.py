"""``verify-env``'s subcommands and side entries: ``config``, ``--explain`` and the pre-commit
hook (`precommit`)."""
