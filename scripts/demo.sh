#!/usr/bin/env bash
# The main job: the end-to-end demo on the embedded default store.
#   bash scripts/demo.sh --pinot    the same demo on a local Apache Pinot + Kafka (fetched from Maven Central)
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
case " $* " in *" --pinot "*) source scripts/_jvm.sh ;; esac
exec .venv/bin/python -m demo "$@"
