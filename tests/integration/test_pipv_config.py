"""pipv reads verify-env's configuration: an ignore rule or a baseline from the project's
pyproject.toml accepts what the transaction's verification finds; a malformed one stops pipv
before pip runs."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_pipv import pipv
from tests.support.envs import clone_env
from tests.support.wheels import tampered_wheel


def test_pipv_honours_the_project_configuration(
    bare_venv: Path, tmp_path: Path, cache_dir: Path
) -> None:
    env = clone_env(bare_venv, tmp_path / "env")
    py = str(env / "bin/python")
    wheel = tampered_wheel(tmp_path)
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "app"\n\n[tool.verify-env]\nignore = [\n'
        '  {rule = "record:hash-mismatch:tampered", reason = "the vendor\'s known RECORD"},\n]\n'
    )
    isolated = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    run = pipv(
        "--python",
        py,
        "install",
        "--no-index",
        str(wheel),
        cache_dir=cache_dir,
        cwd=project / "src",
        env=isolated,
    )
    assert run.returncode == 0, run.stderr
    assert "Successfully installed tampered-1.0" in run.stdout
    assert (
        "info: [record/hash-mismatch] tampered/__init__.py content differs from its "
        f"recorded sha256 digest (accepted: {project / 'pyproject.toml'} [tool.verify-env] "
        "ignore record:hash-mismatch:tampered — the vendor's known RECORD)"
    ) in run.stderr
    assert "pipv: verified 1 changed + 0 affected distributions: OK, 1 accepted" in run.stderr

    # without the rule, the same install fails; a baseline written by verify-env accepts it
    (project / "pyproject.toml").write_text('[tool.verify-env]\nbaseline = "base.json"\n')
    from tests.support.envs import run_cli

    written = run_cli(
        "--python",
        py,
        "--baseline",
        "write",
        str(project / "base.json"),
        cache_dir=cache_dir,
        env=isolated,
        timeout=120,
    )
    assert written.returncode == 0, written.stderr
    again = pipv(
        "--python",
        py,
        "install",
        "--no-index",
        "--force-reinstall",
        str(wheel),
        cache_dir=cache_dir,
        cwd=project,
        env=isolated,
    )
    assert again.returncode == 0, again.stderr
    assert "(accepted: baseline base.json)" in again.stderr
    absent = pipv(
        "--python",
        py,
        "install",
        "--no-index",
        "--force-reinstall",
        str(wheel),
        cache_dir=cache_dir,
        cwd=tmp_path,
        env=isolated,
    )
    assert absent.returncode == 1 and "1 error" in absent.stderr

    # a baseline that cannot be read stops pipv before pip runs
    (project / "base.json").write_text("{}")
    bad = pipv(
        "--python",
        py,
        "uninstall",
        "-y",
        "tampered",
        cache_dir=cache_dir,
        cwd=project,
        env=isolated,
    )
    assert bad.returncode == 2
    assert "pipv: base.json:1: not a verify-env baseline" in bad.stderr
    assert "Successfully uninstalled" not in bad.stdout

    # pipv.verify = false: pip alone
    (project / "pyproject.toml").write_text("[tool.verify-env.pipv]\nverify = false\n")
    alone = pipv(
        "--python",
        py,
        "install",
        "--no-index",
        "--force-reinstall",
        str(wheel),
        cache_dir=cache_dir,
        cwd=project,
        env=isolated,
    )
    assert alone.returncode == 0 and "verified" not in alone.stderr


def test_repair_leaves_what_is_accepted_alone(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    from tests.support.envs import break_link, site_packages

    init = break_link(site_packages(numpy_env) / "numpy" / "__init__.py")
    init.write_bytes(init.read_bytes() + b"\n# patched on purpose\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.verify-env]\nignore = ["record:*:numpy:numpy/__init__.py"]\n'
    )
    isolated = {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    run = pipv(
        "--python",
        str(numpy_env / "bin/python"),
        "repair",
        cache_dir=cache_dir,
        cwd=project,
        env=isolated,
    )
    assert run.returncode == 0, run.stderr
    assert "pipv repair: nothing to repair" in run.stderr
    assert init.read_bytes().endswith(b"# patched on purpose\n")  # not reinstalled
