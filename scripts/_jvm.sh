# Sourced by the set-up scripts that run real Pinot and Kafka: make sure Java (11+) and Maven are there.
# The jars themselves come from Maven Central on first use (local_cluster/), cached in .cache/ and ~/.m2.
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  echo "installing Java and Maven from Debian's packages..." >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
fi
