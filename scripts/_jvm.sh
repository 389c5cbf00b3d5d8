# Sourced by the set-up scripts that run real Pinot and Kafka: make sure Java (11+, with javac for the
# Pinot 1.x validation test), Maven and a C compiler (the local cluster's loopback shim) are there.
# The jars themselves come from Maven Central on first use (local_cluster/), cached in .cache/ and ~/.m2.
if ! command -v java >/dev/null || ! command -v javac >/dev/null || ! command -v mvn >/dev/null \
   || ! command -v cc >/dev/null; then
  echo "installing Java, Maven and a C compiler from Debian's packages..." >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq openjdk-17-jdk-headless maven gcc libc6-dev >/dev/null
fi
