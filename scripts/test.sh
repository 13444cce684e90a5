#!/usr/bin/env bash
# The README's second command: set up (with training and test extras), then run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh train,dev
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
# One pytest worker per CPU core (pytest-xdist), each test file on one worker (its module fixtures built once):
# the suite took 15-19 min in one process on a 2-core machine. Arguments after it go to pytest (`-n 0`: one process).
exec .venv/bin/python -m pytest -q -n "${SPEECHSEQ_TEST_WORKERS:-auto}" --dist loadfile "$@"
