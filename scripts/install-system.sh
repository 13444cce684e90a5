#!/usr/bin/env bash
# Installs the system packages speechseq uses, on Debian/Ubuntu. Idempotent: safe to run again.
#   audio I/O:        libsndfile1, libportaudio2 (sounddevice)
#   speech synthesis: espeak-ng, flite, festival (+ voices), pico, MBROLA voices, more festival
#                     voices, RHVoice (contrib/non-free)
#   virtual mic:      pulseaudio, pulseaudio-utils, alsa-utils, libasound2-plugins
#   data helpers:     sox, wamerican
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

stamp=/var/tmp/speechseq-system-packages.v1
pkgs_main="python3-venv libsndfile1 libportaudio2 sox wamerican espeak-ng flite
  festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts festlex-cmu
  pulseaudio pulseaudio-utils alsa-utils libasound2-plugins"
pkgs_nonfree="mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 libttspico-utils"
# voices added in session 19, apart so that a distribution without one of them keeps the others
pkgs_extra="festvox-rablpc16k festvox-don festvox-us1 festvox-us2 festvox-us3 festvox-en1 rhvoice rhvoice-english"

missing=()
for p in $pkgs_main $pkgs_nonfree $pkgs_extra; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi
echo "system packages to install: ${missing[*]}"

# MBROLA voices and pico live in contrib/non-free, which a default Debian image lacks.
if [ -f /etc/debian_version ] && grep -q '^12\|bookworm' /etc/debian_version /etc/os-release 2>/dev/null; then
  list=/etc/apt/sources.list.d/speechseq-contrib.list
  if true; then  # rewritten each run so a stale entry is mended
    # Match the Signed-By of the main entry, or apt refuses the two as conflicting.
    opt=""
    if grep -rqs "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" /etc/apt/sources.list.d/ \
       || grep -qs "signed-by=/usr/share/keyrings/debian-archive-keyring.gpg" /etc/apt/sources.list; then
      opt="[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
    fi
    echo "deb ${opt}http://deb.debian.org/debian bookworm contrib non-free" | $SUDO tee "$list" >/dev/null
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $pkgs_main >/dev/null
# Non-free voices are a bonus: training uses what is there, so do not fail without them.
$SUDO apt-get install -y -qq --no-install-recommends $pkgs_nonfree >/dev/null \
  || echo "warning: MBROLA/pico voices not installed (contrib/non-free unavailable); continuing"
$SUDO apt-get install -y -qq --no-install-recommends $pkgs_extra >/dev/null \
  || echo "warning: RHVoice / extra festival voices not installed; continuing"
touch "$stamp" 2>/dev/null || true
echo "system packages: installed"
