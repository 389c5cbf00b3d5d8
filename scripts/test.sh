#!/usr/bin/env bash
# The test suite. pytest's exit code 5 ("no tests collected") is a failure here.
VENV_EXTRAS="test,spark" source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"   # the Spark engine's tests need pyspark
source scripts/_jvm.sh   # (cwd is the repo root now) Java + Maven: the tests fetch and start real Pinot and Kafka
source scripts/_postgres.sh   # PostgreSQL's server programs: the offline-store delegate tests start one
set +e
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
