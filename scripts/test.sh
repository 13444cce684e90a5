#!/usr/bin/env bash
# The README's second command: set up (with training and test extras), then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train,dev
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -q "$@"
