"""`speechseq listen --commands` through the real audio stack (a PulseAudio virtual microphone hearing the demo
recording, "activate ... turn on the kitchen lights"), on the shipped models: the final is the phrase of the list,
said so in its JSON ("command") and to --exec ($SPEECHSEQ_COMMAND), while the partials stay free text."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from .pulse import pulse_mic  # noqa: F401  (fixture)
from .test_listener_pulse import listen_through_pulse

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / "data" / "commands" / "home.txt"
SHIPPED = [ROOT / "models" / "activate.onnx", ROOT / "models" / "recognizer-en.int8.onnx", HOME]


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED), reason="shipped models missing")
def test_listen_with_a_command_list(pulse_mic, tmp_path):  # noqa: F811
    seen = tmp_path / "seen.json"
    hook = tmp_path / "hook.py"
    hook.write_text("import json, os, sys\n"
                    f"open({str(seen)!r}, 'w').write(json.dumps([sys.argv[1], os.environ['SPEECHSEQ_COMMAND'], "
                    "os.environ['SPEECHSEQ_TEXT']]))\n")

    def hook_ran(event: dict) -> None:   # Ctrl+C comes after the final: not before the listener has run the hook
        for _ in range(200 if event["event"] == "final" else 0):
            if seen.is_file() and seen.read_text():
                return
            time.sleep(0.05)

    events, err, code = listen_through_pulse(pulse_mic, ["--commands", str(HOME), "--exec",
                                                         f"{sys.executable} {hook}"], on_event=hook_ran)
    assert code == 0, err
    assert [e["event"] for e in events if e["event"] != "partial"] == ["wake", "final"], events
    final = events[-1]
    assert final["text"] == "turn on the kitchen lights" and final["command"] == final["text"]
    assert [w["word"] for w in final["words"]] == final["text"].split()
    assert all("command" not in e for e in events if e["event"] != "final")
    assert any(e["event"] == "partial" for e in events)
    assert json.loads(seen.read_text()) == [final["text"]] * 3
