"""Bad input to `detect`, `transcribe` and `listen`: a usage error or one line before the work, a bad file
reported and skipped, and nothing written twice or lost (issues found by a user's audit, session 37)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

ROOT = Path(__file__).resolve().parents[1]
ACTIVATE = ROOT / "models" / "activate.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
needs_shipped = pytest.mark.skipif(not (ACTIVATE.is_file() and SAMPLE.is_file()), reason="shipped model or sample missing")


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv,says", [
    (["detect", "--threshold", "1.5", "x.wav"], "must lie in (0, 1), got 1.5"),
    (["detect", "--chunk-ms", "0", "x.wav"], "must be >= 1, got 0"),
    (["detect", "--smoothing", "-3", "x.wav"], "must lie in [1, 100], got -3"),
    (["detect", "--refractory", "-1", "x.wav"], "must be >= 0, got -1"),
    (["detect", "--threads", "-2", "x.wav"], "must be >= 1, got -2"),
    (["listen", "--block-ms", "0"], "must lie in [5, 1000], got 0"),
    (["listen", "--block-ms", "-50"], "got -50"),
    (["listen", "--threshold", "2"], "must lie in (0, 1), got 2"),
    (["listen", "--chunk-ms", "0"], "must be >= 20, got 0"),
    (["listen", "--lookahead-ms", "-1"], "must be >= 0, got -1"),
    (["listen", "--wake-wait-ms", "-5"], "must be >= 0, got -5"),
    (["listen", "--silence-ms", "0"], "must be >= 50, got 0"),
    (["listen", "--max-utterance-s", "-1"], "must be >= 1, got -1"),
    (["listen", "--no-speech-s", "0"], "must be > 0, got 0"),
    (["listen", "--max-minutes", "-1"], "must lie in (0, 525600], got -1"),
    (["listen", "--max-minutes", "x"], "not a number: 'x'"),
    # a device opened at 1 kHz gives audio where no speech survives
    (["listen", "--samplerate", "1000"], "must be >= 8000, got 1000"),
    (["record", "hello", "--out", "o", "--samplerate", "4000"], "must be >= 8000, got 4000"),
    (["record", "hello", "--out", "o", "--count", "0"], "must be >= 1, got 0"),
    (["transcribe", "--max-segment", "0", "x.wav"], "must be >= 1, got 0"),
    (["transcribe", "--threads", "0", "x.wav"], "must be >= 1, got 0"),
    # nan and inf parse as floats, then poison a beam search or a sampler far into the run
    (["transcribe", "--lm-weight", "nan", "x.wav"], "not a finite number: 'nan'"),
    (["transcribe", "--word-bonus", "inf", "x.wav"], "not a finite number: 'inf'"),
    (["transcribe", "--char-lm-weight", "-0.5", "x.wav"], "must lie in [0, 1000], got -0.5"),
    (["listen", "--lm-weight", "nan"], "not a finite number"),
    (["eval", "recognizer", "--manifest", "m.jsonl", "--lm-weight", "nan"], "not a finite number"),
    (["tune", "fusion", "--model", "m", "--lm", "l", "--manifest", "x", "--alphas", "0.5", "nan"], "not a finite number"),
    (["analyze", "--length-norm", "nan"], "not a finite number"),
    (["analyze", "--beam", "0"], "must be >= 1, got 0"),
    # a negative count of worst cases sliced the table to all but its last rows, or to nothing, in silence
    (["analyze", "--worst", "-1"], "must be >= 0, got -1"),
    (["eval", "recognizer", "--manifest", "m.jsonl", "--worst", "-1"], "must be >= 0, got -1"),
    (["sample", "--temperature", "nan"], "not a finite number"),
    (["features", "--n-mels", "1000", "x.wav"], "must lie in [1, 128], got 1000"),
    (["detect", "--range-db", "inf", "x.wav"], "not a finite number"),
])
def test_nonsense_option_values_are_usage_errors(argv, says, capsys):
    err = _usage_error(argv, capsys)
    assert says in err and "Traceback" not in err


@needs_shipped
def test_detect_plot_path_is_checked_before_the_work_and_a_failed_plot_loses_no_result(tmp_path, capsys):
    good = str(SAMPLE)
    assert main(["detect", "--plot", str(tmp_path / "no" / "such" / "dir" / "p.txt"), good]) == 1
    assert "unsupported file type '.txt'" in capsys.readouterr().err
    assert main(["detect", "--plot", str(tmp_path), good]) == 1
    assert "is a directory" in capsys.readouterr().err
    # the first file is bad: the plot is of the first file read, after its result is printed
    plot = tmp_path / "p.png"
    assert main(["detect", "--model", str(ACTIVATE), "--plot", str(plot), str(tmp_path / "nope.wav"), good]) == 1
    out, err = capsys.readouterr()
    assert "nope.wav: no such file" in err and out.startswith(f"{good}: 5.17 s: activate")
    assert plot.stat().st_size > 5000
    # nothing read: nothing plotted, and it says so
    plot.unlink()
    assert main(["detect", "--model", str(ACTIVATE), "--plot", str(plot), str(tmp_path / "nope.wav")]) == 1
    assert "--plot" in capsys.readouterr().err and not plot.exists()


@needs_shipped
def test_plots_into_a_folder_not_there_yet_make_it(tmp_path, capsys):
    """detect --plot and transcribe --plot-attention make a missing folder, as features --plot and eval detector
    --det do (they failed after the work, with the folder's absence)."""
    plot = tmp_path / "new" / "sub" / "p.png"
    assert main(["detect", "--model", str(ACTIVATE), "--plot", str(plot), str(SAMPLE)]) == 0
    assert plot.stat().st_size > 5000
    if (ROOT / "models" / "recognizer-en.onnx").is_file() and (ROOT / "models" / "decoder-en.onnx").is_file():
        att = tmp_path / "new2" / "sub" / "a.png"
        assert main(["transcribe", "--decoder", "greedy", "--plot-attention", str(att), str(SAMPLE)]) == 0
        assert att.stat().st_size > 5000
    capsys.readouterr()


@needs_shipped
def test_an_empty_directory_is_skipped_and_the_batch_goes_on(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["detect", "--json", "--model", str(ACTIVATE), str(SAMPLE), str(tmp_path / "empty")]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(x)["file"] for x in out.splitlines()] == [str(SAMPLE)]
    assert "empty: directory holds no audio files" in err


@needs_shipped
def test_a_model_given_twice_fires_once(capsys):
    assert main(["detect", "--json", "--model", str(ACTIVATE), "--model", str(ACTIVATE), str(SAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert [d["keyword"] for d in json.loads(out)["detections"]] == ["activate"]
    assert "given more than once" in err


def test_a_directory_given_as_a_model_is_named_as_one(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["detect", "--model", str(tmp_path), str(tmp_path / "a.wav")]) == 1
    assert "is a directory, not a model file" in capsys.readouterr().err
    assert main(["transcribe", "--model", str(tmp_path), str(tmp_path / "a.wav")]) == 1
    assert "is a directory, not a model file" in capsys.readouterr().err


def test_a_named_lexicon_that_is_missing_is_an_error_not_a_fallback(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["transcribe", "--lexicon", str(tmp_path / "nope.npz"), str(tmp_path / "a.wav")]) == 1
    assert "--lexicon" in capsys.readouterr().err
    assert main(["listen", "--lexicon", str(tmp_path / "nope.npz"), "--input", str(tmp_path / "a.wav"), "--fast"]) == 1
    assert "nope.npz: no such file" in capsys.readouterr().err
    assert main(["transcribe", "--lexicon", "none", "--decoder", "lexicon", str(tmp_path / "a.wav")]) == 1
    assert "--decoder lexicon needs a lexicon" in capsys.readouterr().err


def test_transcribe_output_paths_are_checked_first(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "notes.txt").write_text("x")
    assert main(["transcribe", "--output-dir", str(tmp_path / "notes.txt"), str(tmp_path / "a.wav")]) == 1
    assert "exists and is not a directory" in capsys.readouterr().err
    assert main(["transcribe", "--plot-attention", str(tmp_path / "x.doc"), str(tmp_path / "a.wav")]) == 1
    assert "unsupported file type '.doc'" in capsys.readouterr().err


def test_output_dir_names_never_collide():
    from speechseq.commands.transcribe import output_names

    files = [Path("d1/a.wav"), Path("d2/a.wav"), Path("x.wav"), Path("x.flac"), Path("a-2.wav"), Path("x.wav")]
    names = output_names(files, "txt")
    assert names == ["a.txt", "a-3.txt", "x.txt", "x-2.txt", "a-2.txt", "x-3.txt"]   # one file twice: two names too
    assert len(set(names)) == len(files)


def test_transcribe_output_dir_keeps_inputs_of_one_stem(tmp_path, capsys):
    tiny = pytest.importorskip("torch") and _tiny_recognizer(tmp_path)
    rng = np.random.default_rng(0)
    for folder in ("d1", "d2"):
        (tmp_path / folder).mkdir()
        sf.write(tmp_path / folder / "a.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    code = main(["transcribe", str(tmp_path / "d1" / "a.wav"), str(tmp_path / "d2" / "a.wav"), "--model", str(tiny),
                 "--decoder", "greedy", "--vad", "off", "--format", "json", "--output-dir", str(tmp_path / "out")])
    assert code == 0
    written = {p.name: json.loads(p.read_text())["file"] for p in (tmp_path / "out").iterdir()}
    assert written == {"a.json": str(tmp_path / "d1" / "a.wav"), "a-2.json": str(tmp_path / "d2" / "a.wav")}
    assert "written as a-2.json" in capsys.readouterr().err


def _tiny_recognizer(tmp_path: Path) -> Path:
    import torch

    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.export_recognizer import export_recognizer

    torch.manual_seed(0)
    return export_recognizer(Recognizer(RecognizerConfig(hidden=8, front_dim=8, layers=1)), tmp_path / "tiny.onnx")


@needs_shipped
def test_listen_exec_output_stays_out_of_the_json_stream(tmp_path, capfd):
    import time

    code = main(["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(ACTIVATE),
                 "--keyword-model", str(ACTIVATE), "--exec", "echo GOT"])
    assert code == 0
    out, err = capfd.readouterr()
    for _ in range(50):                       # the command runs beside the listener: wait for its line
        if "GOT" in err:
            break
        time.sleep(0.1)
        more_out, more_err = capfd.readouterr()
        out, err = out + more_out, err + more_err
    events = [json.loads(line) for line in out.splitlines()]          # every line is JSON
    assert [e["event"] for e in events if e["event"] in ("wake", "final")] == ["wake", "final"]
    assert "GOT " in err and "given more than once" in err


def test_subtitles_of_several_files_need_an_output_dir(tmp_path, capsys):
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(16000, np.float32), 16000)
    assert main(["transcribe", "--format", "vtt", str(tmp_path / "a.wav"), str(tmp_path / "b.wav")]) == 1
    assert "--format vtt for 2 files needs --output-dir" in capsys.readouterr().err


@needs_shipped
def test_listen_checks_exec_at_the_start_and_says_what_input_ignores(capsys):
    assert main(["listen", "--input", str(SAMPLE), "--fast", "--exec", "/no/such/cmd --flag"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "--exec '/no/such/cmd --flag': no such command" in err and "listening" not in err
    assert main(["listen", "--input", str(SAMPLE), "--fast", "--exec", "echo 'x"]) == 1
    assert "No closing quotation" in capsys.readouterr().err
    assert main(["listen", "--input", str(SAMPLE), "--fast", "--json", "--samplerate", "48000", "--no-partials"]) == 0
    assert "--samplerate choose a microphone: with --input they are ignored" in capsys.readouterr().err


def test_a_file_that_is_no_lexicon_gets_no_unsafe_advice(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "words.txt").write_text("hello world\n")
    assert main(["transcribe", "--lexicon", str(tmp_path / "words.txt"), str(tmp_path / "a.wav")]) == 1
    err = capsys.readouterr().err
    assert "not a word LM file (not a NumPy .npz archive" in err and "pickle" not in err


@pytest.mark.skipif(not (ROOT / "models" / "decoder-en.onnx").is_file(), reason="shipped attention decoder missing")
def test_rescoring_with_a_decoder_of_another_width_is_one_line(tmp_path, capsys):
    pytest.importorskip("torch")
    tiny = _tiny_recognizer(tmp_path)         # encoder_out of 16 channels; the shipped decoder reads 512
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["transcribe", "--model", str(tiny), "--decoder", "rescore", "--vad", "off", str(tmp_path / "a.wav")]) == 1
    err = capsys.readouterr().err
    assert "reads an encoder of 512 channels" in err and "tiny.onnx's has 16" in err and "Traceback" not in err


@pytest.mark.skipif(not (ROOT / "models" / "recognizer-en.int8.onnx").is_file(), reason="shipped recogniser missing")
def test_sigterm_stops_a_command_as_ctrl_c_does(tmp_path):
    """SIGTERM in a long transcription: the results so far are out, then one line and exit code 130 (it was
    killed without a word)."""
    import os
    import signal
    import subprocess
    import sys

    sf.write(tmp_path / "short.wav", np.zeros(8000, np.float32), 16000, subtype="PCM_16")
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "long.wav", (0.05 * rng.standard_normal(16000 * 60 * 20)).astype(np.float32), 16000,
             subtype="PCM_16")
    p = subprocess.Popen([sys.executable, "-m", "speechseq", "transcribe", "--model",
                          str(ROOT / "models" / "recognizer-en.int8.onnx"), "--decoder", "greedy", "--vad", "off",
                          str(tmp_path / "short.wav"), str(tmp_path / "long.wav")], cwd=ROOT,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    first = p.stdout.readline()                  # the short file's line: the long one is under way
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert first.startswith(str(tmp_path / "short.wav")) and "long.wav" not in out
    assert p.returncode == 130 and err.strip().endswith("speechseq: interrupted") and "Traceback" not in err


# Model files whose metadata is damaged or does not describe their graph: one line naming the file from every
# command that loads one, never a traceback (a field missing or of the wrong type raised KeyError, TypeError,
# ValueError or AttributeError from the loaders; metadata that was not a JSON object, AttributeError; a recogniser
# of another vocabulary was decoded with speechseq.text's, wrongly and silently).

def _edited(src: Path, dst: Path, edit) -> Path:
    """A copy of the model `src` at `dst` whose speechseq metadata is edit(metadata): a dict, or raw text."""
    import onnx

    from speechseq.runtime.onnx import METADATA_KEY, graph_metadata

    model = onnx.load(str(src))
    new = edit(graph_metadata(model))
    keep = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, new if isinstance(new, str) else json.dumps(new)
    onnx.save(model, str(dst))
    return dst


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """A tiny recogniser (8 hidden: encoder_out of 16), its chunked twin, a character LM and an attention decoder
    that reads it; and a second of silence."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig
    from speechseq.train.export_lm import export_decoder, export_lm
    from speechseq.train.export_recognizer import export_recognizer
    from speechseq.train.export_streaming import export_streaming

    d = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    rec = Recognizer(RecognizerConfig(hidden=8, front_dim=8, layers=1))
    lm = CharLM(LMConfig(embed_dim=4, hidden=8))
    sf.write(d / "a.wav", np.zeros(16000, np.float32), 16000)
    return {"recognizer": export_recognizer(rec, d / "rec.onnx"),
            "stream": export_streaming(rec, d / "rec.stream.onnx"), "lm": export_lm(lm, d / "lm.onnx"),
            "decoder": export_decoder(AttentionDecoder(DecoderConfig(embed_dim=4, enc_dim=16, hidden=8, attn_dim=8),
                                                       lm.embedding), d / "dec.onnx"),
            "wav": d / "a.wav"}


def _argv(kind: str, path: Path, models: dict[str, Path]) -> list[str]:
    wav, rec = str(models["wav"]), str(models["recognizer"])
    return {"recognizer": ["transcribe", "--model", str(path), "--decoder", "greedy", "--vad", "off", wav],
            "stream": ["listen", "--input", wav, "--fast", "--keyword-model", str(ACTIVATE), "--model", rec,
                       "--lm", "none", "--decoder", "greedy", "--stream-model", str(path)],
            "lm": ["sample", "-n", "1", "--lm", str(path)],
            "decoder": ["transcribe", "--model", rec, "--decoder", "rescore", "--lm", str(models["lm"]), "--vad", "off",
                        "--attention-decoder", str(path), wav]}[kind]


def _drop(key: str):
    return lambda m: {k: v for k, v in m.items() if k != key}


def _set(key: str, value):
    return lambda m: {**m, key: value}


def _frontend(**change):
    return lambda m: {**m, "frontend": {**m["frontend"], **change}}


@needs_shipped
@pytest.mark.parametrize("kind, edit, says", [
    ("recognizer", lambda m: "[1, 2]", "model metadata is not a JSON object (a list)"),
    ("recognizer", lambda m: "{not json", "model metadata is not valid JSON"),
    ("recognizer", _drop("frontend"), "recognizer metadata without 'frontend'"),
    ("recognizer", _set("frontend", 5), "'frontend' is 5, not an object of settings"),
    ("recognizer", _frontend(n_mels="80"), "frontend setting 'n_mels' is '80', not an int"),
    ("recognizer", _frontend(window="hann"), "frontend setting 'window' is unknown to this version"),
    ("recognizer", _frontend(hop_length=0), "frontend settings out of range: hop_length 0"),
    ("recognizer", _frontend(floor=0.0), "frontend settings out of range: floor 0.0"),
    ("recognizer", _frontend(win_length=600), "frontend settings out of range: win_length 600"),
    ("recognizer", _frontend(fmax=9000.0), "frontend settings out of range: fmax 9000.0"),
    ("recognizer", _frontend(n_mels=40), "input 'features' of the graph is ['batch', 'frames', 80], its metadata "
                                         "says ['*', '*', 40]"),
    ("recognizer", _drop("frame_shift_s"), "recognizer metadata without 'frame_shift_s'"),
    ("recognizer", _set("frame_shift_s", "abc"), "recognizer metadata not readable (could not convert string"),
    ("recognizer", lambda m: {**m, "vocabulary": m["vocabulary"][::-1]}, "vocabulary differs from speechseq.text"),
    ("stream", _drop("kernel"), "chunked recogniser metadata without 'kernel'"),
    ("stream", _set("feat_mean", "x"), "chunked recogniser metadata not readable"),
    ("stream", _set("feat_mean", [0.0] * 3), "feat_mean of shape (3,), not (80,)"),
    ("stream", _set("hidden", 9), "input 'h' of the graph is [1, 1, 8], its metadata says [1, 1, 9]"),
    ("stream", lambda m: "[]", "model metadata is not a JSON object (a list)"),
    ("lm", _drop("states"), "language model metadata without 'states'"),
    ("lm", _set("states", 3), "language model metadata not readable"),
    ("lm", _set("states", {"state_h": ["x"], "state_c": [1, 8]}), "language model metadata not readable"),
    ("lm", _set("states", {"state_h": [1, 9], "state_c": [1, 9]}), "its metadata says ['*', 1, 9]"),
    ("lm", lambda m: "[]", "model metadata is not a JSON object (a list)"),
    ("decoder", _drop("states"), "attention decoder metadata without 'states'"),
    ("decoder", _drop("model_config"), "attention decoder metadata without 'model_config'"),
    ("decoder", _set("model_config", {"enc_dim": "x"}), "attention decoder metadata not readable"),
])
def test_a_model_with_damaged_metadata_is_one_line_naming_it(kind, edit, says, tiny_models, tmp_path, capsys):
    bad = _edited(tiny_models[kind], tmp_path / f"bad-{kind}.onnx", edit)
    assert main(_argv(kind, bad, tiny_models)) == 1
    err = capsys.readouterr().err
    option = {"recognizer": "--model", "stream": "--stream-model", "lm": "--lm", "decoder": "--attention-decoder"}[kind]
    named = f"{option} {bad}"  # the option that named it too (test_review_s50_a, test_review_s50_e)
    assert err.startswith(f"speechseq: error: {named}: ") and says in err and len(err.strip().splitlines()) == 1, err


@needs_shipped
def test_a_detector_whose_metadata_is_no_object_is_one_line(tmp_path, capsys):
    bad = _edited(ACTIVATE, tmp_path / "bad.onnx", lambda m: "[]")
    for argv in (["detect", "--model", str(bad), str(SAMPLE)],
                 ["listen", "--input", str(SAMPLE), "--fast", "--keyword-model", str(bad)]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "model metadata is not a JSON object (a list)" in err and len(err.strip().splitlines()) == 1, err
        assert str(bad) in err                                  # the file named, from the graph the runtime builds too


def test_a_detector_whose_frontend_setting_has_the_wrong_type_is_one_line(tmp_path, capsys):
    """A string n_mels was taken by the frontend's dataclass and failed as a traceback at the first frame."""
    bad = _edited(ACTIVATE, tmp_path / "bad.onnx", lambda m: {**m, "frontend": {**m["frontend"], "n_mels": "40"}})
    assert main(["detect", "--model", str(bad), str(SAMPLE)]) == 1
    err = capsys.readouterr().err
    assert str(bad) in err and "n_mels" in err and len(err.strip().splitlines()) == 1, err


def test_a_stdout_that_cannot_spell_a_file_name_gets_escapes_not_a_traceback(tmp_path):
    """With an ASCII (or Latin-1) stdout, 'Café.wav' was a UnicodeEncodeError traceback that ended the batch; JSON
    lines are all-ASCII there (still valid JSON naming the file), text lines escape what they cannot spell."""
    import os
    import shutil
    import subprocess
    import sys

    odd = tmp_path / "Café ü.wav"
    shutil.copy(SAMPLE, odd)
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for argv, check in ((["transcribe", "--format", "json", "--decoder", "greedy", "--vad", "off"], "json"),
                        (["transcribe", "--format", "txt", "--decoder", "greedy", "--vad", "off"], "txt"),
                        (["detect", "--json"], "json")):
        r = subprocess.run([sys.executable, "-m", "speechseq", *argv, str(odd), str(SAMPLE)], capture_output=True,
                           text=True, encoding="ascii", errors="strict", env=env, timeout=120, cwd=ROOT)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-800:]
        lines = r.stdout.splitlines()
        assert len(lines) == 2, lines
        if check == "json":
            assert json.loads(lines[0])["file"] == str(odd)
        else:
            assert lines[0].startswith(str(tmp_path / "Caf\\xe9 \\xfc.wav") + ": ")


RECOGNIZER = ROOT / "models" / "recognizer-en.onnx"


@pytest.mark.skipif(not RECOGNIZER.is_file(), reason="shipped recogniser missing")
def test_an_output_folder_that_cannot_be_written_is_one_line_before_the_work(tmp_path):
    """An output in a folder the user cannot write to (--json, --plot, --output-dir, export --out) was found only
    when the file was written, after the work: `eval recognizer --json` printed its whole report, then "Permission
    denied"; `transcribe --output-dir` stopped its batch at the first file. Now one line naming the option, before
    any work. Root writes anywhere: there the check runs in a child without the capabilities that let it."""
    import os
    import shutil
    import subprocess
    import sys

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if not os.access(locked, os.W_OK):
            _unwritable_outputs(tmp_path)
            return
        if shutil.which("setpriv") is None:
            pytest.skip("this user writes anywhere (root) and there is no setpriv to drop that")
        code = (f"from pathlib import Path; from tests.test_cli_errors_run import _unwritable_outputs; "
                f"_unwritable_outputs(Path({str(tmp_path)!r}))")
        r = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]
    finally:
        locked.chmod(0o755)


def _unwritable_outputs(tmp_path: Path) -> None:
    import contextlib
    import io
    import re

    from speechseq.commands.common import output_dir, output_file
    from speechseq.errors import SpeechseqError

    locked = tmp_path / "locked"
    for path in (locked / "x.json", locked / "sub" / "x.json"):
        says = f"--json {path}: cannot write in {locked} (permission denied)"
        with pytest.raises(SpeechseqError, match=f"^{re.escape(says)}$"):
            output_file(path, "--json")
    says = f"--output-dir {locked}: cannot write in it (permission denied)"
    with pytest.raises(SpeechseqError, match=f"^{re.escape(says)}$"):
        output_dir(locked, "--output-dir")
    wav = tmp_path / "tone.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(16000) / 3), 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "tone.wav", "text": "one"}) + "\n")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["eval", "recognizer", "--manifest", str(tmp_path / "m.jsonl"), "--model", str(RECOGNIZER),
                     "--json", str(locked / "r.json")])
    assert code == 1 and out.getvalue() == ""
    says = f"--json {locked / 'r.json'}: cannot write in {locked} (permission denied)"
    assert err.getvalue() == f"speechseq: error: {says}\n"


def test_detect_smoothing_past_its_bound_is_a_usage_error(tmp_path, capsys):
    """--smoothing 100000000 hung: the stream kept and summed a history of 1e8 steps at every step."""
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(tmp_path / "a.wav"), "--smoothing", "100000000"])
    assert exc.value.code == 2 and "--smoothing" in capsys.readouterr().err
    from speechseq.runtime.detector import MAX_SMOOTHING_STEPS

    with pytest.raises(SystemExit) as exc:
        main(["detect", str(tmp_path / "a.wav"), "--smoothing", str(MAX_SMOOTHING_STEPS + 1)])
    assert exc.value.code == 2
    assert f"argument --smoothing: must lie in [1, {MAX_SMOOTHING_STEPS}], got {MAX_SMOOTHING_STEPS + 1}" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["detect", "--help"])
    assert f"at most {MAX_SMOOTHING_STEPS}" in " ".join(capsys.readouterr().out.split())
    assert main(["detect", str(tmp_path / "a.wav"), "--smoothing", str(MAX_SMOOTHING_STEPS), "--json"]) == 0


@needs_shipped
@pytest.mark.parametrize("argv, option", [
    (["listen", "--input", "{sample}", "--fast", "--keyword-model", "{nope}"], "--keyword-model"),
    (["listen", "--input", "{sample}", "--fast", "--model", "{nope}"], "--model"),
    (["listen", "--input", "{sample}", "--fast", "--lm", "{nope}"], "--lm"),
    (["listen", "--input", "{sample}", "--fast", "--stream-model", "{nope}"], "--stream-model"),
    (["detect", "--model", "{nope}", "{sample}"], "--model"),
    (["eval", "detector", "--model", "{nope}", "--positives", "{sample}"], "--model"),
])
def test_a_missing_model_file_names_its_option_as_transcribe_does(argv, option, tmp_path, capsys):
    """listen, detect and eval detector said only "X: no such model file" (transcribe: "... (pass --model PATH)"),
    and listen said of a missing --stream-model that it was "no such chunked recogniser", without the option."""
    nope = tmp_path / "nope.onnx"
    assert main([a.format(sample=SAMPLE, nope=nope) for a in argv]) == 1
    out, err = capsys.readouterr()
    assert f"speechseq: error: {nope}: no such model file (pass {option} PATH)" in err and out == ""
