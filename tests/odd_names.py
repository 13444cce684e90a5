"""File names that trip a picture's title: a pair of '$' that matplotlib reads as mathtext ("x$\\frac$.wav" was a
traceback, "cost $5 or $6.wav" drawn in italics without its '$') and a name that is no UTF-8 (a lone surrogate,
refused by the font code)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ODD_NAMES = (b"x$\\frac$.wav", b"cost $5 or $6.wav", b"bad\xff.wav")


def plots_of_odd_names(tmp_path: Path, clip: Path, command: str, timeout: float = 300) -> None:
    """`speechseq COMMAND FILE --plot PNG` for `clip` linked under each of ODD_NAMES: exit 0, no traceback, a PNG."""
    for name in ODD_NAMES:
        odd = os.fsencode(str(tmp_path)) + b"/" + name
        os.link(os.fsencode(str(clip)), odd)
        png = tmp_path / "plot.png"
        r = subprocess.run([sys.executable, "-m", "speechseq", command, odd, "--plot", png], capture_output=True,
                           timeout=timeout)
        assert r.returncode == 0 and b"Traceback" not in r.stderr, (name, r.stderr.decode(errors="replace"))
        assert png.stat().st_size > 5000
        png.unlink()
