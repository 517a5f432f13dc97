"""What a user pastes from a report acts on the verified environment (issue 20 §5, §10): the
hint names the target's interpreter, a damaged compiled file is never written into a baseline
without a word, and a missing file is one problem, not also one "not judged"."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.envs import break_link, run_cli, site_packages

UMATH = "numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so"
POCKETFFT = "numpy/fft/_pocketfft_umath.cpython-311-x86_64-linux-gnu.so"
INIT = "numpy/__init__.py"


def test_hints_baseline_and_summary_of_a_damaged_numpy(
    numpy_env: Path, tmp_path: Path, cache_dir: Path
) -> None:
    site = site_packages(numpy_env)
    target = break_link(site / UMATH)
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    (site / POCKETFFT).unlink()
    init = break_link(site / INIT)
    init.write_text(init.read_text() + "# a local change\n")
    py = str(numpy_env / "bin/python")
    fix = f"{py} -m pip install --force-reinstall --no-deps numpy==2.2.6"
    env = {"XDG_CONFIG_HOME": str(cache_dir / "no-config")}

    # --python other/bin/python: the hint is that interpreter's pip, once for numpy
    run = run_cli("--python", py, cache_dir=cache_dir, env=env)
    assert run.returncode == 1
    assert run.stdout.count(f"  fix: {fix}\n") == 1, run.stdout
    assert "fix: pip install" not in run.stdout
    # the deleted module is reported missing, and not counted again as "not judged"
    assert f"[record/missing-file] {POCKETFFT} is missing" in run.stdout
    assert "not judged" not in run.stdout
    as_json = run_cli("--python", py, "-f", "json", cache_dir=cache_dir, env=env)
    assert {f["hint"] for f in as_json.findings if f["distribution"] == "numpy"} == {fix}

    # --baseline write: the edited .py is accepted; the damaged modules are not, and say so
    baseline = tmp_path / "baseline.json"
    written = run_cli(
        "--python", py, "--baseline", "write", str(baseline), cache_dir=cache_dir, env=env
    )
    assert written.returncode == 1, written.stderr
    assert f"{baseline}: accepted 1 finding(s)" in written.stderr
    for path, code in ((UMATH, "hash-mismatch"), (POCKETFFT, "missing-file")):
        assert (
            f"not written into the baseline: {path} (record/{code} of numpy): a damaged compiled "
            f"file is no intended change; repair it ({fix}), or accept it explicitly with "
            f"--ignore record:{code}:numpy:{path}" in written.stderr
        )
    entries = json.loads(baseline.read_text())["accepted"]
    assert [e["path"] for e in entries] == [INIT]
    later = run_cli(
        "--python", py, "--baseline", str(baseline), "-f", "json", cache_dir=cache_dir, env=env
    )
    assert later.returncode == 1
    assert {(f["path"], f["severity"]) for f in later.findings if f["distribution"] == "numpy"} == {
        (INIT, "info"),
        (UMATH, "error"),
        (POCKETFFT, "error"),
    }
