#!/usr/bin/env bash
# Sets up everything speechseq needs on Debian/Ubuntu: system packages and a virtual environment
# in .venv with the package installed (editable). Idempotent and quick when nothing changed.
#   scripts/setup.sh            runtime only (numpy, onnxruntime, soundfile, ...: no torch)
#   scripts/setup.sh train,dev  plus training (CPU torch) and test dependencies
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

bash scripts/install-system.sh

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv"
  "$PY" -m venv .venv
fi
# Reinstall only when pyproject.toml or the extras changed.
stamp=".venv/.speechseq-installed"
want="$(sha256sum pyproject.toml | cut -c1-16) extras=${extras}"
have="$(cat "$stamp" 2>/dev/null || true)"
covered=1
for e in ${extras//,/ }; do
  case " $have " in *"$e"*) ;; *) covered=0 ;; esac
done
if [ "${have%% *}" != "${want%% *}" ] || [ "$covered" = 0 ]; then
  spec="."
  [ -n "$extras" ] && spec=".[${extras}]"
  echo "installing speechseq ${spec} into .venv (pip)"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec" 2>&1 \
    | grep -vE "^WARNING: Location .* is ignored" || true
  # Silero's VAD model (the listener's end-of-speech detector) rides in the silero-vad wheel, whose
  # metadata asks for torch; the ONNX file needs only onnxruntime, so install it without deps.
  { .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "silero-vad==6.2.*" \
      || echo "note: silero-vad not installed; the listener uses its energy VAD"; } 2>&1 \
    | grep -vE "^WARNING: Location .* is ignored" || true
  .venv/bin/python -c "import speechseq"
  echo "$want" > "$stamp"
fi
