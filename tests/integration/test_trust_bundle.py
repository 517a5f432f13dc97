"""The certificate-bundle exception is narrow (issue 18 §3): certificates appended to a bundle
named as one, its recorded bytes untouched, are a warning; any other change to it, and any
change to a file that merely contains a certificate, is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.envs import CliRun, break_link, clone_env, make_venv, run_cli, site_packages

BUNDLE = "certifi/cacert.pem"


@pytest.fixture(scope="session")
def certifi_venv(tmp_path_factory: pytest.TempPathFactory, py311: str) -> Path:
    return make_venv(tmp_path_factory.mktemp("certifi") / "venv", py311, ["certifi", "six"])


@pytest.fixture
def env(certifi_venv: Path, tmp_path: Path) -> Path:
    return clone_env(certifi_venv, tmp_path / "env")


def _verify(env: Path, cache_dir: Path) -> CliRun:
    return run_cli("--python", str(env / "bin" / "python"), "--format", "json", cache_dir=cache_dir)


def _a_certificate(bundle: bytes) -> bytes:
    start = bundle.index(b"-----BEGIN CERTIFICATE-----")
    end = bundle.index(b"-----END CERTIFICATE-----", start) + len(b"-----END CERTIFICATE-----\n")
    return b"\n# Local CA\n" + bundle[start:end]


def test_appended_certificates_are_a_warning(env: Path, cache_dir: Path) -> None:
    bundle = break_link(site_packages(env) / BUNDLE)
    data = bundle.read_bytes()
    bundle.write_bytes(data + _a_certificate(data))
    run = _verify(env, cache_dir)
    assert run.returncode == 0, run.findings
    f = run.find("size-mismatch", BUNDLE)
    assert (f["severity"], f["distribution"]) == ("warning", "certifi")
    assert "appended" in f["message"]
    # the hint accepts an admin's CA rather than reinstalling it away, and the rule works
    rule = "record:size-mismatch:certifi:certifi/cacert.pem"
    assert str(f["hint"]).startswith(f"if these are your CAs, accept them: --ignore {rule}; ")
    assert str(f["hint"]).endswith(
        f"if not: {env / 'bin/python'} -m pip install "
        f"--force-reinstall --no-deps certifi=={f['version']}"
    )
    accepted = run_cli(
        "--python", str(env / "bin/python"), "--ignore", rule, "-f", "json", cache_dir=cache_dir
    )
    assert accepted.find("size-mismatch", BUNDLE)["severity"] == "info"


def test_a_bundle_edited_before_the_appended_certificates_is_an_error(
    env: Path, cache_dir: Path
) -> None:
    bundle = break_link(site_packages(env) / BUNDLE)
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data) + _a_certificate(bytes(data)))
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    assert run.find("size-mismatch", BUNDLE)["severity"] == "error"


def test_a_same_size_change_to_a_bundle_is_an_error(env: Path, cache_dir: Path) -> None:
    bundle = break_link(site_packages(env) / BUNDLE)
    data = bytearray(bundle.read_bytes())
    data[-40] ^= 0x01
    bundle.write_bytes(bytes(data))
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    assert run.find("hash-mismatch", BUNDLE)["severity"] == "error"


@pytest.mark.parametrize("grow", [True, False], ids=["grown", "same-size"])
def test_a_module_holding_a_certificate_is_no_bundle(
    env: Path, cache_dir: Path, grow: bool
) -> None:
    site = site_packages(env)
    module = break_link(site / "six.py")
    data = module.read_bytes()
    pem = b"# -----BEGIN CERTIFICATE-----\n"
    changed = data + pem if grow else pem + data[len(pem) :]
    module.write_bytes(changed)
    run = _verify(env, cache_dir)
    assert run.returncode == 1
    f = run.find("size-mismatch" if grow else "hash-mismatch", "six.py")
    assert (f["severity"], f["distribution"]) == ("error", "six")
