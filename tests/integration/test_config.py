"""Configuration through the real CLI: the four sources and their precedence (command line >
VERIFY_ENV_* > the nearest pyproject.toml with [tool.verify-env] > the user config file),
``verify-env config`` naming each value's source, malformed sources as one line with the file
and line, and ``--version`` reading none of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.envs import CliRun, run_cli

PRECEDENCE_LINE = "# precedence: command line > VERIFY_ENV_*"


def _config(cwd: Path, *args: str, env: dict[str, str] | None = None) -> CliRun:
    return run_cli(*args, "config", cwd=cwd, env=env, timeout=60)


def _row(run: CliRun, key: str) -> tuple[str, str]:
    """(value, origin) of one ``key = value  # origin`` line."""
    for line in run.stdout.splitlines():
        if line.startswith(f"{key} ") and "=" in line:
            left, origin = line.split("  # ", 1)
            return left.split("=", 1)[1].strip(), origin.strip()
    raise AssertionError(f"no {key} in:\n{run.stdout}\n{run.stderr}")


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A user config dir, a project with a sub-package, and an unrelated dir."""
    xdg = tmp_path / "xdg"
    (xdg / "verify-env").mkdir(parents=True)
    project = tmp_path / "project"
    sub = project / "pkg" / "sub"
    sub.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return {
        "xdg": xdg,
        "user": xdg / "verify-env" / "config.toml",
        "project": project,
        "sub": sub,
        "elsewhere": elsewhere,
    }


def test_each_source_overrides_the_next(layout: dict[str, Path]) -> None:
    user, project, sub = layout["user"], layout["project"], layout["sub"]
    env = {"XDG_CONFIG_HOME": str(layout["xdg"])}
    default = _config(sub, env=env)
    assert default.returncode == 0, default.stderr
    assert default.stdout.startswith(PRECEDENCE_LINE)
    assert _row(default, "jobs") == ("(not set)", "default")
    assert _row(default, "format") == ('"text"', "default")
    assert f"# user file:    {user} (absent)" in default.stdout

    user.write_text(
        '# mine\njobs = 1\nformat = "junit"\nstrict = true\n\n[pipv]\non-error = "warn"\n'
    )
    from_user = _config(sub, env=env)
    assert _row(from_user, "jobs") == ("1", f"{user}:2")
    assert _row(from_user, "format") == ('"junit"', f"{user}:3")
    assert _row(from_user, "pipv.on-error") == ('"warn"', f"{user}:7")

    # a pyproject.toml without our table (the sub-package's) does not hide the project's
    (sub.parent / "pyproject.toml").write_text('[project]\nname = "pkg"\n')
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.verify-env]\njobs = 2\nbaseline = "ci/base.json"\n'
        '\n[tool.verify-env.pipv]\non-error = "fail"\n'
    )
    from_project = _config(sub, env=env)
    pyproject = project / "pyproject.toml"
    assert f"# project file: {pyproject}\n" in from_project.stdout
    assert _row(from_project, "jobs") == ("2", f"{pyproject}:5")
    assert _row(from_project, "format") == ('"junit"', f"{user}:3")  # still the user's
    assert _row(from_project, "baseline") == (f'"{project / "ci" / "base.json"}"', f"{pyproject}:6")
    assert _row(from_project, "pipv.on-error") == ('"fail"', f"{pyproject}:9")
    # from the project's own directory, paths are shown relative
    at_root = _config(project, env=env)
    assert _row(at_root, "jobs") == ("2", "pyproject.toml:5")

    from_env = _config(sub, env={**env, "VERIFY_ENV_JOBS": "3", "PIPV_ON_ERROR": "warn"})
    assert _row(from_env, "jobs") == ("3", "VERIFY_ENV_JOBS")
    assert _row(from_env, "pipv.on-error") == ('"warn"', "PIPV_ON_ERROR")

    from_cli = _config(
        sub,
        "--jobs",
        "4",
        "--ignore",
        "record:hash-mismatch:certifi",
        env={**env, "VERIFY_ENV_JOBS": "3"},
    )
    assert _row(from_cli, "jobs") == ("4", "command line")
    assert _row(from_cli, "ignore") == ('["record:hash-mismatch:certifi"]', "command line")
    assert _row(from_cli, "strict") == ("true", f"{user}:4")

    # VERIFY_ENV_CONFIG names the user file instead of the platformdirs location
    other = layout["elsewhere"] / "team.toml"
    other.write_text("jobs = 7\n")
    named = _config(layout["elsewhere"], env={**env, "VERIFY_ENV_CONFIG": str(other)})
    assert _row(named, "jobs") == ("7", "team.toml:1")  # below the working dir: relative
    assert _row(named, "format") == ('"text"', "default")


def test_settings_change_what_a_run_does(
    layout: dict[str, Path], bare_venv: Path, cache_dir: Path
) -> None:
    project = layout["project"]
    (project / "pyproject.toml").write_text(
        '[tool.verify-env]\nformat = "json"\nchecks = ["tags", "record"]\noutput = "out/r.json"\n'
    )
    (project / "out").mkdir()
    py = str(bare_venv / "bin" / "python")
    env = {"XDG_CONFIG_HOME": str(layout["xdg"])}
    run = run_cli("--python", py, cache_dir=cache_dir, cwd=layout["sub"], env=env, timeout=120)
    assert run.returncode == 0 and run.stdout == ""
    import json

    report = json.loads((project / "out" / "r.json").read_text())  # relative to the file
    assert report["checks"] == ["record", "tags"]
    text = run_cli(
        "--python",
        py,
        "--format",
        "text",
        "-o",
        "-",
        cache_dir=cache_dir,
        cwd=layout["sub"],
        env={**env, "VERIFY_ENV_CHECKS": "tags"},
        timeout=120,
    )
    assert text.returncode == 0 and text.stdout.rstrip().endswith("[tags]")


def test_legacy_tool_pipv_table(layout: dict[str, Path]) -> None:
    project = layout["project"]
    (project / "pyproject.toml").write_text('[tool.pipv]\non-error = "warn"\nverify = false\n')
    run = _config(project, env={"XDG_CONFIG_HOME": str(layout["xdg"])})
    assert _row(run, "pipv.on-error") == ('"warn"', "pyproject.toml:2")
    assert _row(run, "pipv.verify") == ("false", "pyproject.toml:3")
    (project / "pyproject.toml").write_text(
        '[tool.pipv]\non-error = "warn"\n[tool.verify-env.pipv]\non-error = "fail"\n'
    )
    both = _config(project, env={"XDG_CONFIG_HOME": str(layout["xdg"])})
    assert _row(both, "pipv.on-error") == ('"fail"', "pyproject.toml:4")


@pytest.mark.parametrize(
    "where,content,fragment",
    [
        ("project", "[tool.verify-env]\nstrict = tru\n", "pyproject.toml:2: not valid TOML"),
        (
            "project",
            "[tool.verify-env]\njobs = 2\nstrcit = true\n",
            "pyproject.toml:3: unknown key 'strcit' in [tool.verify-env]; known keys: baseline",
        ),
        (
            "project",
            '[tool.verify-env]\n\n\nstrict = "yes"\n',
            "pyproject.toml:4: strict: expected true or false, not 'yes' (a string)",
        ),
        ("project", "[tool.verify-env]\njobs = 0\n", "pyproject.toml:2: jobs: '0' is not positive"),
        (
            "project",
            '[tool.verify-env]\nformat = "yaml"\n',
            "pyproject.toml:2: format: 'yaml' is not one of text, json, junit",
        ),
        (
            "project",
            '[tool.verify-env]\nchecks = "tags,bogus"\n',
            "pyproject.toml:2: checks: 'tags,bogus': unknown check(s) bogus",
        ),
        (
            "project",
            '[tool.verify-env]\nignore = "record"\n',
            "pyproject.toml:2: ignore: expected an array of rules",
        ),
        (
            "project",
            '[tool.verify-env]\nignore = [\n  {rule = "recrod:x"},\n]\n',
            "pyproject.toml:2: ignore: 'recrod:x': unknown check 'recrod'",
        ),
        (
            "project",
            '[tool.verify-env]\nignore = [{rule = "record", why = "x"}]\n',
            "pyproject.toml:2: ignore: a table in ignore takes rule",
        ),
        (
            "project",
            '[tool.verify-env.pipv]\non-error = "sometimes"\n',
            "pyproject.toml:2: on-error: 'sometimes' is not one of fail, warn",
        ),
        (
            "project",
            "[tool.pipv]\ncolour = 1\n",
            "pyproject.toml:2: unknown key 'colour' in [tool.pipv]; known keys: on-error, verify",
        ),
        (
            "project",
            "[tool]\nverify-env = 3\n",
            "pyproject.toml:2: tool.verify-env must be a table",
        ),
        ("user", "jobs = 2\nimport-timeout = -1\n", "config.toml:2: import-timeout: '-1' is not"),
        (
            "user",
            "[tool.verify-env]\njobs = 2\n",
            "config.toml:1: unknown key 'tool' in the top level",
        ),
        ("user", "x = [\n", "config.toml:1: not valid TOML"),
        ("user", "jobs = 1\n\xff\n", "config.toml:2: not UTF-8 text"),
    ],
)
def test_malformed_configuration_is_one_line(
    where: str, content: str, fragment: str, layout: dict[str, Path]
) -> None:
    path = layout["project"] / "pyproject.toml" if where == "project" else layout["user"]
    path.write_bytes(content.encode("latin-1"))
    run = _config(layout["project"], env={"XDG_CONFIG_HOME": str(layout["xdg"])})
    assert run.returncode == 2, run.stdout
    assert run.stdout == ""
    (line,) = run.stderr.splitlines()
    assert line.startswith("verify-env: ") and fragment in line, line


@pytest.mark.parametrize(
    "name,value,fragment",
    [
        ("VERIFY_ENV_IGNORE", "record:nope", "VERIFY_ENV_IGNORE: 'record:nope': unknown code"),
        ("VERIFY_ENV_IMPORT_TIMEOUT", "soon", "VERIFY_ENV_IMPORT_TIMEOUT: 'soon' is not a number"),
        ("PIPV_ON_ERROR", "shrug", "PIPV_ON_ERROR: 'shrug' is not one of fail, warn"),
        ("VERIFY_ENV_CONFIG", "/nonexistent/verify-env.toml", "no such file"),
    ],
)
def test_malformed_environment_is_one_line(
    name: str, value: str, fragment: str, tmp_path: Path
) -> None:
    run = _config(tmp_path, env={name: value, "XDG_CONFIG_HOME": str(tmp_path)})
    assert run.returncode == 2
    (line,) = run.stderr.splitlines()
    assert fragment in line, line


def test_version_reads_no_configuration(layout: dict[str, Path]) -> None:
    """``--version`` answers with a malformed user file and project file in the way, and
    imports neither the configuration module nor a TOML parser."""
    layout["user"].write_text("x = [\n")
    (layout["project"] / "pyproject.toml").write_text("[tool.verify-env]\nx = [\n")
    env = {"XDG_CONFIG_HOME": str(layout["xdg"])}
    assert run_cli("--version", cwd=layout["project"], env=env, timeout=60).returncode == 0
    assert run_cli("config", cwd=layout["project"], env=env, timeout=60).returncode == 2
    for module in ("verify_env", "verify_env_pip.cli"):
        code = (
            f"import sys; sys.argv = ['x', '--version']; import {module}.cli as c; c.main()"
            if module == "verify_env"
            else f"import sys; import {module} as c; c.main(['--version'])"
        )
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            cwd=layout["project"],
            env={"XDG_CONFIG_HOME": str(layout["xdg"]), "PATH": "/usr/bin"},
            check=False,
        )
        imported = {
            ln.rsplit("|", 1)[-1].strip()
            for ln in proc.stderr.splitlines()
            if ln.startswith("import time:")
        }
        assert "tomllib" not in imported and "verify_env.settings.config" not in imported, module
        assert "platformdirs" not in imported, module
