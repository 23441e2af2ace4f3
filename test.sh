#!/usr/bin/env bash
# Run every test (unit, core, C ABI, real clients) against the installed module.
set -euo pipefail
cd "$(dirname "$0")"
exec .venv/bin/python -m pytest -q "$@"
