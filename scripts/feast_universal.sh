#!/usr/bin/env bash
# Feast's own universal online-store tests against Feast's SQLite store, the embedded store and PinotOnlineStore.
#
#   bash scripts/feast_universal.sh FEAST_CHECKOUT [STORE...]
#
# FEAST_CHECKOUT: a feast-dev/feast source tree (its sdk/python/tests is used; Feast itself is the
# version pyproject.toml pins). STORE: sqlite, embedded, pinot (default: all three). Pinot runs on the
# local cluster (python -m local_cluster), started and stopped here. A separate virtualenv in
# .cache/feast-universal holds Feast's test dependencies. Prints the pass/fail table; exits 1 when one
# of our stores fails a test Feast's SQLite store passes. See docs/pinot.md, "Feast's universal tests".
set -euo pipefail
FEAST=$(cd "${1:?usage: feast_universal.sh FEAST_CHECKOUT [STORE...]}" && pwd)
shift
STORES=("${@:-sqlite embedded pinot}")
read -r -a STORES <<< "${STORES[*]}"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
WORK=$ROOT/.cache/feast-universal
RESULTS=$WORK/results
VENV=$WORK/venv
source scripts/_jvm.sh
mkdir -p "$RESULTS"
if [ ! -x "$VENV/bin/pytest" ]; then
  python3 -m venv "$VENV"
  # Non-editable: the project's own tests package must not shadow Feast's.
  "$VENV/bin/pip" install -q "$ROOT" "pytest>=7,<8" "pytest-xdist>=3.8" "pytest-timeout==1.4.2" pytest-env \
    "pytest-asyncio<=0.24.0" "testcontainers>=4.15.0rc2" "minio==7.2.11" "python-keycloak==4.2.2" \
    "cryptography>=43.0" "assertpy==1.1" "feast[grpcio]" \
    boto3 "google-cloud-bigquery>=2,<4" "google-cloud-storage>=1.34.0,<3"  # imported when FEAST_IS_LOCAL_TEST is unset
fi
MAIN="tests/integration/online_store/test_universal_online.py tests/integration/online_store/test_universal_e2e.py
 tests/integration/online_store/test_push_features_to_online_store.py
 tests/integration/materialization/test_universal_materialization.py
 tests/integration/offline_store/test_universal_materialization.py tests/integration/offline_store/test_universal_types.py"
CLUSTER_PID=""
trap '[ -n "$CLUSTER_PID" ] && kill "$CLUSTER_PID" 2>/dev/null; wait 2>/dev/null || true' EXIT

run() {  # run STORE NAME [env...] -- pytest args
  local store=$1 name=$2; shift 2
  (cd "$FEAST/sdk/python" && env PYTHONPATH="$ROOT/scripts/feast_universal" FULL_REPO_CONFIGS_MODULE=repo_configs \
     UNIVERSAL_STORE="$store" FEAST_USAGE=False "$@" ) || true
}
pytest_args() { echo "-m pytest --integration -p no:cacheprovider --timeout 600 -q --junitxml=$RESULTS/$1.xml"; }

for store in "${STORES[@]}"; do
  rm -f "$RESULTS/$store"-*.xml
  if [ "$store" = pinot ] && [ -z "${PINOT_BROKER_URL:-}" ]; then
    "$VENV/bin/python" -m local_cluster > "$WORK/cluster.log" 2>&1 &
    CLUSTER_PID=$!
    until grep -q "Ctrl-C stops both" "$WORK/cluster.log"; do
      kill -0 "$CLUSTER_PID" 2>/dev/null || { cat "$WORK/cluster.log"; exit 1; }; sleep 2
    done
    export PINOT_CONTROLLER_URL=$(sed -n 's/^  controller_url: //p' "$WORK/cluster.log")
    export PINOT_BROKER_URL=$(sed -n 's/^  broker_url: //p' "$WORK/cluster.log")
    export KAFKA_BOOTSTRAP_SERVERS=$(sed -n 's/^  kafka_bootstrap_servers: //p' "$WORK/cluster.log")
  fi
  # FEAST_IS_LOCAL_TEST skips the cloud creators; it also makes the redis-only tests return at once, so those
  # run without it. Dynamo tests need a container (no Docker): deselected.
  run "$store" main FEAST_IS_LOCAL_TEST=True "$VENV/bin/python" $(pytest_args "$store-main") -k "not dynamo" $MAIN
  run "$store" types FEAST_IS_LOCAL_TEST=True UNIVERSAL_ALIAS=sqlite "$VENV/bin/python" $(pytest_args "$store-types") \
    tests/integration/online_store/test_universal_online_types.py
  run "$store" redis UNIVERSAL_ALIAS=redis "$VENV/bin/python" $(pytest_args "$store-redis") \
    -k "(test_online_store_cleanup or test_write_to_online_store_event_check or test_async_online_retrieval_with_event_timestamps) and not dynamo" \
    tests/integration/online_store/test_universal_online.py
  run "$store" mongodb FEAST_IS_LOCAL_TEST=True UNIVERSAL_ALIAS=mongodb "$VENV/bin/python" $(pytest_args "$store-mongodb") \
    -k "test_push_features_and_read_async and not dynamo" tests/integration/online_store/test_push_features_to_online_store.py
  if [ -n "$CLUSTER_PID" ]; then kill "$CLUSTER_PID"; wait "$CLUSTER_PID" || true; CLUSTER_PID=""; fi
done
"$VENV/bin/python" scripts/feast_universal/report.py "$RESULTS"
