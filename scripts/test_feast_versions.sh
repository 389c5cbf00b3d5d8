#!/usr/bin/env bash
# The older supported Feast releases (README, "Feast versions"), each in its own venv (.venv-feast-<release>):
# the unit, integration and embedded contract suites. scripts/test.sh runs every suite on the newest (.venv).
# FEAST_RELEASES="0.66" narrows the list.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for release in ${FEAST_RELEASES:-0.65 0.66}; do
  (
    VENV=".venv-feast-$release" FEAST="$release" VENV_EXTRAS="test,spark"
    source scripts/_venv.sh
    source scripts/_jvm.sh   # the S3 server of the object-storage tests, Spark's JVM
    source scripts/_postgres.sh   # the PostgreSQL delegate's server
    installed="$("$VENV/bin/python" -c 'import feast; print(feast.__version__)')"
    if [[ "$installed" != "$release".* ]]; then
      echo "$VENV holds Feast $installed, not $release.x" >&2
      exit 1
    fi
    echo "== Feast $installed: unit, integration and embedded contract suites" >&2
    # exit code 5 (nothing collected) is non-zero too: set -e stops the run
    "$VENV/bin/python" -m pytest -p no:cacheprovider tests/unit tests/integration
    "$VENV/bin/python" -m pytest -p no:cacheprovider tests/contract -k embedded
  )
done
