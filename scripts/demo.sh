#!/usr/bin/env bash
# The README's first command: set up, then run the main job, the live listener: it wakes on
# "activate" (or "computer") and writes down what is said next. On the microphone when this
# machine has a working input device; otherwise on a shipped recording ("activate ... turn on
# the kitchen lights"). Extra arguments go to `speechseq listen` (e.g. --json, --chime).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if .venv/bin/speechseq listen --check-input 2>/dev/null; then
  echo "Say \"activate\", then a command (Ctrl+C to stop)." >&2
  exec .venv/bin/speechseq listen "$@"
fi
echo "No working microphone here: listening to data/samples/activate_kitchen_lights.wav instead." >&2
exec .venv/bin/speechseq listen --input data/samples/activate_kitchen_lights.wav --fast "$@"
