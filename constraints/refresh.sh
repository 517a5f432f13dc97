#!/usr/bin/env bash
# Re-pin the test toolchain: the newest versions the registry serves that resolve together for
# every Python the tool runs on (3.10+, one universal file with markers). Run it, run the suite
# (`bash .ci/run`), and commit constraints/test.txt with what changed.
# Usage: bash constraints/refresh.sh
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q uv
"$tools/venv/bin/uv" pip compile --quiet --universal --python-version 3.10 --extra test --upgrade \
    --custom-compile-command "bash constraints/refresh.sh" pyproject.toml -o constraints/test.txt
echo "constraints/test.txt: $(grep -c '==' constraints/test.txt) pins"
