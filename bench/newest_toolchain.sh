#!/usr/bin/env bash
# What the newest test toolchain would break: the suite run with `.[test]` unpinned, in a scratch
# venv, without the slow tests. Not part of .ci/run and never blocking: it reports, and the pins
# in constraints/test.txt move only when `bash constraints/refresh.sh` is run on purpose.
# Usage: bash bench/newest_toolchain.sh [PYTEST ARGS...]   (default: -m "not slow" -q)
set -uo pipefail
cd "$(dirname "$0")/.."
venv="$(mktemp -d)/venv"
trap 'rm -rf "$(dirname "$venv")"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade '.[test]' || { echo "newest toolchain: install failed"; exit 1; }
echo "newest toolchain, against constraints/test.txt:"
"$venv/bin/pip" freeze --exclude verify-env | diff <(grep '==' constraints/test.txt | sed 's/ *;.*//' | sort -f) <(sort -f -) | grep '^[<>]' || echo "  (same pins)"
if [ $# -eq 0 ]; then set -- -m "not slow" -q; fi
"$venv/bin/python" -m pytest -p no:cacheprovider "$@"
