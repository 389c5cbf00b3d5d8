#!/usr/bin/env bash
# Static checks: ruff (lint rules in pyproject.toml) over the repo, mypy (strict) over the product packages.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
.venv/bin/ruff check .
.venv/bin/mypy
