"""A user-site copy that shadows the environment's (``shadowed-module``).

``pip install --user numpy==1.24`` puts a copy in ``~/.local/lib/python3.X/site-packages``; a
Python that is not a venv (or a venv with ``include-system-site-packages = true``) puts the user
site before its own site-packages on sys.path (``site.main``: ``addusersitepackages`` runs
before ``addsitepackages``; in a venv, its own site-packages come first), so ``import numpy``
gets 1.24 while the environment holds numpy 2, and code written for 2 fails with ``No module
named 'numpy.exceptions'``. Nothing is damaged; the environment's numpy is whole. The finding
names the copy Python imports, and its repair removes it.

Whether the user site is on, and where it is, comes from the target's facts (`introspect`
works it out from files and the running user's HOME the way ``site`` does:
``ENABLE_USER_SITE``, ``-s``/``PYTHONNOUSERSITE``, a venv's ``pyvenv.cfg``). A copy of the same
version shadows nothing that matters and is not reported.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator

from verify_env.checks.interface import Context
from verify_env.finding import Finding, Severity
from verify_env.inventory import Distribution

__all__ = ["user_site_shadowing"]

Provided = dict[str, list[tuple[str, Distribution]]]
"""Top-level module name -> [(site dir, distribution providing it)] (`paths._provided`)."""


def user_site_shadowing(ctx: Context, provided: Callable[[], Provided]) -> Iterator[Finding]:
    """One error per user-site distribution whose modules shadow another version (or another
    project) in a site dir later on sys.path."""
    user = ctx.target.user_site
    if user is None:
        return
    user = os.path.normpath(user)
    if not any(
        d.site_dir and os.path.normpath(d.site_dir) == user for d in ctx.inventory.distributions
    ):
        return
    order = {os.path.normpath(p): i for i, p in reversed(list(enumerate(ctx.target.sys_path)))}
    if user not in order:
        return
    python = shlex.quote(ctx.target.executable or "python")
    reported: set[tuple[int, int]] = set()
    for name, holders in sorted(provided().items()):
        mine = [d for site, d in holders if os.path.normpath(site) == user]
        later = [
            (site, d) for site, d in holders if order.get(os.path.normpath(site), -1) > order[user]
        ]
        for copy in mine:
            for site, shadowed in later:
                if (id(copy), id(shadowed)) in reported or (
                    copy.key == shadowed.key and copy.version == shadowed.version
                ):
                    continue
                reported.add((id(copy), id(shadowed)))
                if not ctx.scope.includes(copy) and not ctx.scope.includes(shadowed):
                    continue
                yield Finding(
                    "paths",
                    "shadowed-module",
                    Severity.ERROR,
                    copy.name,
                    copy.version,
                    copy.installer,
                    os.path.join(user, name),
                    f"{copy.name} {copy.version} in the user site ({user}) shadows the "
                    f"environment's {shadowed.name} {shadowed.version} ({site}): "
                    f"'import {name}' gets the user site's {copy.version}, whatever the "
                    "environment holds",
                    f"remove the user-site copy: {python} -m pip uninstall -y {copy.name} "
                    "(pip removes the first copy on sys.path, the user site's), or run "
                    "with PYTHONNOUSERSITE=1",
                )
