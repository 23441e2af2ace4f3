#!/usr/bin/env bash
# Lint and type-check: ruff (rules in pyproject.toml) on src and tests, mypy --strict on src.
set -euo pipefail
cd "$(dirname "$0")"
.venv/bin/ruff check src tests
.venv/bin/mypy src/strongroom
