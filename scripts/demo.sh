#!/usr/bin/env bash
# The README's first command: set up, then run the main job on a shipped recording.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/speechseq features data/samples/activate_kitchen_lights.wav
