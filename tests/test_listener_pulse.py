"""`speechseq listen` through a real audio stack: a private PulseAudio server whose virtual microphone
"hears" the demo recording ("activate ... turn on the kitchen lights") played into it.

These run the tiny fixture models, so the audio path is tested even without shipped models; the
acceptance test on the shipped models is tests/test_listener_acceptance.py.
"""
from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


from speechseq.metrics import wer

from .listener_fixtures import COMMAND, SAMPLE, tiny_models  # noqa: F401  (fixture)
from .pulse import pulse_mic  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _pipe_lines(stream, q: queue.Queue, tag: str) -> None:
    for line in iter(stream.readline, ""):
        q.put((tag, line.rstrip("\n")))
    q.put((tag, None))


def listen_through_pulse(mic, extra_args: list[str], wav: Path = SAMPLE, timeout_s: float = 40.0,
                         on_event=None, stop_at: str | None = "final") -> tuple[list[dict], str, int]:
    """Start `speechseq listen --json`, play `wav` into the virtual mic once it is listening, collect
    events until a `stop_at` one (None: until it exits; or timeout; `on_event` sees each), then stop it with
    Ctrl+C. Returns events, stderr, exit code."""
    env = {**mic.env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    # (SIGINT restored in the child: a shell's background job ignores it, and the child would inherit that)
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "listen", "--json", "--max-minutes", "2", *extra_args],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    q: queue.Queue = queue.Queue()
    for s, tag in ((proc.stdout, "out"), (proc.stderr, "err")):
        threading.Thread(target=_pipe_lines, args=(s, q, tag), daemon=True).start()
    events, err, played = [], [], False
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                tag, line = q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                if proc.poll() is not None:
                    break
                continue
            if tag == "err":
                err.append(line)
                if "listening on" in line and not played:
                    played = True
                    time.sleep(0.3)
                    mic.play(wav, wait=False)
                continue
            events.append(json.loads(line))
            if on_event is not None:
                on_event(events[-1])
            if events[-1]["event"] == stop_at:
                break
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -9
    return events, "\n".join(err), code


def _check(events: list[dict], err: str, code: int, max_wer: float) -> dict:
    kinds = [e["event"] for e in events]
    assert "wake" in kinds, f"no wake event; stderr:\n{err}"
    assert "final" in kinds, f"no final event after {kinds}; stderr:\n{err}"
    assert kinds.index("wake") < kinds.index("final")
    final = events[kinds.index("final")]
    assert wer(COMMAND, final["text"]).rate <= max_wer, final["text"]
    assert code == 0, f"exit code {code} (Ctrl+C must stop cleanly); stderr:\n{err}"
    return final


def test_listen_on_a_virtual_microphone_with_fixture_models(pulse_mic, tiny_models):  # noqa: F811
    m = tiny_models
    events, err, code = listen_through_pulse(pulse_mic, ["--keyword-model", str(m.detector), "--model", str(m.recognizer),
                                                          "--stream-model", str(m.stream)])
    _check(events, err, code, max_wer=0.2)
    assert "44100 Hz" in err or "16000 Hz" in err      # the device's own rate, resampled to 16 kHz


def test_vanished_device_gives_a_clear_message_and_a_clean_exit(tiny_models):  # noqa: F811
    from .pulse import pulse_session

    m = tiny_models
    with pulse_session() as server:
        env = {**server.env, "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "speechseq", "listen", "--keyword-model", str(m.detector),
                                 "--model", str(m.recognizer), "--no-partials", "--reconnect-s", "2"],
                                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()
        while line and "listening on" not in line:
            line = proc.stderr.readline()
        assert "listening on" in line
        server.stop()                                   # the sound server goes away
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "stopped delivering audio" in err and "reopening" in err
    last = [x for x in err.splitlines() if x.startswith("speechseq:")][-1]
    assert last.startswith("speechseq: error:") and "gave up after 2 s" in last
    assert "Traceback" not in err


def test_sigterm_stops_cleanly(pulse_mic, tiny_models):  # noqa: F811
    m = tiny_models
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "listen", "--keyword-model", str(m.detector),
                             "--model", str(m.recognizer), "--no-partials"],
                            cwd=ROOT, env={**pulse_mic.env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    while line and "listening on" not in line:
        line = proc.stderr.readline()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "speechseq: stopped" in err and "Traceback" not in err, (proc.returncode, err[-3000:])
    assert time.monotonic() - t0 < 30.0                 # a hang check, generous for a busy machine


def _serve_again(mic) -> None:
    """Start the sound server again on `mic`'s folder, with the same virtual microphone."""
    mic.serve()


def test_a_device_that_comes_back_is_reopened(tiny_models):  # noqa: F811
    """The server goes away for 3 s, longer than the first retry: the listener reopens the microphone when it is
    back (it used to try once, then keep PortAudio's empty device list until --reconnect-s ran out)."""
    import threading

    from .pulse import pulse_session

    m = tiny_models
    with pulse_session() as server:
        proc = subprocess.Popen([sys.executable, "-m", "speechseq", "listen", "--keyword-model", str(m.detector),
                                 "--model", str(m.recognizer), "--no-partials", "--reconnect-s", "25"],
                                cwd=ROOT, env={**server.env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
        reader.start()

        def wait_for(text: str, count: int, seconds: float) -> bool:
            end = time.time() + seconds
            while time.time() < end:
                if sum(text in x for x in lines) >= count:
                    return True
                time.sleep(0.1)
            return False

        try:
            assert wait_for("listening on", 1, 60), lines
            server.stop()
            assert wait_for("reopening", 1, 20), lines
            time.sleep(3.0)
            _serve_again(server)
            assert wait_for("listening on", 2, 20), lines       # open again, well within --reconnect-s
        finally:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=30)
            reader.join(timeout=5)
    assert proc.returncode == 0 and not any("gave up" in x for x in lines), lines


def test_an_utterance_cut_off_by_a_lost_device_still_gets_its_final(tiny_models):  # noqa: F811
    """The device goes for good right after the wake: the utterance heard so far gets its final event before the
    error, so a JSON reader has a final for every wake."""
    from .pulse import pulse_session

    m = tiny_models
    with pulse_session() as server:
        events, err, code = listen_through_pulse(
            server, ["--keyword-model", str(m.detector), "--model", str(m.recognizer), "--no-partials",
                     "--reconnect-s", "0"],
            on_event=lambda e: server.stop() if e["event"] == "wake" else None,   # gone in mid-command, for good
            stop_at=None)
    kinds = [e["event"] for e in events]
    assert kinds[:1] == ["wake"] and "final" in kinds, (kinds, err)
    assert code == 1 and "gave up after 0 s" in err, err


def test_check_input_opens_at_the_rate_asked_and_says_why_not(pulse_mic):  # noqa: F811
    env = {**pulse_mic.env, "OMP_NUM_THREADS": "1"}

    def check(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "speechseq", "listen", "--check-input", *extra], cwd=ROOT,
                              env=env, capture_output=True, text=True, timeout=60)

    r = check("--samplerate", "22050")
    assert r.returncode == 0 and r.stderr.startswith("speechseq: input device: ") and "(22050 Hz" in r.stderr
    r = check("--device", "99")
    assert r.returncode == 1 and r.stderr.startswith("speechseq: no working input device: no input device 99")
