"""The conda plugin's non-conda modules read verify-env's configuration, with conda's own
``plugins.verify_env_ignore`` / ``plugins.verify_env_baseline`` between the ``VERIFY_ENV_*``
variables and the project file: ``conda verify``, the post-transaction action in fail mode,
and the ``conda doctor`` check, on a real conda-format prefix."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.integration.test_conda_plugin import _env, _flip
from tests.support.conda_plugin import Channel, make_channel, ref_from_meta
from tests.support.envs import pyenv_python
from tests.support.linkwheels import python_include
from verify_env_conda import doctor, verify_cmd
from verify_env_conda.action import TransactionCheck, TransactionRefused
from verify_env_conda.mode import Mode
from verify_env_conda.settings import load_settings

LIB = "lib/libfakeblas.so.3"
RULE = f"record:hash-mismatch:libfakeblas:{LIB}"


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Channel:
    return make_channel(
        tmp_path_factory.mktemp("confplugin"), py311, pyenv_python(12), python_include(py311)
    )


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A private stat cache, no user config file, and a working directory of our own."""
    monkeypatch.setenv("VERIFY_ENV_CACHE_DIR", str(tmp_path / "statcache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in (
        "VERIFY_ENV_IGNORE",
        "VERIFY_ENV_BASELINE",
        "VERIFY_ENV_CONFIG",
        "VERIFY_ENV_STRICT",
    ):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)


def _damaged(channel: Channel, tmp_path: Path) -> Path:
    prefix = _env(channel, tmp_path)
    lib = prefix / LIB
    lib.unlink()
    lib.write_bytes(_flip(channel.library))
    return prefix


def _conda_verify(*argv: str, plugins: object = None) -> int:
    parser = argparse.ArgumentParser(prog="conda verify")
    verify_cmd.configure_parser(parser)
    return verify_cmd.execute(
        parser.parse_args(argv),
        locate_name=lambda n: n,
        default_prefix=lambda: "/nonexistent",
        plugins=plugins,
    )


def _plugins(ignore: tuple[str, ...] = (), baseline: str = "") -> SimpleNamespace:
    """What conda's ``context.plugins`` holds for our settings (a tuple and a string)."""
    return SimpleNamespace(
        verify_env_mode="fail", verify_env_ignore=ignore, verify_env_baseline=baseline
    )


def test_conda_verify_ignore_baseline_and_plugin_settings(
    channel: Channel,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = _damaged(channel, tmp_path)
    assert _conda_verify("-p", str(prefix)) == 1
    capsys.readouterr()
    assert _conda_verify("-p", str(prefix), "--ignore", RULE, "--format", "json") == 0
    (f,) = json.loads(capsys.readouterr().out)["findings"]
    assert (f["severity"], f["accepted"]) == ("info", f"--ignore {RULE}")
    # conda's plugins.verify_env_ignore, named as its source
    assert _conda_verify("-p", str(prefix), plugins=_plugins((RULE,))) == 0
    assert f"(accepted: conda plugins.verify_env_ignore {RULE})" in capsys.readouterr().out
    # ... weaker than VERIFY_ENV_IGNORE, stronger than the project file
    Path("pyproject.toml").write_text('[tool.verify-env]\nignore = ["tags"]\n')
    settings = load_settings(_plugins((RULE,)))
    assert settings.origins["ignore"] == "conda plugins.verify_env_ignore"
    monkeypatch.setenv("VERIFY_ENV_IGNORE", "linkage")
    assert load_settings(_plugins((RULE,))).origins["ignore"] == "VERIFY_ENV_IGNORE"
    assert _conda_verify("-p", str(prefix), plugins=_plugins((RULE,))) == 1
    monkeypatch.delenv("VERIFY_ENV_IGNORE")
    assert load_settings(_plugins()).origins["ignore"].startswith("pyproject.toml:2")
    capsys.readouterr()

    # a baseline never takes a damaged compiled file on its own (issue 20, §10) ...
    baseline = tmp_path / "conda-baseline.json"
    assert _conda_verify("-p", str(prefix), "--write-baseline", str(baseline)) == 1
    err = capsys.readouterr().err
    assert f"{baseline}: accepted 0 finding(s)" in err
    assert f"not written into the baseline: {LIB} (record/hash-mismatch of libfakeblas)" in err
    # ... a rule that names it accepts it, and no note says otherwise
    written = _conda_verify("-p", str(prefix), "--ignore", RULE, "--write-baseline", str(baseline))
    assert written == 0
    assert "not written into the baseline" not in capsys.readouterr().err
    # an admin's edit of a config file is what a baseline is for: written by conda verify,
    # read through the plugin setting
    (prefix / LIB).unlink()
    (prefix / LIB).write_bytes(channel.library)
    conf = prefix / "etc" / "fakeblas.conf"
    edited = conf.read_bytes() + b"# local tuning\n"
    conf.unlink()  # a hard link into the package cache: a new file, as an editor writes it
    conf.write_bytes(edited)
    assert _conda_verify("-p", str(prefix), "--write-baseline", str(baseline)) == 0
    assert f"{baseline}: accepted 1 finding(s)" in capsys.readouterr().err
    assert _conda_verify("-p", str(prefix), plugins=_plugins(baseline=str(baseline))) == 0
    assert f"(accepted: baseline {baseline})" in capsys.readouterr().out
    conf.write_bytes(edited + b"# more\n")  # edited again, differently
    assert _conda_verify("-p", str(prefix), plugins=_plugins(baseline=str(baseline))) == 1
    capsys.readouterr()
    assert _conda_verify("-p", str(prefix), "--ignore", "recrod") == 2
    assert "conda verify: --ignore: 'recrod': unknown check" in capsys.readouterr().err
    assert _conda_verify("-p", str(prefix), plugins=_plugins(("nope:x",))) == 2
    assert "conda plugins.verify_env_ignore: 'nope:x'" in capsys.readouterr().err


def test_fail_mode_does_not_roll_back_for_an_accepted_finding(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _damaged(channel, tmp_path)
    linked = [ref_from_meta(prefix, n) for n in ("python", "libfakeblas", "fakeblas-ext")]
    with pytest.raises(TransactionRefused):
        TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL).execute()
    accepting = TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL)
    accepting.plugins = _plugins((RULE,))
    accepting.execute()  # nothing raised: the transaction stands
    out = capsys.readouterr().out
    assert "0 error(s), 0 warning(s), 1 accepted" in out
    assert f"info: libfakeblas 1.0: [record/hash-mismatch] {LIB}" in out
    assert "fix: conda install" not in out
    # the project file works the same way (conda runs in the user's working directory)
    Path("pyproject.toml").write_text(f'[tool.verify-env]\nignore = ["{RULE}"]\n')
    TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL).execute()
    assert "(accepted: pyproject.toml [tool.verify-env] ignore" in capsys.readouterr().out
    # a malformed configuration is said once and accepts nothing: the finding rolls back
    Path("pyproject.toml").write_text('[tool.verify-env]\nignroe = ["record"]\n')
    with pytest.raises(TransactionRefused):
        TransactionCheck(None, str(prefix), [], linked, mode=Mode.FAIL).execute()
    assert "pyproject.toml:2: unknown key 'ignroe'" in capsys.readouterr().out


def test_doctor_reports_accepted_findings_and_does_not_fix_them(
    channel: Channel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = _damaged(channel, tmp_path)
    doctor.health_check(str(prefix), False, plugins=_plugins((RULE,)))
    out = capsys.readouterr().out
    assert out.startswith(f"{doctor.OK_MARK} verify-env:") and "1 accepted finding(s)" in out
    reinstalled: list[list[str]] = []

    def reinstall(specs: list[str], channels: list[str]) -> int:
        reinstalled.append(specs)
        return 0

    assert (
        doctor.fix(str(prefix), print, pkgs_dirs=[], reinstall=reinstall, plugins=_plugins((RULE,)))
        == 0
    )
    assert reinstalled == []
    assert "nothing to repair" in capsys.readouterr().out
