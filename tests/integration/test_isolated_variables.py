"""``--isolated`` (and ``VERIFY_ENV_ISOLATED``) ignores every ``VERIFY_ENV_*`` variable, the
cache dir and the variables passed to package code included (issue 18, §5); and no module but
the settings (and the cache location they share with pipv's journal) reads one.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.envs import run_cli
from tests.support.six import six_env
from verify_env.session import Session
from verify_env.settings.config import load

SRC = Path(__file__).resolve().parents[2]
READERS = {"settings/config.py", "cache/location.py"}


def _caches(root: Path) -> list[Path]:
    return sorted(root.glob("**/stat-cache/*.bin"))


def test_isolated_run_ignores_the_cache_dir_variable(
    six_wheel: Path, py311: str, tmp_path: Path
) -> None:
    env = six_env(py311, tmp_path / "env", six_wheel)
    named, xdg = tmp_path / "named", tmp_path / "xdg"
    args = ["--python", str(env / "bin" / "python"), "--format", "json"]
    variables = {"XDG_CACHE_HOME": str(xdg), "VERIFY_ENV_STRICT": "yes"}
    for isolated, extra in (({}, ["--isolated"]), ({"VERIFY_ENV_ISOLATED": "1"}, [])):
        run = run_cli(*args, *extra, cache_dir=named, env={**variables, **isolated})
        assert run.returncode == 0, run.stdout
        assert not named.exists(), f"VERIFY_ENV_CACHE_DIR was obeyed with {extra or isolated}"
        assert len(_caches(xdg)) == 1  # the user cache dir, as if the variable were unset
    plain = run_cli(*args, cache_dir=named, env={"XDG_CACHE_HOME": str(xdg)})
    assert plain.returncode == 0, plain.stdout
    assert len(_caches(named)) == 1  # without isolation the variable is the cache dir


def test_isolated_settings_pass_no_variable_to_package_code() -> None:
    environ = {"VERIFY_ENV_IMPORT_ENV": "MY_TOKEN", "VERIFY_ENV_CACHE_DIR": "/somewhere"}
    plain = load(environ=environ, cwd="/")
    assert (plain.import_env, plain.cache_dir) == (("MY_TOKEN",), "/somewhere")
    assert Session(plain).options.import_env == ("MY_TOKEN",)
    for settings in (
        load(environ=environ, cwd="/", isolated=True),
        load(environ={**environ, "VERIFY_ENV_ISOLATED": "true"}, cwd="/"),
    ):
        assert (settings.import_env, settings.cache_dir) == ((), None)
        session = Session(settings)
        assert session.options.import_env == ()
        assert not session.cache_dir.startswith("/somewhere")

    from verify_env.checks.imports.run import scrubbed_env

    seen = {"MY_TOKEN": "x", "PATH": "/bin"}
    assert scrubbed_env(seen, ()) == {"PATH": "/bin"}
    assert scrubbed_env(seen, ("MY_TOKEN",)) == seen


def test_only_the_settings_read_verify_env_variables() -> None:
    """A new ``VERIFY_ENV_*`` read elsewhere would escape ``--isolated``."""
    package = SRC / "src" / "verify_env"
    read = re.compile(
        r"environ(?:\.get)?\s*[\[(]\s*f?[\"']VERIFY_ENV_|getenv\(\s*f?[\"']VERIFY_ENV_"
    )
    readers = {
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if read.search(path.read_text(encoding="utf-8"))
    }
    assert readers <= READERS, readers - READERS
