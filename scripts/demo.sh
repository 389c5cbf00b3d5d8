#!/usr/bin/env bash
# The main job: the end-to-end demo on the embedded default store.
source "$(dirname "${BASH_SOURCE[0]}")/_venv.sh"
exec .venv/bin/python -m demo "$@"
