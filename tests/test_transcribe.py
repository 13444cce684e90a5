"""`speechseq transcribe` and the runtime recogniser: output formats, long files cut at pauses,
bad files reported without stopping the others, and the shipped model on synthetic speech."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.runtime.recognizer import DecodeOptions, Recognizer, split_at_pauses

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "recognizer-en.onnx"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A small untrained recogniser exported to ONNX (the pipeline, not the accuracy, is tested)."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer as TorchRecognizer, RecognizerConfig
    from speechseq.train.export_recognizer import export_recognizer

    torch.manual_seed(0)
    model = TorchRecognizer(RecognizerConfig(hidden=16, front_dim=16, layers=1))
    with torch.no_grad():  # sharper outputs and more spaces, so that the decoders emit several words
        model.out.weight.mul_(5.0)
        model.out.bias[1] += 2.0
    return export_recognizer(model, tmp_path_factory.mktemp("model") / "tiny.onnx")


def _tone_bursts(seconds: list[tuple[float, float]], sr: int = 16000) -> np.ndarray:
    """Noise-floor audio with loud tone bursts at the given (start, end) seconds."""
    rng = np.random.default_rng(0)
    total = max(e for _, e in seconds) + 1.0
    x = 1e-4 * rng.standard_normal(int(total * sr)).astype(np.float32)
    t = np.arange(len(x)) / sr
    for a, b in seconds:
        on = (t >= a) & (t < b)
        x[on] += 0.3 * np.sin(2 * np.pi * 440 * t[on]).astype(np.float32)
    return x


def test_split_at_pauses_cuts_in_silence_and_keeps_every_sample():
    bursts = [(0.5, 8.0), (8.6, 17.5), (18.0, 30.0), (31.0, 40.0), (41.0, 44.0)]
    x = _tone_bursts(bursts)
    blocks = [x[i: i + 16000 * 3] for i in range(0, len(x), 16000 * 3)]
    segs = list(split_at_pauses(blocks, 16000, max_segment_s=20.0, min_segment_s=5.0))
    assert np.array_equal(np.concatenate([s for _, s in segs]), x)
    assert [first for first, _ in segs] == list(np.cumsum([0] + [len(s) for _, s in segs[:-1]]))
    assert all(len(s) <= 20 * 16000 for _, s in segs) and len(segs) >= 3
    for first, _ in segs[1:]:  # every cut lies in a pause, not inside a burst
        t = first / 16000
        assert not any(a + 0.05 < t < b - 0.05 for a, b in bursts), t


def test_a_huge_max_segment_is_no_cut_not_a_traceback(tmp_path, tiny_model, capsys):
    """--max-segment 1e308 is a finite number of seconds, so the command line took it, and every file ended in a
    traceback ("OverflowError: cannot convert float infinity to integer": its samples, 1e308 x 16000, are not). A
    segment longer than any stream is one that never cuts it, as --max-segment 1e9."""
    x = _tone_bursts([(0.5, 2.0), (2.5, 4.0)])
    segs = list(split_at_pauses([x[:16000], x[16000:]], 16000, max_segment_s=1e308, min_segment_s=1e308))
    assert len(segs) == 1 and segs[0][0] == 0 and np.array_equal(segs[0][1], x)
    sf.write(tmp_path / "a.wav", x, 16000)
    assert main(["transcribe", str(tmp_path / "a.wav"), "--model", str(tiny_model), "--decoder", "greedy",
                 "--vad", "off", "--max-segment", "1e308", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["duration"] == 5.0


@pytest.mark.parametrize("field, value", [("alpha", float("nan")), ("beta", float("inf")), ("beam_size", 2.5),
                                          ("beam_size", True), ("nbest", 1.5)])
def test_decode_options_refuse_non_finite_weights_and_fractional_counts(field, value):
    """The runtime recogniser's options took them: a NaN alpha ended in "every prefix has probability 0 at frame 1:
    pass log-softmax outputs", a beam of 2.5 inside numpy's argpartition, an n-best of 1.5 as a slice TypeError."""
    with pytest.raises(ValueError, match=field):
        DecodeOptions("beam", **{field: value})


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_result_text_has_single_spaces_like_its_words(decoder):
    """Two spaces with a blank between are two space tokens: "a  b" was the text (the shipped int8 recogniser's
    greedy output on 3 of the 131 Kathleen dev files), one word fewer than its text split at spaces."""
    lp = np.full((7, 29), np.log(0.1 / 28))
    for t, sym in enumerate([2, 0, 1, 0, 1, 0, 3]):        # a _ space _ space _ b
        lp[t, sym] = np.log(0.9)
    result = Recognizer(SHIPPED).decode(lp, DecodeOptions(decoder))
    assert result.hypotheses[0].text == "a  b"              # the tokens as they are
    assert result.text == "a b" and [w.word for w in result.words] == result.text.split(" ")


def _babble(seconds: float, seed: int = 0, sr: int = 16000) -> np.ndarray:
    """Noise whose loudness and colour change every 50 ms (keeps an untrained model's output moving)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr) // 800 * 800
    env = np.repeat(rng.uniform(0, 1, n // 800) ** 3, 800)
    brown = np.cumsum(rng.standard_normal(n))
    brown -= np.convolve(brown, np.ones(50) / 50, "same")
    white = rng.standard_normal(n) * np.repeat(rng.uniform(0, 1, n // 800), 800)
    return (0.3 * env * (white + brown / np.abs(brown).max())).astype(np.float32)


def _write_inputs(folder: Path) -> None:
    folder.mkdir()
    sr = 16000
    sf.write(folder / "a.wav", _babble(3.5), sr)
    sf.write(folder / "b.flac", _babble(1.0, seed=1), sr)
    (folder / "broken.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEnot really audio")
    (folder / "empty.wav").write_bytes(b"")


def test_directory_with_corrupt_files_reports_them_and_goes_on(tmp_path, tiny_model, capsys):
    _write_inputs(tmp_path / "in")
    # beam-lm: the tiny model's words are not English words, which `auto` (lexicon) would force;
    # --vad off: the inputs are tones, not speech, and the untrained model is tested everywhere
    code = main(["transcribe", str(tmp_path / "in"), "--model", str(tiny_model), "--format", "json",
                 "--decoder", "beam-lm", "--vad", "off"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "broken.wav" in err and "empty.wav" in err and "2 of 4" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(obj["file"]).name for obj in lines] == ["a.wav", "b.flac"]
    assert len(lines[0]["words"]) >= 3
    for obj, duration in zip(lines, (3.5, 1.0)):
        assert list(obj) == ["file", "duration", "text", "words"]
        assert isinstance(obj["text"], str) and obj["duration"] == pytest.approx(duration, abs=1e-3)
        ends = 0.0
        for w in obj["words"]:
            assert list(w) == ["word", "start", "end", "confidence"]
            assert isinstance(w["word"], str) and w["word"] and " " not in w["word"]
            assert ends <= w["start"] < w["end"] <= obj["duration"] + 0.02
            assert 0.0 <= w["confidence"] <= 1.0
            ends = w["end"]
        assert obj["text"] == " ".join(w["word"] for w in obj["words"])


@pytest.mark.parametrize("fmt", ["txt", "json", "srt", "vtt"])
def test_output_dir_formats(tmp_path, tiny_model, fmt):
    _write_inputs(tmp_path / "in")
    (tmp_path / "in" / "broken.wav").unlink()
    (tmp_path / "in" / "empty.wav").unlink()
    # --vad off: the inputs are not speech, and with the VAD every file was empty (no cue for the checks below)
    code = main(["transcribe", str(tmp_path / "in" / "a.wav"), str(tmp_path / "in" / "b.flac"), "--model",
                 str(tiny_model), "--format", fmt, "--output-dir", str(tmp_path / "out"), "--decoder", "beam",
                 "--beam-size", "4", "--vad", "off"])
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"a.{fmt}", f"b.{fmt}"]
    text = (tmp_path / "out" / f"a.{fmt}").read_text()
    if fmt == "txt":
        assert text.strip(), text
    if fmt == "vtt":
        assert text.startswith("WEBVTT\n")
    if fmt in ("srt", "vtt"):
        stamp = r"\d\d:\d\d:\d\d[.,]\d\d\d"
        cues = [line for line in text.splitlines() if "-->" in line]
        assert cues and all(re.fullmatch(f"{stamp} --> {stamp}", line) for line in cues), text
    if fmt == "json":
        assert json.loads(text)["file"].endswith("a.wav")


def test_an_output_name_taken_by_a_folder_is_refused_before_the_work(tmp_path, tiny_model, capsys, monkeypatch):
    """--output-dir holding a folder named as an output (a.txt/): one error line before any file is
    transcribed, as the README promises for an output path that cannot be written; it came after the work
    of the files before it and stopped the batch there."""
    from speechseq.runtime import recognizer

    _write_inputs(tmp_path / "in")
    (tmp_path / "out" / "b.txt").mkdir(parents=True)
    done = []
    real = recognizer.Recognizer.transcribe_file
    monkeypatch.setattr(recognizer.Recognizer, "transcribe_file",
                        lambda self, p, *a: done.append(p) or real(self, p, *a))
    code = main(["transcribe", str(tmp_path / "in" / "a.wav"), str(tmp_path / "in" / "b.flac"), "--model",
                 str(tiny_model), "--output-dir", str(tmp_path / "out"), "--decoder", "greedy", "--vad", "off"])
    err = capsys.readouterr().err
    assert code == 1 and done == [] and "b.txt" in err and "directory" in err and len(err.splitlines()) == 1, err


def test_missing_model_is_a_one_line_error(tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["transcribe", str(tmp_path / "a.wav"), "--model", str(tmp_path / "none.onnx")]) == 1
    assert "none.onnx" in capsys.readouterr().err


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("path", [SHIPPED, SHIPPED.with_name("recognizer-en.int8.onnx")], ids=["fp32", "int8"])
def test_shipped_model_transcribes_synthetic_speech(path):
    from speechseq.metrics import cer
    from speechseq.train.synth import Voice, synthesize

    rec = Recognizer(path)
    assert rec.meta["frontend"]["n_mels"] == 80 and rec.meta["vocabulary"][1] == " "
    texts = ["please open the door", "what time is it now", "the weather is nice today", "one two three four five"]
    audio = [synthesize(t, v) for t in texts for v in (Voice("flite", "slt"), Voice("espeak-ng", "en-us"))]
    refs = [t for t in texts for _ in range(2)]
    hyps = [rec.recognize(x, DecodeOptions(decoder="beam")).text for x in audio]
    # The shipped model (see models/recognizer-en.md) measured CER 0.22-0.25 on these voices;
    # an untrained or broken model is near 1.0.
    assert cer(refs, hyps).rate <= 0.35, hyps


def test_auto_decoder_is_the_tuned_lexicon_search(tmp_path, capsys):
    """--decoder auto with a lexicon present = the lexicon search with the character LM and the
    weights of models/words-en.md; without the lexicon it falls back to the LM decoders (shipped
    models, the shipped demo recording)."""
    from speechseq.runtime.lexicon_search import tuned_options

    root = Path(__file__).resolve().parents[1]
    base = ["transcribe", str(root / "data/samples/activate_kitchen_lights.wav"), "--format", "json",
            "--model", str(root / "models/recognizer-en.int8.onnx"), "--vad", "off"]  # the decoders, on the whole clip

    def text(*extra):
        assert main([*base, *extra]) == 0
        return json.loads(capsys.readouterr().out)["text"]

    t = tuned_options(8, char_lm=True)
    assert (t.word_bonus, t.char_weight, t.char_bonus) == (-1.0, 0.3, 1.0)
    auto = text()
    explicit = text("--decoder", "lexicon", "--word-insertion-bonus", "-1", "--char-lm-weight", "0.3",
                    "--char-bonus", "1.0")
    plain = text("--decoder", "lexicon")
    assert auto == explicit
    assert plain != explicit                                  # the weights matter on this recording
    # no lexicon: not the lexicon search (beam + LM, or rescoring when the decoder fits)
    fallback = text("--lexicon", "none")
    assert fallback in (text("--decoder", "beam-lm"), text("--decoder", "rescore"))


def test_beam_defaults_wide_for_the_lexicon_search_and_refuse_bad_widths():
    from speechseq.commands.common import LISTEN_LEXICON_BEAM, beam_size
    from speechseq.errors import SpeechseqError

    assert beam_size(None, "lexicon") == 64 and beam_size(None, "lexicon", LISTEN_LEXICON_BEAM) == 32
    assert beam_size(None, "beam") == beam_size(None, "beam-lm") == beam_size(None, "rescore") == 8
    assert beam_size(5, "lexicon") == 5
    with pytest.raises(SpeechseqError, match="beam-size"):
        beam_size(0, "beam")


def test_beam_size_option_takes_auto_or_a_positive_width(capsys):
    import argparse

    from speechseq.commands.common import beam_arg

    assert beam_arg("auto") is None and beam_arg("12") == 12
    for bad in ("0", "-3", "wide"):
        with pytest.raises(argparse.ArgumentTypeError):
            beam_arg(bad)
    with pytest.raises(SystemExit):
        main(["transcribe", "--beam-size", "0", "x.wav"])
    assert "beam width must be >= 1" in capsys.readouterr().err


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
def test_a_file_name_that_is_not_utf8_is_read_and_named(tmp_path):
    """Linux allows any bytes in a name: such a file was a traceback in soundfile (its name encoded strictly)
    that stopped the batch, and its name could not be printed; now it is read, and named with U+FFFD."""
    import os
    import subprocess
    import sys

    speech, sr = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    sf.write(tmp_path / "plain.wav", speech, sr)
    (tmp_path / "plain.wav").rename(odd)
    sf.write(tmp_path / "z.wav", speech, sr)
    base = [sys.executable, "-m", "speechseq", "transcribe", str(tmp_path), "--model",
            str(SHIPPED.with_name("recognizer-en.int8.onnx")), "--decoder", "greedy"]
    for fmt in ("json", "txt"):
        r = subprocess.run([*base, "--format", fmt], capture_output=True, timeout=120)
        assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
        lines = r.stdout.decode("utf-8").splitlines()
        assert len(lines) == 2 and "caf\ufffd.wav" in lines[0] and "z.wav" in lines[1], lines
        if fmt == "json":
            assert [json.loads(line)["text"] for line in lines][0] == json.loads(lines[1])["text"] != ""
    r = subprocess.run([*base, "--format", "json", "--output-dir", str(tmp_path / "out")], capture_output=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    assert json.loads((tmp_path / "out" / os.fsdecode(b"caf\xe9.json")).read_text())["file"].endswith("caf\ufffd.wav")


def _one_second(tmp_path: Path) -> Path:
    sf.write(tmp_path / "a.wav", _babble(1.0), 16000)
    return tmp_path / "a.wav"


def test_plot_attention_decoder_is_checked_before_the_work(tmp_path, tiny_model, capsys, monkeypatch):
    """--plot-attention with an --attention-decoder that is not there (or does not fit the recogniser): one error
    line before any file is transcribed; it came after the whole batch, the exit code 1 at its end."""
    from speechseq.runtime import recognizer

    wav = _one_second(tmp_path)
    done = []
    real = recognizer.Recognizer.transcribe_file
    monkeypatch.setattr(recognizer.Recognizer, "transcribe_file",
                        lambda self, p, *a: done.append(p) or real(self, p, *a))
    base = ["transcribe", str(wav), "--model", str(tiny_model), "--decoder", "greedy", "--vad", "off",
            "--plot-attention", str(tmp_path / "att.png")]
    assert main([*base, "--attention-decoder", str(tmp_path / "none.onnx")]) == 1
    out, err = capsys.readouterr()
    assert done == [] and out == "" and "none.onnx" in err and len(err.splitlines()) == 1, err
    shipped = ROOT / "models" / "decoder-en.onnx"
    if shipped.is_file():                     # the shipped decoder reads 512 channels, the tiny model has 16
        assert main([*base, "--attention-decoder", str(shipped)]) == 1
        out, err = capsys.readouterr()
        assert done == [] and out == "" and "reads an encoder of 512 channels" in err, err


def test_plot_attention_text_is_what_the_plotted_audio_says(tmp_path, tiny_model, monkeypatch):
    """The picture is of the first --max-segment seconds of the first file (text_decoder.plot_attention_for_file);
    the text forced through it was that of the first segment alone, which with the VAD is the first stretch of
    speech (the shipped demo: 'ento ba' over 5 s of audio that say four words), so the attention was drawn for
    words that were not all of the audio's."""
    from speechseq.commands import transcribe as cmd
    from speechseq.runtime import recognizer, text_decoder
    from speechseq.runtime.decoding import Word
    from speechseq.runtime.recognizer import Segment, Transcript

    segs = (Segment(0.5, 1.5, "one two", (Word("one", 0.6, 0.9, 0.9), Word("two", 1.0, 1.4, 0.9))),
            Segment(3.0, 4.0, "three", (Word("three", 3.1, 3.8, 0.9),)),
            Segment(20.5, 21.0, "four", (Word("four", 20.6, 20.9, 0.9),)))
    fake = Transcript(22.0, "one two three four", tuple(w for s in segs for w in s.words), segs)
    monkeypatch.setattr(recognizer.Recognizer, "transcribe_file", lambda self, *a: fake)
    monkeypatch.setattr(cmd, "check_plot_decoder", lambda *a: None, raising=False)  # the tiny model has no decoder
    seen = []
    monkeypatch.setattr(text_decoder, "plot_attention_for_file", lambda args, path, text: seen.append(text))
    assert main(["transcribe", str(_one_second(tmp_path)), "--model", str(tiny_model), "--decoder", "greedy",
                 "--vad", "off", "--plot-attention", str(tmp_path / "att.png")]) == 0
    assert seen == ["one two three"]          # the words of the first 20 s: all that the plotted audio says


def test_options_the_decoder_does_not_read_are_named(tmp_path, tiny_model, capsys):
    """An option the chosen decoder does not read changed nothing, in silence (--decoder greedy --beam-size 50;
    --word-lm-weight under the default --decoder auto, which takes the tuned weights): now a warning names it."""
    wav = _one_second(tmp_path)
    base = ["transcribe", str(wav), "--model", str(tiny_model), "--vad", "off"]
    assert main([*base, "--decoder", "greedy", "--beam-size", "4", "--word-lm-weight", "2", "--lm-weight", "0.3"]) == 0
    err = capsys.readouterr().err
    assert "--beam-size, --lm-weight, --word-lm-weight: not used by --decoder greedy" in err, err
    assert main([*base, "--decoder", "beam", "--beam-size", "4"]) == 0
    assert capsys.readouterr().err == ""
    lexicon = ROOT / "models" / "words-en.npz"
    if lexicon.is_file():
        assert main([*base, "--decoder", "lexicon", "--beam-size", "4", "--word-lm-weight", "2"]) == 0
        assert capsys.readouterr().err == ""
        assert main([*base, "--beam-size", "4", "--word-lm-weight", "2", "--oov-penalty", "3"]) == 0
        err = capsys.readouterr().err
        assert "--word-lm-weight, --oov-penalty: not used by --decoder auto" in err and "--beam-size" not in err, err


def test_subtitle_cues_are_two_lines_of_at_most_42_characters():
    """A subtitle line is read at a glance: cues hold at most two lines of 42 characters (the common broadcast
    limit), broken between words; they were one line of up to 60 characters."""
    from speechseq.commands.transcribe import cues
    from speechseq.runtime.decoding import Word

    text = ("the quick brown fox jumps over the lazy dog while seven wizards quietly hex the jovial "
            "sphinx of black quartz judge my vow").split()
    words = [Word(w, 0.3 * k, 0.3 * k + 0.25, 0.9) for k, w in enumerate(text)]
    got = cues(words, max_s=100.0)
    assert [" ".join(c[2].split()) for c in got] == [" ".join(text[:15]), " ".join(text[15:])]
    for _, _, cue in got:
        lines = cue.split("\n")
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
    assert got[0][2].split("\n") == ["the quick brown fox jumps over the lazy", "dog while seven wizards quietly hex the"]
    # one word longer than a line still gets a cue of its own, not an empty one
    long = [Word("a" * 50, 0.0, 1.0, 0.9), Word("b", 1.1, 1.2, 0.9)]
    assert [c[2] for c in cues(long)] == ["a" * 50 + "\nb"]


def test_one_bad_file_is_one_line_and_a_batch_ends_with_a_count(tmp_path, tiny_model, capsys):
    """README: a missing or non-audio file is one line on stderr. `transcribe missing.wav` said it twice ("no such
    file", then "1 of 1 file(s) could not be transcribed"); the count is for a batch, where it adds up the lines."""
    sf.write(tmp_path / "a.wav", _tone_bursts([(0.2, 0.8)]), 16000)
    m4a = tmp_path / "memo.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00" + bytes(500))
    base = ["--model", str(tiny_model), "--decoder", "greedy", "--vad", "off"]
    for bad, said in ((tmp_path / "missing.wav", "missing.wav: no such file"),
                      (m4a, "memo.m4a: MP4/M4A audio, a format speechseq does not read")):
        assert main(["transcribe", str(bad), *base]) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and said in err, err
    assert main(["transcribe", str(tmp_path / "missing.wav"), str(tmp_path / "a.wav"), *base]) == 1
    out, err = capsys.readouterr()
    assert out.startswith(f"{tmp_path / 'a.wav'}: ")
    assert err.splitlines() == [f"speechseq: warning: {tmp_path / 'missing.wav'}: no such file",
                                "speechseq: warning: 1 of 2 file(s) could not be transcribed"]


@pytest.mark.parametrize("argv, option, name", [
    (["transcribe", "a.wav"], "--model", "recognizer-en.onnx"),
    (["eval", "recognizer", "--manifest", "m.jsonl"], "--model", "recognizer-en.onnx"),
    (["eval", "recognizer", "--manifest", "m.jsonl", "--model", "MODEL", "--decoder", "beam-lm"], "--lm", "lm-en.onnx"),
    (["sample"], "--lm", "lm-en.onnx")])
def test_a_shipped_model_missing_names_the_models_folder(tmp_path, argv, option, name):
    """With SPEECHSEQ_MODELS pointing at a folder without the model, transcribe, eval recognizer and sample said
    ".../recognizer-en.onnx: no such model file", where detect and listen say where the shipped models were looked
    for and that SPEECHSEQ_MODELS names that folder."""
    import os
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "text": "a"}) + "\n")
    argv = [str(SHIPPED) if a == "MODEL" else a for a in argv]
    r = subprocess.run([sys.executable, "-m", "speechseq", *argv], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env={**os.environ, "SPEECHSEQ_MODELS": str(tmp_path / "empty"),
                                          "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr == (f"speechseq: error: pass {option} PATH: no {name} in {tmp_path / 'empty'} (set "
                        "SPEECHSEQ_MODELS to the folder of speechseq's models/)\n")


def test_progress_counts_seconds_of_audio_so_one_long_file_moves(tmp_path, tiny_model, capsys):
    """A lecture is one file: the bar counted files, and stood at 0/1 (0%, no time left shown) for the whole of it,
    only its postfix naming the seconds done. It counts seconds of audio now (the inputs' headers give the total),
    piece by piece as they are recognised."""
    sf.write(tmp_path / "a.wav", _tone_bursts([(0.5, 1.5), (2.5, 3.5), (4.5, 5.5)]), 16000)  # 6.5 s
    sf.write(tmp_path / "b.wav", _tone_bursts([(0.2, 2.3)]), 16000)                          # 3.3 s
    assert main(["transcribe", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--model", str(tiny_model),
                 "--decoder", "greedy", "--vad", "off", "--max-segment", "1", "--progress"]) == 0
    err = capsys.readouterr().err
    shown = [tuple(map(int, m)) for m in re.findall(r"\| *(\d+)/(\d+) \[", err)]
    assert shown and {total for _, total in shown} == {10}, err     # 9.8 s of audio, in whole seconds
    assert shown[-1] == (10, 10) and {2, 4, 6} <= {done for done, _ in shown}, shown  # a.wav's pieces, one by one
    assert [done for done, _ in shown] == sorted(done for done, _ in shown)


def _screen(text: str) -> list[str]:
    """The lines a terminal shows for `text`: a carriage return goes back to the line's start, later text over
    earlier."""
    rows = []
    for line in text.split("\n"):
        shown = ""
        for part in line.split("\r"):
            shown = part + shown[len(part):]
        rows.append(shown.rstrip())
    return rows


def test_lines_written_under_the_progress_bar_are_lines_of_their_own(tmp_path, tiny_model, monkeypatch):
    """A terminal shows the bar (stderr), the transcripts (stdout) and the warnings on one screen: each transcript and
    warning was written after the bar's text, on its line ("transcribing:  40%|... [bad.wav]speechseq: warning:
    bad.wav: ..."). The bar is cleared before each of them now, and drawn again under it."""
    import io
    import sys

    sf.write(tmp_path / "a.wav", _tone_bursts([(0.2, 0.8)]), 16000)
    (tmp_path / "bad.wav").write_text("not audio at all\n")
    sf.write(tmp_path / "cut.wav", _tone_bursts([(0.2, 2.5)]), 16000)
    whole = (tmp_path / "cut.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) // 2])  # a copy cut short: a warning while it is read
    screen = io.StringIO()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setattr(sys, "stderr", screen)
    files = [str(tmp_path / name) for name in ("a.wav", "bad.wav", "cut.wav")]
    assert main(["transcribe", *files, "--model", str(tiny_model), "--decoder", "greedy", "--vad", "off",
                 "--progress"]) == 1
    rows = _screen(screen.getvalue())
    said = [row for row in rows if "warning" in row or any(f"{f}: " in row for f in files)]
    assert all(row.startswith((f"{tmp_path}/", "speechseq: warning: ")) for row in said), said
    assert [row.split(": ")[0 if row.startswith("/") else 2] for row in said][-5:] == [
        files[0], files[1], files[2], files[2], "1 of 3 file(s) could not be transcribed"], said
    assert any(row.startswith("transcribing: 100%") for row in rows), rows


def test_a_file_cut_short_is_said_once_with_the_progress_bar(tmp_path, tiny_model, capsys):
    """The bar's total reads each file's header before the work: a file cut short was said to be truncated there,
    and again when its turn came."""
    sf.write(tmp_path / "a.wav", _tone_bursts([(0.2, 2.5)]), 16000)
    whole = (tmp_path / "a.wav").read_bytes()
    for progress in ("--progress", "--no-progress"):
        cut = tmp_path / f"cut{progress}.wav"  # a file of its own: Python shows a warning once where it was raised
        cut.write_bytes(whole[: len(whole) // 2])
        assert main(["transcribe", str(cut), "--model", str(tiny_model), "--decoder", "greedy", "--vad", "off",
                     progress]) == 0
        err = capsys.readouterr().err
        assert err.count("truncated") == 1, (progress, err)


def test_an_output_that_cannot_be_written_whole_leaves_the_earlier_one(tmp_path, tiny_model):
    """--output-dir on a full disk (here: a file size limit of 40 bytes): the subtitle file was left cut short at
    40 bytes, over the whole one of an earlier run, and the error said only "File too large". Now the earlier file
    stays as it was, no partial file is left beside it, and the error names the file."""
    import resource
    import signal
    import subprocess
    import sys

    sf.write(tmp_path / "a.wav", _babble(6.0), 16000)
    argv = [sys.executable, "-m", "speechseq", "transcribe", str(tmp_path / "a.wav"), "--model", str(tiny_model),
            "--decoder", "greedy", "--vad", "off", "--format", "srt", "--output-dir", str(tmp_path / "out")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    whole = (tmp_path / "out" / "a.srt").read_text()
    assert r.returncode == 0 and len(whole) > 40, (r.stderr, whole)

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (40, 40))

    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, preexec_fn=limited)
    assert r.returncode == 1 and "a.srt" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert (tmp_path / "out" / "a.srt").read_text() == whole
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.srt"]


def test_an_error_that_ends_the_batch_is_said_under_the_progress_bar(tmp_path, tiny_model):
    """An error that ends the run (an output that cannot be written; Ctrl+C alike) was said after the bar's text, on
    its line, and the bar was drawn once more under it, at the exit: the error was no line of its own, nor the last.
    The bar is closed first now."""
    import resource
    import signal
    import subprocess
    import sys

    sf.write(tmp_path / "a.wav", _babble(6.0), 16000)

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (40, 40))

    argv = [sys.executable, "-m", "speechseq", "transcribe", str(tmp_path / "a.wav"), "--model", str(tiny_model),
            "--decoder", "greedy", "--vad", "off", "--format", "srt", "--output-dir", str(tmp_path / "out"),
            "--progress"]
    r = subprocess.run(argv, capture_output=True, timeout=120, preexec_fn=limited)
    rows = [row for row in _screen(r.stderr.decode()) if row]
    assert r.returncode == 1 and rows[-1].startswith("speechseq: error: "), rows
    assert rows[-2].startswith("transcribing: 100%") and "a.srt: not written" in rows[-1], rows


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad, max_segment", [("auto", "6"), ("energy", "6"), ("off", "4"), ("off", "20")])
def test_a_first_word_starts_where_the_speech_does(tmp_path, capsys, vad, max_segment):
    """The shipped recogniser writes an utterance's first letters in its first frames, however much silence comes
    before the speech: the first word of each piece recognised started at the piece's start, 0.27 s early with the
    VAD (at its region's padding), 1.2 s early with --vad off at the start of the file and 1.9 s after a cut at a
    pause. The shipped demo recording, twice: its speech starts 1.21 s into it (the first 10 ms within 35 dB of its
    loudest), so at 1.21 s and 6.375 s here (--max-segment 4 cuts the file in the silence between them). A first
    word may start later than that, where the recogniser missed the first letters (the energy VAD's "to")."""
    demo, sr = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    sf.write(tmp_path / "twice.wav", np.concatenate([demo, demo]), sr)
    assert main(["transcribe", str(tmp_path / "twice.wav"), "--format", "json", "--decoder", "greedy",
                 "--vad", vad, "--max-segment", max_segment]) == 0
    words = json.loads(capsys.readouterr().out)["words"]
    second = next(w for w in words if w["end"] > len(demo) / sr)
    assert 1.21 - 0.1 <= words[0]["start"] <= 1.21 + 0.2, words
    assert 6.375 - 0.1 <= second["start"] <= 6.375 + 0.2, words
    assert all(w["start"] < w["end"] <= v["start"] for w, v in zip(words, words[1:])), words


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("cut", [0.0, 0.5, 1.0])
def test_recognize_puts_the_first_word_where_the_speech_starts(cut):
    """Recognizer.recognize on one clip, as transcribe does on a piece: the shipped recogniser writes the first letters
    in its first frames, so the first word started at 0.04 s however much silence came before the speech (the demo's
    starts 1.21 s into it). The text is unchanged, and transcribe (which bounds its pieces itself) gives the same."""
    demo, sr = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    rec = Recognizer(SHIPPED)
    clip = demo[int(cut * sr):]
    r = rec.recognize(clip)
    assert 1.21 - cut - 0.1 <= r.words[0].start <= 1.21 - cut + 0.2, r.words
    assert all(w.start < w.end <= v.start for w, v in zip(r.words, r.words[1:])), r.words
    t = rec.transcribe([clip])
    assert r.text == t.text and [(w.word, w.start, w.end) for w in r.words] == \
        [(w.word, w.start, w.end) for w in t.words]



def _said(*parts, voice: str = "en-us") -> tuple[np.ndarray, dict[str, float]]:
    """espeak-ng (`voice`) saying each text of `parts`, silence (a light hiss) for each number of seconds; and where
    each text starts (s)."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system.sh)")
    from speechseq.train.synth import Voice, synthesize

    pieces, starts, t = [], {}, 0.0
    for p in parts:
        x = np.zeros(int(p * 16000), np.float32) if isinstance(p, float) else \
            0.5 * synthesize(p, Voice("espeak-ng", voice))
        if not isinstance(p, float):
            starts[p] = t
        pieces.append(x)
        t += len(x) / 16000
    audio = np.concatenate(pieces)
    return audio + 3e-4 * np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32), starts


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_match_a_phrase_the_vad_splits_at_a_pause(tmp_path, capsys, vad):
    """--commands matched the list in each VAD region: "turn on the ... kitchen lights", said with a 1.2 s pause,
    is two regions, neither of them a phrase, and came out free text ("for on the section lights"), where --vad off
    took the phrase. Now stretches of speech close together are tried as one utterance, and the longest a phrase is
    accepted for is taken; in a longer file each command still comes out as its own phrase (with --vad off, the whole
    file as one utterance, none did)."""
    files = {"one": _said(0.5, "turn on the", 1.2, "kitchen lights", 0.5),
             "three": _said(0.5, "dim the lights", 1.5, "turn on the", 1.2, "kitchen lights", 1.5, "stop the music",
                            0.5)}
    for name, (audio, starts) in files.items():
        sf.write(tmp_path / f"{name}.wav", audio, 16000)
        assert main(["transcribe", str(tmp_path / f"{name}.wav"), "--commands", str(ROOT / "data/commands/home.txt"),
                     "--vad", vad, "--decoder", "greedy", "--format", "json"]) == 0
        got = json.loads(capsys.readouterr().out)
        said = " ".join(starts)
        assert got["text"] == said, got
        words = got["words"]
        assert [w["word"] for w in words] == said.split(), words
        assert all(w["start"] < w["end"] <= v["start"] for w, v in zip(words, words[1:])), words
        kitchen = next(w for w in words if w["word"] == "kitchen")   # timed on the audio, after the pause
        assert starts["kitchen lights"] - 0.05 < kitchen["start"] < starts["kitchen lights"] + 0.15, (starts, words)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_leave_out_a_wake_word_said_before_the_command(capsys, vad):
    """The demo recording, "activate ... turn on the kitchen lights": the keyword's region joined to the command's
    was accepted as the phrase (a phrase's per-character allowance took the keyword in), so "turn" ran 1.676-2.856 s,
    from inside "activate" across the pause. The command is now its own region's, and "activate" its own text."""
    demo = ROOT / "data/samples/activate_kitchen_lights.wav"
    assert main(["transcribe", str(demo), "--commands", str(ROOT / "data/commands/home.txt"), "--vad", vad,
                 "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    words = got["words"]
    assert got["text"].endswith("turn on the kitchen lights") and len(words) > 5, got   # the keyword's own words too
    turn = words[-5]
    assert turn["word"] == "turn" and 2.55 < turn["start"] < 2.75 and turn["end"] - turn["start"] < 0.4, words
    assert all(w["end"] < 1.9 for w in words[:-5]), words     # "activate" ends at 1.70 s (detect's estimate)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy", "off"])
def test_commands_time_a_phrase_on_its_own_audio_not_a_wake_word_before_it(tmp_path, capsys, vad):
    """"activate ... set a timer for five minutes", a short pause between them: one stretch of speech, accepted whole
    as the phrase (its per-character allowance takes the keyword in), and aligned whole, so that "set" lay on
    "activate" (0.42-0.45 s, said 1.46 s; `listen` gives 1.46 s). The phrase is now timed on the frames that say it
    (command_set.phrase_frames); the text is the phrase, after the keyword spelt freely, as without --commands (it was
    the phrase alone: the words before it in its stretch were lost), and "commands" is timed on the phrase's words."""
    audio, starts = _said(0.5, "activate", 0.3, "set a timer for five minutes", 0.5)
    sf.write(tmp_path / "timer.wav", audio, 16000)
    args = ["--vad", vad, "--decoder", "greedy", "--format", "json"]
    assert main(["transcribe", str(tmp_path / "timer.wav"), *args]) == 0
    free = json.loads(capsys.readouterr().out)
    assert main(["transcribe", str(tmp_path / "timer.wav"), "--commands", str(ROOT / "data/commands/home.txt"),
                 *args]) == 0
    got = json.loads(capsys.readouterr().out)
    words, phrase = got["words"], got["words"][-6:]
    assert [w["word"] for w in phrase] == "set a timer for five minutes".split(), got
    assert words[:-6] == [w for w in free["words"] if w["end"] <= phrase[0]["start"]] and words[:-6], (free, got)
    assert [w["word"] for w in words] == got["text"].split(), words
    said = starts["set a timer for five minutes"]
    assert said - 0.06 < phrase[0]["start"] < said + 0.1 and phrase[0]["end"] - phrase[0]["start"] < 0.4, (said, words)
    assert all(w["start"] < w["end"] <= v["start"] for w, v in zip(words, words[1:])), words
    assert got["commands"] == [{"command": "set a timer for five minutes", "start": phrase[0]["start"],
                                "end": phrase[-1]["end"]}], got


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
def test_commands_json_says_which_phrases_were_taken(tmp_path, capsys):
    """--format json with --commands had no word of which text was a phrase of the list (`listen --json` has
    "command"): "Dim the lights", then free speech, then "Set a timer for 5 minutes" gave one text, and a script could
    not tell the commands from the rest. With --commands (only then) each object ends in "commands": each phrase
    taken, as the list writes it, with the times of its words, in order; [] when none was."""
    (tmp_path / "list.txt").write_text("Dim the lights\nSet a timer for 5 minutes\nstop the music\n")
    audio, starts = _said(0.5, "dim the lights", 1.5, "the garden was lovely yesterday afternoon", 1.5,
                          "set a timer for five minutes", 0.5)
    sf.write(tmp_path / "mixed.wav", audio, 16000)
    free, _ = _said(0.5, "the garden was lovely yesterday afternoon", 0.5)
    sf.write(tmp_path / "free.wav", free, 16000)
    args = ["--vad", "silero", "--decoder", "greedy", "--format", "json"]
    assert main(["transcribe", str(tmp_path / "mixed.wav"), str(tmp_path / "free.wav"), "--commands",
                 str(tmp_path / "list.txt"), *args]) == 0
    mixed, other = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert list(mixed) == ["file", "duration", "text", "words", "commands"], mixed
    assert mixed["text"].startswith("dim the lights ") and mixed["text"].endswith(" set a timer for five minutes")
    got = mixed["commands"]
    assert [c["command"] for c in got] == ["Dim the lights", "Set a timer for 5 minutes"], got
    words = mixed["words"]
    assert (got[0]["start"], got[0]["end"]) == (words[0]["start"], words[2]["end"]), (got, words)
    assert (got[1]["start"], got[1]["end"]) == (words[-6]["start"], words[-1]["end"]), (got, words)
    said = starts["set a timer for five minutes"]
    assert said - 0.06 < got[1]["start"] < said + 0.1, (said, got)
    assert other["commands"] == [] and other["text"], other
    assert main(["transcribe", str(tmp_path / "mixed.wav"), *args]) == 0      # without --commands: the four keys
    assert list(json.loads(capsys.readouterr().out)) == ["file", "duration", "text", "words"]
    assert main(["transcribe", str(tmp_path / "mixed.wav"), "--commands", str(tmp_path / "list.txt"),
                 *args[:-2]]) == 0                                             # txt: the text alone, as before
    assert capsys.readouterr().out == mixed["text"] + "\n"
    assert main(["transcribe", str(tmp_path / "mixed.wav"), "--commands", str(tmp_path / "list.txt"), *args,
                 "--output-dir", str(tmp_path / "out")]) == 0                  # and in the file written
    assert json.loads((tmp_path / "out" / "mixed.json").read_text())["commands"] == got


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_said_one_after_another_are_each_their_own(tmp_path, capsys, vad):
    """Digits read out a second apart, in an 8 kHz file (FSDD's rate), against a list of the ten digits: each region
    alone is its digit, but "eight ... six ... eight" decoded as one stretch was accepted as "eight" (the recogniser
    wrote the run as one word), so two digits were lost; on FSDD's test takes read five to a file, 16 of 300 digits
    fewer were right (26 with Silero), and every region was decoded again in each run up to 8 s (4.9 times the audio,
    RTF 4-7 times). A region that is a phrase on its own is now its own piece, decoded once, and no run takes it in."""
    from speechseq.audio import load_audio, resample
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.vad import load_vad

    digits = "zero one two three four five six seven eight nine".split()
    (tmp_path / "digits.txt").write_text("\n".join(digits) + "\n")
    said = ["five", "eight", "six", "eight", "three"]
    audio, _ = _said(0.5, *[p for w in said for p in (w, 1.0)], voice="en-us+f3")
    sf.write(tmp_path / "digits.wav", resample(audio, 16000, 8000), 8000)
    assert main(["transcribe", str(tmp_path / "digits.wav"), "--commands", str(tmp_path / "digits.txt"),
                 "--vad", vad, "--decoder", "greedy", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["text"] == " ".join(said) and [w["word"] for w in got["words"]] == said, got

    rec, decoded = Recognizer(SHIPPED), []
    recognize = rec.recognize

    def counted(x, opts):   # the recogniser itself, each piece of audio it is given counted
        decoded.append(len(x))
        return recognize(x, opts)

    rec.recognize = counted
    t = rec.transcribe([load_audio(tmp_path / "digits.wav")], DecodeOptions("greedy", commands=CommandSet(digits)),
                       vad=load_vad(vad))
    assert t.text == " ".join(said) and len(t.segments) == 5, t.segments
    assert sorted(decoded) == sorted(round((s.end - s.start) * 16000) for s in t.segments), decoded


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_take_the_rest_of_a_command_in_after_a_pause(capsys, tmp_path, vad):
    """"turn the volume ... down", a 0.9 s pause in it: its first region alone is accepted as "turn the volume up"
    (deficit 1.8 nats a character), and once a region that is a phrase alone was its own piece, that was taken and
    "down" spelt freely after it ("turn the volume up fine"), where the two together are "turn the volume down"
    (0.2). A region that is a phrase alone still takes in the regions after it that are none when together they are
    a phrase closer to their audio."""
    audio, _ = _said(0.5, "turn the volume", 0.9, "down", 0.5)
    sf.write(tmp_path / "volume.wav", audio, 16000)
    assert main(["transcribe", str(tmp_path / "volume.wav"), "--commands", str(ROOT / "data/commands/home.txt"),
                 "--vad", vad, "--decoder", "greedy", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["text"] == "turn the volume down", got
    assert [w["word"] for w in got["words"]] == "turn the volume down".split(), got


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_do_not_try_runs_with_more_speech_than_a_phrase_takes(vad):
    """Speech that is no command, a second between its sentences: each region and every run of them up to
    COMMAND_SPAN_S was decoded against the list (2.6-2.8 s decoded a second of audio on the Precise not-wake-word
    phrases, RTF 3-4 times that without --commands). Two of these sentences hold more speech than home.txt's longest
    phrase (31 characters) could take to say, so no run of them is tried: each region is decoded once."""
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.speech_regions import speech_probabilities, speech_regions
    from speechseq.runtime.vad import load_vad

    said = ["the old man walked slowly along the river bank today",
            "she bought three loaves of fresh bread at the busy market",
            "nobody expected the storm to arrive before the evening"]
    audio, _ = _said(0.5, *[p for s in said for p in (s, 1.0)])
    commands = CommandSet.load(ROOT / "data/commands/home.txt")
    v = load_vad(vad)
    spans = speech_regions(speech_probabilities(v, audio), v.frame_s, len(audio))
    speech = [(b - a) / 16000 - 0.6 for a, b in spans]     # less the regions' padding
    assert len(spans) == 3 and min(speech) > (0.15 * 31 + 0.5) / 2, speech   # recognizer.phrase_speech_s: 5.15 s
    assert spans[1][1] - spans[0][0] < 8.0 * 16000, spans    # a run COMMAND_SPAN_S alone let through

    rec, decoded = Recognizer(SHIPPED), []
    recognize = rec.recognize

    def counted(x, opts):
        decoded.append(len(x))
        return recognize(x, opts)

    rec.recognize = counted
    t = rec.transcribe([audio], DecodeOptions("greedy", commands=commands), vad=v)
    assert len(t.segments) == 3 and sorted(decoded) == sorted(b - a for a, b in spans), (decoded, spans)


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_spell_out_only_the_runs_that_are_a_phrase(vad):
    """Short speech that is no command, a second between its phrases: every run of its regions is tried against the
    list, and each run was also spelt out by the free decoder (with --decoder auto the lexicon search and its LMs,
    most of the time of a run) though only a run that is a phrase is ever used. A run is now matched on its log-probs
    and decoded only when it is a phrase; the pieces, their text and their words are those of every run decoded."""
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.vad import load_vad

    audio, _ = _said(0.5, "good morning", 1.0, "see you later", 1.0, "how are you", 1.0, "thank you", 0.5)
    opts, v = DecodeOptions("greedy", commands=CommandSet.load(ROOT / "data/commands/home.txt")), load_vad(vad)
    every = Recognizer(SHIPPED)      # every run decoded whole: the recogniser's own decode, as a stand-in runs it
    every.recognize = lambda x, o: Recognizer._recognize(every, x, o)
    want = every.transcribe([audio], opts, vad=v)

    rec, decoded = Recognizer(SHIPPED), []
    decode = rec.decode

    def counted(log_probs, o, **given):    # given: the match a run was accepted by (decode makes none again)
        decoded.append(len(log_probs))
        return decode(log_probs, o, **given)

    rec.decode = counted
    got = rec.transcribe([audio], opts, vad=v)
    assert got == want and len(got.segments) == 4, got.segments    # each region its own piece, none a phrase
    assert len(decoded) == 4, decoded                               # the regions alone: no run was spelt out


@pytest.mark.skipif(not SHIPPED.is_file(), reason="models/recognizer-en.onnx not built yet")
@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_commands_match_each_utterance_once(vad):
    """A run of regions accepted as a phrase was matched against the list twice, once to decide whether it is one
    (Recognizer._command_run) and again in decode: the forward algorithm over every phrase, done again on the same
    log-probs. Each utterance the recogniser runs is matched once now, the output the same."""
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.vad import load_vad

    matched, ran = [], []

    class Counted(CommandSet):
        def match(self, log_probs):
            matched.append(len(log_probs))
            return super().match(log_probs)

    audio, _ = _said(0.5, "turn on the", 1.2, "kitchen lights", 0.5)
    rec = Recognizer(SHIPPED)
    log_probs = rec.log_probs

    def counted(feats):
        ran.append(len(feats))
        return log_probs(feats)

    rec.log_probs = counted
    phrases = CommandSet.load(ROOT / "data/commands/home.txt").phrases
    t = rec.transcribe([audio], DecodeOptions("greedy", commands=Counted(phrases)), vad=load_vad(vad))
    assert t.text == "turn on the kitchen lights" and len(t.segments) == 1, t.segments
    assert len(ran) == 3 and len(matched) == len(ran), (ran, matched)   # each region alone, then the two as one
