"""`speechseq record`: takes of a keyword cut out of a recording (--input) and out of a real audio
stack (a PulseAudio virtual microphone), written as WAV files, numbered after those already there."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

from .listener_fixtures import SAMPLE
from .pulse import pulse_mic  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
SR = 16000


def _takes_file(path: Path, gains=(1.0, 0.5, None, 1.0)) -> list[float]:
    """The demo's "activate" (gain g) or, for None, its "turn on the kitchen lights", each followed by
    1 s of a faint noise floor; returns where each piece starts (s)."""
    a = sf.read(SAMPLE, dtype="float32")[0]
    word, command = a[int(1.0 * SR) : int(1.9 * SR)], a[int(2.5 * SR) : int(4.3 * SR)]
    rng = np.random.default_rng(0)
    parts, starts, t = [rng.normal(0, 1e-4, SR // 2).astype(np.float32)], [], 0.5
    for g in gains:
        piece = command if g is None else word * g
        starts.append(t)
        parts += [piece, rng.normal(0, 1e-4, SR).astype(np.float32)]
        t += (len(piece) + SR) / SR
    sf.write(path, np.concatenate(parts), SR, subtype="FLOAT")
    return starts


def _events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_record_cuts_a_recording_into_takes(tmp_path, capsys):
    src = tmp_path / "takes.wav"
    starts = _takes_file(src)
    out = tmp_path / "clips"
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--json", "--max-seconds", "1.0",
                 "--vad", "energy"]) == 0
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["take", "take", "rejected", "take"]
    assert events[2]["reason"].startswith("too long (1.4 s)")
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == ["android-001.wav", "android-002.wav", "android-003.wav"]
    audio = sf.read(src, dtype="float32")[0]
    for e, f, s in zip([events[0], events[1], events[3]], files, [starts[0], starts[1], starts[3]]):
        assert e["file"] == str(f)
        info = sf.info(f)
        assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
        # the word lies 0.18-0.70 s into its piece (energy VAD, 32 ms frames): the take starts there
        assert s + 0.1 < e["start"] < s + 0.3 and s + 0.6 < e["end"] < s + 0.8
        got = sf.read(f, dtype="float32")[0]
        a, b = round(e["start"] * SR) - 3200, round(e["end"] * SR) + 3200   # 0.2 s padding
        np.testing.assert_allclose(got, audio[a:b], atol=1 / 32768)
    # the half-gain take: the same word, 6 dB lower
    assert events[1]["peak_dbfs"] == pytest.approx(events[0]["peak_dbfs"] - 6.02, abs=0.1)
    assert events[1]["end"] - events[1]["start"] == pytest.approx(events[0]["end"] - events[0]["start"], abs=0.07)


def test_record_numbers_after_existing_takes_and_stops_at_count(tmp_path, capsys):
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 1.0, 1.0))
    out = tmp_path / "clips"
    assert main(["record", "Hey, Robot!", "--out", str(out), "--input", str(src), "--vad", "energy"]) == 0
    first = {f.name: f.read_bytes() for f in out.glob("*.wav")}
    assert sorted(first) == ["hey-robot-001.wav", "hey-robot-002.wav", "hey-robot-003.wav"]
    captured = capsys.readouterr()
    assert "take 3/50" in captured.out and "kept 3 takes" in captured.err
    assert f"--init runs/YOUR-RUN \\\n      --positives {out}:50" in captured.err   # no shipped "hey robot" model
    other = tmp_path / "other.wav"
    _takes_file(other, gains=(0.8, 0.8, 0.8))
    assert main(["record", "hey robot", "--out", str(out), "--input", str(other), "--vad", "energy",
                 "--count", "2"]) == 0
    now = {f.name: f.read_bytes() for f in out.glob("*.wav")}
    assert sorted(now) == sorted(first) + ["hey-robot-004.wav", "hey-robot-005.wav"]
    assert all(now[k] == v for k, v in first.items())       # nothing overwritten
    assert "kept 2 takes" in capsys.readouterr().err
    assert not list(out.glob(".*"))                           # no partial files left
    # the first recording cut again: its takes are there already, and are not saved twice
    assert main(["record", "hey robot", "--out", str(out), "--input", str(src), "--vad", "energy", "--json"]) == 0
    captured = capsys.readouterr()
    events = _events(captured.out)
    assert [(e["file"], e.get("already_there")) for e in events] == [
        (str(out / f"hey-robot-00{i}.wav"), True) for i in (1, 2, 3)]
    assert sorted(f.name for f in out.glob("*.wav")) == sorted(now) and not list(out.glob(".*"))
    assert "kept 0 takes" in captured.err and "(3 already there)" in captured.err


def test_takes_found_already_there_do_not_count_towards_count(tmp_path, capsys):
    """--count is "this many takes in this session (takes already in --out are kept but not counted)": a recording
    cut again for its takes past the first --count stopped after --count takes found already there, and kept none
    of the new ones (a recording of 80 takes, cut twice with the default 50, never gave its last 30)."""
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 0.9, 0.8, 0.7, 0.6))
    out = tmp_path / "clips"
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy", "--count", "3"]) == 0
    capsys.readouterr()
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy", "--count", "2",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert [(Path(e["file"]).name, e.get("already_there", False)) for e in _events(captured.out)] == [
        ("android-001.wav", True), ("android-002.wav", True), ("android-003.wav", True),
        ("android-004.wav", False), ("android-005.wav", False)]
    assert "kept 2 takes in" in captured.err and "(3 already there)" in captured.err
    assert len(list(out.glob("android-*.wav"))) == 5
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy", "--count", "1"]) == 0
    captured = capsys.readouterr()      # nothing new to cut: every take found there, none counted, none kept
    assert captured.out.count("already there") == 5 and "take 1/1" not in captured.out, captured.out
    assert "kept 0 takes in" in captured.err and "(5 already there)" in captured.err


def test_record_rejects_clipped_takes(tmp_path, capsys):
    src = tmp_path / "loud.wav"
    _takes_file(src, gains=(20.0, 20.0))
    x = sf.read(src, dtype="float32")[0]
    sf.write(src, np.clip(x, -1, 1), SR, subtype="PCM_16")
    out = tmp_path / "clips"
    # no take kept: exit code 1 (test_review_s51_j)
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--json", "--vad", "energy"]) == 1
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["rejected", "rejected"]
    assert all(e["reason"].startswith("clipped") for e in events)
    assert list(out.glob("*.wav")) == []


@pytest.mark.parametrize("args, message", [
    (["--input", "{tmp}/missing.wav"], "no such file"),
    (["--input", "{tmp}/corrupt.wav"], "corrupt.wav"),
    (["--out", "{tmp}/a-file", "--input", "{tmp}/missing.wav"], "--out {tmp}/a-file: exists and is not a directory"),
    (["--device", "987654"], "no input device 987654"),
])
def test_record_bad_input_is_a_clear_error(tmp_path, capsys, args, message):
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (tmp_path / "a-file").write_text("x")
    argv = ["record", "android", "--out", str(tmp_path / "clips")] + [a.format(tmp=tmp_path) for a in args]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "speechseq: error:" in err and message.format(tmp=tmp_path) in err and "Traceback" not in err
    assert main(["record", "!!", "--out", str(tmp_path / "c2"), "--input", str(SAMPLE)]) == 1
    assert "no letters or digits" in capsys.readouterr().err


RECORDING_WAIT_S = 60.0   # a command that never starts recording fails its test after this, not the whole run


def _start_recording(mic, args: list[str]) -> subprocess.Popen:
    """`speechseq record ARGS` on the virtual microphone, once it has said "recording from" (a warning may come
    before it). A command that does not say it within RECORDING_WAIT_S (it hangs, or ends first) fails the test with
    its output so far."""
    env = {**mic.env, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "record", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    killed = []
    timer = threading.Timer(RECORDING_WAIT_S, lambda: (killed.append(True), proc.kill()))
    timer.start()
    try:
        said = []
        while "recording from" not in (line := proc.stderr.readline()):
            if not line:  # it ended, or was killed for waiting too long: the readline no longer blocks
                timer.cancel()
                proc.kill()
                out, err = proc.communicate(timeout=30)
                why = (f"no 'recording from' line within {RECORDING_WAIT_S:g} s" if killed else
                       f"it exited (code {proc.returncode}) before recording")
                pytest.fail(f"`speechseq record {' '.join(args)}`: {why}; its output so far:\n"
                            f"{''.join(said)}{err}{out}", pytrace=False)
            said.append(line)
    except BaseException:
        if proc.poll() is None:
            proc.kill()
        raise
    finally:
        timer.cancel()
    return proc


def _record_through_pulse(mic, args: list[str], wav: Path | None, wait: bool) -> tuple[int, str, str]:
    """`speechseq record ARGS` on the virtual microphone (_start_recording); `wav` (if any) is played into it once
    the command records (`wait`: until the playback ends). Returns the exit code, stdout and stderr."""
    proc = _start_recording(mic, args)
    try:
        if wav is not None:
            mic.play(wav, wait=wait)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout, stderr


def test_record_through_pulse_fails_a_command_that_never_records(tmp_path, monkeypatch):
    """A `speechseq record` that hangs before it records (here in its start-up) hung the helper's read of its first
    line, and with it the whole test run: after RECORDING_WAIT_S it is killed and the test fails, quoting its output."""
    import os
    import time
    from types import SimpleNamespace

    from . import test_record_cli as here

    (tmp_path / "sitecustomize.py").write_text("import time\nprint('hanging before the microphone opens', "
                                               "flush=True)\ntime.sleep(600)\n")
    mic = SimpleNamespace(env={**os.environ, "PYTHONPATH": str(tmp_path)}, play=lambda *a, **k: None)
    monkeypatch.setattr(here, "RECORDING_WAIT_S", 2.0)
    t0 = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"(?s)no 'recording from' line within 2 s.*hanging before the "
                                                    r"microphone opens"):
        _record_through_pulse(mic, ["--background", "0.05", "--out", str(tmp_path / "room")], SAMPLE, wait=False)
    assert time.monotonic() - t0 < 30


def test_record_through_the_virtual_microphone(tmp_path, pulse_mic):  # noqa: F811
    """Three takes spoken into a PulseAudio virtual microphone: the command keeps three and stops."""
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 0.7, 1.0))
    pcm = tmp_path / "takes16.wav"
    sf.write(pcm, sf.read(src, dtype="float32")[0], SR, subtype="PCM_16")
    out = tmp_path / "clips"
    code, stdout, stderr = _record_through_pulse(
        pulse_mic, ["android", "--out", str(out), "--json", "--count", "3", "--max-minutes", "1"], pcm, wait=True)
    assert code == 0, stderr
    events = _events(stdout)
    assert [e["event"] for e in events] == ["take"] * 3
    assert "kept 3 takes" in stderr
    durations = [sf.info(f).duration for f in sorted(out.glob("android-*.wav"))]
    assert len(durations) == 3
    # each take: about 0.5 s of speech + 0.4 s of padding, all three alike
    assert all(0.7 < d < 1.3 for d in durations) and max(durations) - min(durations) < 0.15


def test_next_steps_start_from_the_shipped_model_of_a_shipped_keyword():
    from speechseq.commands.record import next_steps

    text = next_steps("activate", "activate", Path("clips"))
    assert "--synth cache/synth/kw-activate --init models/activate.onnx" in text
    assert "--positives clips:50" in text and "speechseq synth keyword --keyword \"activate\"" in text


def test_next_steps_name_the_shipped_model_from_any_working_folder(tmp_path, monkeypatch):
    """The fine-tune printed after a session is meant to be pasted where record ran: run outside the checkout (or
    with SPEECHSEQ_MODELS elsewhere), it said `--init models/activate.onnx`, and train detector answered
    '--init: models/activate.onnx: no such model file'."""
    import shlex

    from speechseq.commands.record import next_steps

    monkeypatch.chdir(tmp_path)
    text = next_steps("activate", "activate", Path("clips"))
    words = shlex.split(next(s for s in text.replace("\\\n", "").splitlines() if "train detector" in s))
    init = Path(words[words.index("--init") + 1])
    assert init.is_file() and init.resolve() == (ROOT / "models" / "activate.onnx").resolve(), init


def test_record_background_writes_a_file_a_minute_and_keeps_every_sample(tmp_path, capsys):
    rng = np.random.default_rng(0)
    src = tmp_path / "room.flac"
    x = (0.05 * rng.standard_normal(130 * SR)).astype(np.float32)
    sf.write(src, x, SR, subtype="PCM_16")
    x = sf.read(src, dtype="float32")[0]
    out = tmp_path / "room"
    assert main(["record", "--background", "3", "--out", str(out), "--input", str(src), "--json"]) == 0
    events = _events(capsys.readouterr().out)
    assert [(e["event"], e["duration"]) for e in events] == [("background", 60.0), ("background", 60.0),
                                                             ("background", 10.0)]
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == ["background-001.wav", "background-002.wav", "background-003.wav"]
    got = np.concatenate([sf.read(f, dtype="float32")[0] for f in files])
    np.testing.assert_array_equal(got, x)                       # every sample, in order, nothing added
    # a second session stops at its minutes and numbers after the first
    assert main(["record", "--background", "1.5", "--out", str(out), "--input", str(src)]) == 0
    err = capsys.readouterr().err
    assert "kept 90 s (1.5 min) of background in 2 files" in err and f"--backgrounds {out}" in err
    assert [sf.info(out / f"background-{i:03d}.wav").duration for i in (4, 5)] == [60.0, 30.0]
    with pytest.raises(SystemExit) as exc:   # a bad option value: a usage error (exit 2), as for every command
        main(["record", "--background", "0", "--out", str(out), "--input", str(src)])
    assert exc.value.code == 2 and "--background: must lie in (0, 1440], got 0" in capsys.readouterr().err
    assert main(["record", "android", "--background", "1", "--out", str(out), "--input", str(src)]) == 1
    assert "records the room, not 'android'" in capsys.readouterr().err
    assert main(["record", "--out", str(out), "--input", str(src)]) == 1
    assert "say which keyword" in capsys.readouterr().err


def test_record_background_through_the_virtual_microphone(tmp_path, pulse_mic):  # noqa: F811
    """3 s of the room through PulseAudio: one file of exactly 3 s that heard the demo recording."""
    # The demo on a loop, playing before the command starts: whichever 3 s it records hold its speech (its pauses are
    # under 2.5 s). Played once "recording from" was said, its first second of silence was all the file held where
    # the command had queued older audio (a start slowed by a busy machine: its first block seconds old).
    a = sf.read(SAMPLE, dtype="float32")[0]
    room = tmp_path / "demo-loop.wav"
    sf.write(room, np.tile(a, int(RECORDING_WAIT_S / (len(a) / SR)) + 2), SR, subtype="PCM_16")
    out = tmp_path / "room"
    playing = pulse_mic.play(room, wait=False)
    try:
        code, stdout, stderr = _record_through_pulse(pulse_mic, ["--background", "0.05", "--out", str(out)], None,
                                                     wait=False)
    finally:
        playing.kill()
        playing.wait()
    assert code == 0, stderr
    files = sorted(out.glob("background-*.wav"))
    assert len(files) == 1 and sf.info(files[0]).duration == 3.0
    heard = sf.read(files[0], dtype="float32")[0]
    assert np.abs(heard).max() > 0.1                              # the demo's speech, not silence


def test_record_stops_on_sigterm_as_on_ctrl_c(tmp_path, pulse_mic):  # noqa: F811
    """A service manager's SIGTERM: the same "stopped" line as Ctrl+C, and the minute in progress is written."""
    import time

    out = tmp_path / "room"
    # the command can have heard nothing before it started; its first block can be older than its "recording from"
    # line (a start slowed by a busy machine queues the audio it has not read yet), and this test can read the line
    # late: what the file holds is bounded from here
    t0 = time.monotonic()
    proc = _start_recording(pulse_mic, ["--background", "1", "--out", str(out)])
    try:
        pulse_mic.play(SAMPLE, wait=False)
        time.sleep(2.0)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)      # a hang check, generous for a busy machine
        ran = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "speechseq: stopped" in stderr and "Traceback" not in stderr
    files = sorted(out.glob("background-*.wav"))
    # what it heard until it stopped (the 2 s, and however long a busy machine took to start and stop it), not a
    # whole minute; 0.5 s for where a block ends
    assert len(files) == 1 and 1.0 < sf.info(files[0]).duration < ran + 0.5, (sf.info(files[0]).duration, ran)


def test_list_devices_needs_no_out_folder_and_takes_do(capsys):
    from speechseq.cli import main

    code = main(["record", "--list-devices"])
    err = capsys.readouterr().err
    assert code in (0, 1) and "required" not in err          # 1: this machine has no input device
    assert main(["record", "yes"]) == 1
    assert "give the folder for the recordings: --out DIR" in capsys.readouterr().err


def test_record_energy_vad_takes_in_a_room_with_a_noise_floor(tmp_path, capsys):
    """--vad energy in a room whose noise sits at -50 dBFS: the floor is the energy VAD's own start (-60 dB),
    not that of the digital silence Silero is primed with (-100 dB, from which the floor took half a minute to
    rise, all of it "speech": one "too long" take)."""
    a = sf.read(SAMPLE, dtype="float32")[0]
    word = a[int(1.0 * SR) : int(1.9 * SR)]
    rng = np.random.default_rng(0)
    x = np.concatenate([np.zeros(SR, np.float32), word] * 4 + [np.zeros(SR, np.float32)])
    x += rng.normal(0, 0.003, len(x)).astype(np.float32)        # the room: -50 dBFS throughout
    src = tmp_path / "room.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    out = tmp_path / "clips"
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--json", "--vad", "energy"]) == 0
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["take"] * 4
    assert [round(e["start"]) for e in events] == [1, 3, 5, 7]


def test_record_takes_never_overwrite_a_file_made_during_the_session(tmp_path):
    """Another session into the same folder wrote android-001.wav after this one numbered its takes: the
    take goes to the next free number, the other file stays as it was."""
    from argparse import Namespace

    from speechseq.commands.record import _Takes

    out = tmp_path / "clips"
    out.mkdir()
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True)
    session = _Takes(args, out, "android")
    other = (0.1 * np.sin(np.arange(8000) / 3.0)).astype(np.float32)
    sf.write(out / "android-001.wav", other, SR, subtype="PCM_16")
    before = (out / "android-001.wav").read_bytes()
    take = (0.2 * np.sin(np.arange(8000) / 7.0)).astype(np.float32)
    got = session.write(take, session.seen)
    assert got == out / "android-002.wav" and session.kept == [got]
    assert (out / "android-001.wav").read_bytes() == before
    np.testing.assert_allclose(sf.read(got, dtype="float32")[0], take, atol=1 / 32768)


def test_two_sessions_into_one_folder_never_overwrite_each_others_takes(tmp_path, monkeypatch):
    """Two sessions cutting takes into one folder at once (four `record --input` runs in parallel kept 147 files of
    the 160 takes they reported): the other session's android-001.wav, made after this one found the name free and
    before its take was put there, was replaced by it. The take goes to the next free number now."""
    from argparse import Namespace

    import speechseq.commands.record as record

    out = tmp_path / "clips"
    out.mkdir()
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True)
    mine, other = record._Takes(args, out, "android"), record._Takes(args, out, "android")
    take = (0.2 * np.sin(np.arange(8000) / 7.0)).astype(np.float32)
    theirs = (0.1 * np.sin(np.arange(8000) / 3.0)).astype(np.float32)
    digest, calls = record.sample_digest, []

    def the_other_session_writes_first(wav):
        calls.append(wav)
        if len(calls) == 1:     # while this session's take is on its way to android-001.wav
            other.write(theirs, other.seen)
        return digest(wav)

    monkeypatch.setattr(record, "sample_digest", the_other_session_writes_first)
    got = mine.write(take, mine.seen)
    assert other.kept == [out / "android-001.wav"] and got == out / "android-002.wav" and mine.kept == [got]
    np.testing.assert_allclose(sf.read(out / "android-001.wav", dtype="float32")[0], theirs, atol=1 / 32768)
    np.testing.assert_allclose(sf.read(got, dtype="float32")[0], take, atol=1 / 32768)
    assert sorted(f.name for f in out.iterdir()) == ["android-001.wav", "android-002.wav"]   # no temporary file


def test_record_a_take_that_cannot_be_written_is_a_clear_error(tmp_path):
    import resource

    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 1.0))
    out = tmp_path / "clips"

    def no_room_for_a_take():   # the disk refuses the take's file (as a full disk would)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))

    done = subprocess.run([sys.executable, "-m", "speechseq", "record", "android", "--out", str(out), "--input",
                           str(src), "--vad", "energy"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=no_room_for_a_take)
    err = done.stderr
    assert done.returncode == 1 and "speechseq: error:" in err and "android-001.wav" in err, err
    assert "Traceback" not in err and list(out.iterdir()) == []     # no file, whole or partial


def test_record_ctrl_c_while_a_take_is_written_leaves_no_partial_file(tmp_path, capsys, monkeypatch):
    import speechseq.commands.record as record

    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 1.0, 1.0))
    out = tmp_path / "clips"
    digest, calls = record.sample_digest, []

    def interrupted_on_the_second(path):
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return digest(path)

    monkeypatch.setattr(record, "sample_digest", interrupted_on_the_second)
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy"]) == 0
    captured = capsys.readouterr()
    assert "speechseq: stopped" in captured.err and "kept 1 take in" in captured.err
    assert sorted(f.name for f in out.iterdir()) == ["android-001.wav"]   # the first take whole, no .part left
    assert sf.info(out / "android-001.wav").frames > 0


def test_record_ctrl_c_once_a_take_is_on_disk_keeps_it(tmp_path, capsys, monkeypatch):
    """Ctrl+C while the second take was checked against the takes there (its digest), when its samples had been
    written whole into the folder (a temporary file, read back for the check): the file was deleted, and the take
    with it ("kept 1 take"). Every take whose samples reached the folder is kept, under its number."""
    import speechseq.commands.record as record

    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 0.8, 0.6))
    out = tmp_path / "clips"
    digest, calls, on_disk = record.sample_digest, [], []

    def samples(folder: Path, pattern: str) -> list[bytes]:
        return [sf.read(f, dtype="int16")[0].tobytes() for f in sorted(folder.glob(pattern)) if sf.info(f).frames]

    def interrupted_on_the_second(path):
        calls.append(path)
        if len(calls) == 2:
            on_disk.extend(samples(out, "*.wav") + samples(out, ".*"))   # what the folder holds at the Ctrl+C
            raise KeyboardInterrupt
        return digest(path)

    monkeypatch.setattr(record, "sample_digest", interrupted_on_the_second)
    assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy"]) == 0
    err = capsys.readouterr().err
    kept = samples(out, "android-*.wav")
    assert "speechseq: stopped" in err and f"kept {len(kept)} take{'s' if len(kept) != 1 else ''} in" in err, err
    assert on_disk and all(s in kept for s in on_disk), (len(on_disk), len(kept))
    assert sorted(f.name for f in out.iterdir()) == [f"android-00{i}.wav" for i in range(1, len(kept) + 1)]


def test_record_keyword_slug_keeps_letters_of_any_alphabet():
    from speechseq.commands.record import slug

    assert slug("Hey, Robot!") == "hey-robot"
    assert slug("Привет робот") == "привет-робот"
    assert slug("cafe\u0301") == slug("café") == "café"      # decomposed or not: the same files
    assert slug("snake_case") == "snake-case"
    with pytest.raises(Exception, match="no letters or digits"):
        slug("!! _ ??")


def test_a_stop_in_the_pause_after_a_word_keeps_it(tmp_path, capsys):
    """--max-minutes (as Ctrl+C) 0.3 s after the last word, before its 0.5 s pause was over: the word is kept (it
    was dropped); a stop in the middle of a word still keeps nothing of it."""
    a = sf.read(SAMPLE, dtype="float32")[0]
    word, gap = a[int(1.0 * SR): int(1.9 * SR)], np.zeros(SR, np.float32)
    x = np.concatenate([gap, word, gap, word, np.zeros(3 * SR, np.float32)])
    src = tmp_path / "two.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    for stop_s, takes in ((4.1, 2), (3.4, 1)):   # 0.3 s after the second word; inside it
        out = tmp_path / f"clips-{stop_s}"
        assert main(["record", "android", "--out", str(out), "--input", str(src), "--json",
                     "--max-minutes", str(stop_s / 60)]) == 0
        events = _events(capsys.readouterr().out)
        assert [e["event"] for e in events] == ["take"] * takes, (stop_s, events)
        assert len(list(out.glob("android-*.wav"))) == takes


def test_audio_dropped_in_the_pause_after_a_word_keeps_it(tmp_path, capsys):
    """The machine fell behind (the microphone's queue dropped audio) 0.3 s after the last word, before its pause
    was over: the word was heard whole and is kept, as a stop there keeps it (it was rejected: "audio was
    dropped during it: say it again"); audio dropped in the middle of a word still rejects that word."""
    from argparse import Namespace

    from speechseq.commands.record import _Takes
    from speechseq.sources import Overrun

    a = sf.read(SAMPLE, dtype="float32")[0]
    word = a[int(1.0 * SR): int(1.9 * SR)]
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True)
    for heard_s, want in ((0.3, ["take", "take"]), (-0.4, ["rejected", "take"])):   # after the word; inside it
        out = tmp_path / f"clips-{heard_s}"
        out.mkdir()
        session = _Takes(args, out, "android")
        before = np.concatenate([np.zeros(SR, np.float32), word, np.zeros(SR, np.float32)])
        before = before[: SR + len(word) + int(heard_s * SR)]
        after = np.concatenate([np.zeros(SR, np.float32), word, np.zeros(2 * SR, np.float32)])
        for x in (before, after):
            for i in range(0, len(x), 800):
                session.feed(x[i: i + 800])
                session.heard += len(x[i: i + 800])
            if x is before:
                session.overrun(Overrun(0.5, session.heard / SR))
        events = _events(capsys.readouterr().out)
        assert [e["event"] for e in events] == want, (heard_s, events)
        kept = sorted(out.glob("android-*.wav"))
        assert len(kept) == want.count("take")
        if heard_s > 0:   # the first take whole: the word and 0.2 s of what was heard on either side
            first = sf.read(kept[0], dtype="float32")[0]
            assert abs(len(first) / SR - (events[0]["end"] - events[0]["start"] + 0.4)) < 1e-3
            assert 1.1 < events[0]["start"] < 1.25 and 1.6 < events[0]["end"] < 1.8   # "activate": 1.18-1.69 s


def test_audio_the_driver_discarded_is_said_so_without_a_length(tmp_path, capsys):
    """PortAudio's input overflow comes as an Overrun of unknown length (input_overflows, dropped_s 0): a take it
    fell into was rejected as "0.00 s of audio was dropped during it", and --background warned "0.00 s of audio
    was dropped"; both say the driver lost audio, of a length it does not report."""
    from argparse import Namespace

    from speechseq.commands.record import _Background, _Takes
    from speechseq.sources import Overrun

    a = sf.read(SAMPLE, dtype="float32")[0]
    word = a[int(1.0 * SR): int(1.9 * SR)]
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True)
    out = tmp_path / "clips"
    out.mkdir()
    session = _Takes(args, out, "android")
    x = np.concatenate([np.zeros(SR, np.float32), word])[: SR + len(word) // 2]   # stopped inside the word
    for i in range(0, len(x), 800):
        session.feed(x[i: i + 800])
        session.heard += len(x[i: i + 800])
    session.overrun(Overrun(0.0, session.heard / SR, input_overflows=1))
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["rejected"]
    reason = events[0]["reason"]
    assert "0.00 s" not in reason and "how much it does not say" in reason and "say it again" in reason, reason
    session.overrun(Overrun(0.25, session.heard / SR, input_overflows=2))   # both: the known part and the rest
    background = _Background(Namespace(background=1.0, json=True), tmp_path / "room", "background")
    background.overrun(Overrun(0.0, 3.0, input_overflows=1))
    background.overrun(Overrun(0.5, 4.0))
    err = capsys.readouterr().err.splitlines()
    assert err == ["speechseq: warning: the input driver discarded audio (how much it does not say)",
                   "speechseq: warning: 500 ms of audio was dropped (the machine fell behind)"], err


def test_record_into_a_folder_whose_name_is_not_utf8(tmp_path):
    """A folder named in Latin-1 (its name reaches Python as lone surrogates): the takes' and the background's
    files were written through a str path that soundfile encodes as strict UTF-8, so the first file ended the
    session with a UnicodeEncodeError traceback and nothing kept; a second session into it read the takes there
    the same way. (A process of its own: its stdout writes such a name back as the bytes it was given.)"""
    import os

    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0, 1.0))
    out = tmp_path / os.fsdecode(b"caf\xe9")

    def record(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "speechseq", "record", *args, "--out", str(out), "--input",
                               str(src)], cwd=ROOT, capture_output=True, timeout=120)

    for _ in range(2):   # the second cuts the same takes again: found there, not saved twice
        done = record("android", "--vad", "energy", "--json")
        assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    events = _events(done.stdout.decode("utf-8", "surrogateescape"))
    assert [(e["file"], e.get("already_there")) for e in events] == [
        (str(out / f"android-00{i}.wav"), True) for i in (1, 2)]
    assert sorted(f.name for f in out.iterdir()) == ["android-001.wav", "android-002.wav"]
    done = record("--background", "1")
    assert done.returncode == 0 and b"kept 4.3 s of background in 1 file" in done.stderr, done.stderr
    with open(out / "background-001.wav", "rb") as f:
        np.testing.assert_allclose(sf.read(f, dtype="float32")[0], sf.read(src, dtype="float32")[0], atol=1 / 32768)


def test_record_on_a_full_disk_says_why(tmp_path):
    """A write that the disk refuses (here the process's file-size limit, EFBIG, as a full disk's ENOSPC: both
    reach libsndfile as a failed write()) was "background-001.wav: cannot write it (System error.)"; it names
    the system's reason now, and leaves no partial file."""
    import resource

    x = (0.05 * np.random.default_rng(0).standard_normal(65 * SR)).astype(np.float32)
    src = tmp_path / "room.wav"
    sf.write(src, x, SR, subtype="PCM_16")
    out = tmp_path / "room"

    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, resource.RLIM_INFINITY))

    done = subprocess.run([sys.executable, "-m", "speechseq", "record", "--background", "2", "--out", str(out),
                           "--input", str(src)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=small_files)
    assert done.returncode == 1, done.stderr
    assert "background-001.wav: cannot write it (" in done.stderr and "File too large" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and list(out.iterdir()) == []


def test_the_commands_printed_next_quote_a_folder_with_a_space(tmp_path, capsys):
    """The next steps printed after a session are meant to be pasted into a shell: a folder named "My Clips" was
    printed as `--positives My Clips:50` (two arguments there: the train command failed on "My")."""
    import shlex

    from speechseq.commands.record import next_steps

    text = next_steps("android", "android", Path("My Clips"))
    line = next(s for s in text.replace("\\\n", "").splitlines() if "train detector" in s)
    assert shlex.split(line)[shlex.split(line).index("--positives") + 1] == "My Clips:50", line
    src = tmp_path / "room.wav"
    sf.write(src, np.zeros(2 * SR, np.float32), SR, subtype="PCM_16")
    out = tmp_path / "my room"
    assert main(["record", "--background", "1", "--out", str(out), "--input", str(src)]) == 0
    use = next(s for s in capsys.readouterr().err.splitlines() if "--backgrounds" in s)
    cmd = use[use.index("`") + 1: use.index("`", use.index("`") + 1)]
    assert shlex.split(cmd)[-1] == str(out), use


def test_record_background_shorter_than_a_file_is_refused_before_recording(tmp_path, capsys):
    """`record --background 0.01` recorded 0.6 s and kept nothing ("kept 0.0 s of background in 0 files"): a file
    holds 1 s at least, so less is refused in one line before anything is heard; 1 s is kept."""
    src = tmp_path / "room.wav"
    sf.write(src, (0.05 * np.random.default_rng(0).standard_normal(5 * SR)).astype(np.float32), SR)
    out = tmp_path / "room"
    assert main(["record", "--background", "0.01", "--out", str(out), "--input", str(src)]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("speechseq: error: --background 0.01: 0.6 s, under the 1 s a background file holds at "
                           "least: give 0.017 minutes or more")
    assert main(["record", "--background", "5", "--max-minutes", "0.01", "--out", str(out), "--input", str(src)]) == 1
    assert "--max-minutes 0.01: 0.6 s, under the 1 s a background file holds" in capsys.readouterr().err
    assert not out.exists()
    assert main(["record", "--background", str(1 / 60), "--out", str(out), "--input", str(src), "--json"]) == 0
    assert [(e["event"], e["duration"]) for e in _events(capsys.readouterr().out)] == [("background", 1.0)]


def test_record_background_just_under_a_second_is_not_said_as_one(tmp_path, capsys):
    """`--max-minutes 0.016` (0.96 s) was refused as "1.0 s, under the 1 s": the length is said as it is."""
    src = tmp_path / "room.wav"
    sf.write(src, (0.05 * np.random.default_rng(0).standard_normal(5 * SR)).astype(np.float32), SR)
    for option in ("--max-minutes", "--background"):
        argv = ["--background", "5", "--max-minutes", "0.016"] if option == "--max-minutes" else ["--background",
                                                                                                  "0.0166"]
        assert main(["record", *argv, "--out", str(tmp_path / "room"), "--input", str(src)]) == 1
        said = "0.96 s" if option == "--max-minutes" else "0.996 s"
        assert capsys.readouterr().err.strip() == (f"speechseq: error: {option} {argv[-1]}: {said}, under the 1 s a "
                                                   "background file holds at least: give 0.017 minutes or more")


def test_record_from_a_file_says_device_options_are_ignored(tmp_path, capsys):
    """--device and --samplerate choose a microphone: with --input they were silently ignored (listen warns)."""
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0,))
    line = "speechseq: warning: --device and --samplerate choose a microphone: with --input they are ignored"
    for i, extra in enumerate((["--device", "2"], ["--samplerate", "44100"], [])):
        out = tmp_path / f"clips{i}"
        assert main(["record", "android", "--out", str(out), "--input", str(src), "--vad", "energy", *extra]) == 0
        err = capsys.readouterr().err
        assert (line in err) == bool(extra) and "kept 1 take" in err


def test_record_into_an_empty_out_is_refused_not_the_working_directory(tmp_path, monkeypatch, capsys):
    """`--out ""` recorded the takes into the folder the command ran in."""
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0,))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for argv in (["android"], ["--background", "1"]):
        assert main(["record", *argv, "--out", "", "--input", str(src), "--vad", "energy"]) == 1
        assert capsys.readouterr().err.strip() == "speechseq: error: --out '': an empty path names no folder"
    assert list(work.iterdir()) == []


def test_record_from_an_empty_input_is_refused_not_the_microphone(tmp_path, capsys):
    """`--input ""` (a shell variable left unset) recorded from the default microphone, as if no --input were given
    (here, with no input device, "no default input device"): an empty path names no file."""
    for argv in (["android"], ["--background", "1"]):
        out = tmp_path / "clips"
        assert main(["record", *argv, "--out", str(out), "--input", "", "--vad", "energy"]) == 1
        assert capsys.readouterr().err.strip() == "speechseq: error: --input '': an empty path names no file"
        assert not out.exists()


def test_next_steps_quote_a_keyword_for_the_shell_whatever_it_holds():
    """The keyword was put between double quotes as it is: one holding a '"', a '$' or a backtick broke the command
    pasted (or ran what it named). Each pasted line now gives the keyword back whole."""
    import shlex

    from speechseq.commands.record import next_steps

    for keyword in ('say "hi"', "cost $HOME", "tick`ls`", "hey robot", "it's me"):
        lines = [line.rstrip(" \\") for line in next_steps(keyword, "kw", Path("clips")).splitlines()[1:]]
        for words in (shlex.split(lines[0], comments=True), shlex.split(" ".join(lines[1:]))):
            assert words[words.index("--keyword") + 1] == keyword, (keyword, words)


def test_record_background_says_the_take_options_it_does_not_read(tmp_path, capsys):
    """--count, --pause-ms, --max-seconds and --vad shape takes of a keyword: with --background they were ignored
    without a word (a user asking for --count 3 minutes-long files got minutes of room)."""
    src = tmp_path / "room.wav"
    sf.write(src, (0.05 * np.random.default_rng(1).standard_normal(70 * SR)).astype(np.float32), SR)
    out = tmp_path / "room"
    assert main(["record", "--background", "1", "--out", str(out), "--input", str(src), "--count", "3",
                 "--vad", "energy"]) == 0
    err = capsys.readouterr().err
    assert "--count, --vad: not used with --background" in err, err
    assert main(["record", "--background", "1", "--out", str(tmp_path / "room2"), "--input", str(src)]) == 0
    assert "not used" not in capsys.readouterr().err


def test_a_word_under_way_when_the_microphone_opens_is_not_kept(tmp_path, pulse_mic):  # noqa: F811
    """Talk already going on when the command starts (the word said before the prompt): the utterance's tail, from
    the first block heard, was kept as a take starting at 0.0 s. It is reported, not kept: its start was not heard."""
    import time

    a = sf.read(SAMPLE, dtype="float32")[0]
    piece = np.concatenate([a[int(1.15 * SR): int(1.75 * SR)], a[int(2.55 * SR): int(4.3 * SR)]])
    talk = np.tile(piece, 7)
    talk = 0.6 * (talk + np.roll(talk, len(piece) // 2))   # two voices: 16.5 s of speech with no gap to start in
    sf.write(tmp_path / "talk.wav", np.concatenate([talk, np.zeros(3 * SR)]), SR, subtype="PCM_16")
    talk = tmp_path / "talk.wav"
    out = tmp_path / "clips"
    playing = pulse_mic.play(talk, wait=False)
    try:
        proc = _start_recording(pulse_mic, ["android", "--out", str(out), "--json", "--vad", "energy",
                                            "--max-seconds", "60", "--max-minutes", "0.5"])
        try:
            # the command said "recording from" on its first block, heard inside the talk: a second more of it, then
            # the talk stops (the file is long enough for a slow start; heard whole, it kept the test 16 s)
            time.sleep(1.0)
            playing.kill()
            first = proc.stdout.readline()          # the utterance's end, once the talk stops
            proc.send_signal(signal.SIGTERM)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        playing.kill()
        playing.wait()
    assert proc.returncode == 0, stderr
    events = _events(first + stdout)
    assert events and events[0]["event"] == "rejected" and events[0]["start"] == 0.0, events
    assert events[0]["reason"].startswith("its start was not heard"), events
    assert list(out.glob("android-*.wav")) == [] and "kept 0 takes" in stderr, stderr


def test_audio_lost_inside_a_word_keeps_no_part_of_it(tmp_path, capsys):
    """The machine fell behind in the middle of a word (0.1 s dropped) and the word went on after the loss: the word
    was rejected ("audio was lost during it"), and then its tail after the loss was kept as a take of its own. The
    tail is reported too, and not kept; the next word is a take."""
    from argparse import Namespace

    from speechseq.commands.record import _Takes
    from speechseq.sources import Overrun

    a = sf.read(SAMPLE, dtype="float32")[0]
    word = a[int(1.0 * SR): int(1.9 * SR)]                 # "activate": speech from 0.18 to 0.69 s
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True,
                     input=None)
    out = tmp_path / "clips"
    out.mkdir()
    session = _Takes(args, out, "android")
    x = np.concatenate([np.zeros(SR, np.float32), word, np.zeros(SR, np.float32), word, np.zeros(SR, np.float32)])
    cut, resume = SR + int(0.3 * SR), SR + int(0.4 * SR)   # lost: 0.3-0.4 s into the first word
    for n, part in enumerate((x[:cut], x[resume:])):
        for i in range(0, len(part), 800):
            session.feed(part[i: i + 800])
            session.heard += len(part[i: i + 800])
        if n == 0:
            session.overrun(Overrun(0.1, session.heard / SR))
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["rejected", "rejected", "take"], events
    assert "audio was lost during it" in events[0]["reason"] and events[1]["reason"].startswith(
        "its start was not heard"), events
    assert [f.name for f in out.glob("android-*.wav")] == ["android-001.wav"]
    assert 2.95 < events[2]["start"] < 3.05, events   # the second word: 3.08 s into x, less the 0.1 s lost


def test_the_prompt_says_one_take_in_the_singular(tmp_path, capsys):
    """`--count 1` prompted "say "android", pause, say it again ... (1 takes; ...)"."""
    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0,))
    for count, said in (("1", "(1 take;"), ("2", "(2 takes;")):
        assert main(["record", "android", "--out", str(tmp_path / count), "--input", str(src), "--count", count,
                     "--vad", "energy"]) == 0
        err = capsys.readouterr().err
        assert said in err, err


def test_record_background_that_heard_nothing_says_so(tmp_path, pulse_mic, capsys):  # noqa: F811
    """A muted microphone (here the virtual one with nothing played into it) recorded minutes of digital silence and
    said "use it as `speechseq train detector ... --backgrounds`": a room that is no room, for training and for the
    threshold. Each file that heard nothing is named in a warning; a room with a noise floor is not."""
    out = tmp_path / "room"
    code, _, stderr = _record_through_pulse(pulse_mic, ["--background", "0.05", "--out", str(out)], None, wait=False)
    assert code == 0, stderr
    assert np.abs(sf.read(out / "background-001.wav", dtype="float32")[0]).max() == 0.0
    assert "background-001.wav: nothing was heard (no sample above -80 dBFS)" in stderr, stderr
    src = tmp_path / "floor.wav"   # a quiet room: a -70 dBFS floor
    sf.write(src, (10 ** (-70 / 20) * np.random.default_rng(0).standard_normal(2 * SR)).astype(np.float32), SR)
    assert main(["record", "--background", "1", "--out", str(tmp_path / "quiet"), "--input", str(src)]) == 0
    assert "nothing was heard" not in capsys.readouterr().err


def _noisy_room_zeros(colour: str) -> tuple[np.ndarray, list[float]]:
    """1.2 s of a steady -40 dBFS room (white or pink noise), then three espeak-ng "zero"s 1 s apart, the room
    throughout; returns the audio and where each word starts (s)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system.sh)")
    from speechseq.train.synth import Voice, synthesize

    word = synthesize("zero", Voice("espeak-ng", "en-us"))
    word = (0.3 / np.abs(word).max() * word).astype(np.float32)
    x = np.concatenate([np.zeros(int(1.2 * SR), np.float32)] + [word, np.zeros(SR, np.float32)] * 3)
    noise = np.random.default_rng(0).standard_normal(len(x))
    if colour == "pink":
        spectrum = np.fft.rfft(noise)
        spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
        spectrum[0] = 0
        noise = np.fft.irfft(spectrum, len(x))
    x += (10 ** (-40 / 20) / np.sqrt(np.mean(noise ** 2)) * noise).astype(np.float32)
    return x, [1.2 + i * (len(word) / SR + 1.0) for i in range(3)]


@pytest.mark.parametrize("colour", ["white", "pink"])
def test_record_energy_vad_keeps_no_take_of_a_noisy_room_at_a_files_start(tmp_path, capsys, colour):
    """A recording made in a steady -40 dBFS room: the energy VAD, streamed from its start guess, judged the file's
    first 0.5 s before it knew the room, and kept 0.51 s of room noise as the first take. A file is known before it
    is streamed: the floor starts at its room, as offline use's does, and the three words are the three takes."""
    x, starts = _noisy_room_zeros(colour)
    src = tmp_path / "room.wav"
    sf.write(src, x, SR, subtype="FLOAT")
    out = tmp_path / "clips"
    assert main(["record", "zero", "--out", str(out), "--input", str(src), "--json", "--vad", "energy"]) == 0
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["take"] * 3, events
    for e, s in zip(events, starts):    # the word is 0.44 s long: the take is it
        assert s - 0.05 < e["start"] < s + 0.1 and s + 0.3 < e["end"] < s + 0.5, (events, starts)
    assert sorted(f.name for f in out.glob("*.wav")) == ["zero-001.wav", "zero-002.wav", "zero-003.wav"]


def test_record_energy_vad_keeps_the_word_a_noisy_file_starts_inside(tmp_path, capsys):
    """The same room, the file cut 0.2 s into the first word: its start window heard speech, so the floor stayed at
    the start guess under the -40 dBFS room and all 4.1 s were one utterance ("too long": no take at all). The
    word the file starts in is its first take (a file's start is its own), and the other two follow."""
    x, starts = _noisy_room_zeros("white")
    cut = starts[0] + 0.2
    src = tmp_path / "inside.wav"
    sf.write(src, x[int(cut * SR):], SR, subtype="FLOAT")
    out = tmp_path / "clips"
    assert main(["record", "zero", "--out", str(out), "--input", str(src), "--json", "--vad", "energy"]) == 0
    events = _events(capsys.readouterr().out)
    assert [e["event"] for e in events] == ["take"] * 3, events
    assert events[0]["start"] == 0.0 and 0.15 < events[0]["end"] < 0.3, events
    for e, s in zip(events[1:], starts[1:]):
        assert s - cut - 0.05 < e["start"] < s - cut + 0.1, (events, starts)


@pytest.mark.parametrize("keyword", ["a" * 300, "日本語のキーワード" * 10])
def test_record_a_keyword_too_long_for_a_file_name_is_refused_before_recording(tmp_path, capsys, keyword):
    """A keyword of 300 letters, or of 90 Japanese characters (3 bytes each), failed with "File name too long" only
    when its first take was written, after the user had said it: refused in one line naming the limit before any
    audio is heard, nothing made. A keyword that fits the limit is recorded."""
    import os

    src = tmp_path / "takes.wav"
    _takes_file(src, gains=(1.0,))
    out = tmp_path / "clips"
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    assert main(["record", keyword, "--out", str(out), "--input", str(src), "--vad", "energy"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip()
    assert "\n" not in err and err.startswith(f"speechseq: error: keyword {keyword!r}: its take files would be named ")
    assert err.endswith(f"bytes, more than the {limit} a file name may have in {tmp_path}: give a shorter keyword")
    assert not out.exists()
    fits = "k" * (limit - len("-001.wav"))
    assert main(["record", fits, "--out", str(out), "--input", str(src), "--vad", "energy", "--json"]) == 0
    assert [Path(e["file"]).name for e in _events(capsys.readouterr().out)] == [f"{fits}-001.wav"]
