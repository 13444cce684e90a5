"""Review (s51, f): loose ends of the API's wording and of reading a text file once.

1. speechseq.load_recognizer(decoder="rescore") with a recogniser that has no encoder_out, or one of another width,
   names its arguments (decoder='rescore', path=), never --decoder or --attention-decoder; the commands as before.
2. speechseq.load_listener() with a file of the models folder that is broken or of another kind names the file alone,
   never --model, --lm or --lexicon; the command as before. Its commands= list is read once.
3. Each text file an option names is read once, so that a pipe works (`--exclude-manifest <(zcat m.jsonl.gz)`): it
   was checked whole (common.text_file), then read again and found empty: train lm's --exclude-manifest(-all), synth
   sentences' --text and --exclude-manifest, synth keyword's --text, train detector's --synth-text, --commands."""
from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import speechseq
from speechseq.cli import main
from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
TINY_LM = ("--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256", "--threads", "1", "--epochs", "1")
SENTENCES = "The quiet river ran past the old mill.\nShe opened the window to let the morning in.\n"
needs_flite = pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")


@contextmanager
def _pipe(text: str) -> Iterator[str]:
    """A pipe holding `text` (within its buffer), as /dev/fd/N: what `<(cat file)` gives a command."""
    r, w = os.pipe()
    try:
        os.write(w, text.encode())
        os.close(w)
        yield f"/dev/fd/{r}"
    finally:
        os.close(r)


# --- 1. rescoring's errors through the API ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def no_encoder_out(tmp_path_factory) -> Path:
    """The shipped recogniser without its encoder_out output (its metadata kept)."""
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(MODELS / "recognizer-en.onnx"))
    [kept] = [o for o in model.graph.output if o.name == "log_probs"]
    del model.graph.output[:]
    model.graph.output.append(kept)
    path = tmp_path_factory.mktemp("noenc") / "rec.onnx"
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def narrow(tmp_path_factory) -> Path:
    """A tiny recogniser whose encoder_out has 16 channels (the shipped attention decoder reads 512)."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.export_recognizer import export_recognizer

    torch.manual_seed(0)
    return export_recognizer(Recognizer(RecognizerConfig(hidden=8, front_dim=8, layers=1)),
                             tmp_path_factory.mktemp("narrow") / "tiny.onnx")


def test_rescoring_a_recogniser_without_encoder_out_names_the_argument(no_encoder_out):
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_recognizer(no_encoder_out, decoder="rescore", vad="off")
    # was "..., which --decoder rescore needs"
    assert str(err.value) == (f"{no_encoder_out}: this recogniser has no encoder_out output, which "
                              "decoder='rescore' needs")
    code, _, said = run("transcribe", SAMPLE, "--model", no_encoder_out, "--decoder", "rescore", "--vad", "off")
    assert code == 1 and said == (f"speechseq: error: --model {no_encoder_out}: this recogniser has no encoder_out "
                                  "output, which --decoder rescore needs\n")


def test_rescoring_a_recogniser_of_another_width_names_the_arguments(narrow):
    dec = MODELS / "decoder-en.onnx"
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_recognizer(narrow, decoder="rescore", vad="off")
    # was "...: pass the --attention-decoder trained on this recogniser, or another --decoder"
    assert str(err.value) == (f"{dec} reads an encoder of 512 channels, {narrow}'s has 16: pass the recogniser it "
                              "was trained on as path=, or another decoder=")
    code, _, said = run("transcribe", SAMPLE, "--model", narrow, "--decoder", "rescore", "--vad", "off")
    assert code == 1 and said == (f"speechseq: error: {dec} reads an encoder of 512 channels, {narrow}'s has 16: pass "
                                  "the --attention-decoder trained on this recogniser, or another --decoder\n")


# --- 2. load_listener's files named alone ------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A models folder of SPEECHSEQ_MODELS with what load_listener reads, each a link to the shipped file."""
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))
    for name in ("activate.onnx", "computer.onnx", "recognizer-en.int8.onnx", "lm-en.onnx", "words-en.npz"):
        (tmp_path / name).symlink_to(MODELS / name)
    return tmp_path


def _replaced(folder: Path, name: str, by: Path) -> Path:
    (folder / name).unlink()
    (folder / name).symlink_to(by)
    return folder / name


@pytest.mark.parametrize("name, by, said", [
    ("lm-en.onnx", MODELS / "activate.onnx", "a trigger-word detector, not a language model"),      # was --lm
    ("recognizer-en.int8.onnx", MODELS / "lm-en.onnx", "a language model, not a speech recogniser"),  # was --model
    ("recognizer-en.int8.onnx", ROOT / "README.md", "cannot load ONNX model ("),                      # was --model
    ("words-en.npz", ROOT / "README.md", "not a word LM file ("),                                    # was --lexicon
])
def test_load_listener_names_a_broken_models_folder_file_alone(folder, name, by, said):
    path = _replaced(folder, name, by)
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_listener()
    assert str(err.value).startswith(f"{path}: {said}"), err.value
    assert "--" not in str(err.value)


@pytest.mark.parametrize("option, by, said", [
    ("--lm", MODELS / "activate.onnx", "a trigger-word detector, not a language model"),
    ("--model", MODELS / "lm-en.onnx", "a language model, not a speech recogniser"),
    ("--lexicon", ROOT / "README.md", "not a word LM file ("),
])
def test_listen_still_names_its_options(option, by, said):
    code, _, err = run("listen", "--input", SAMPLE, "--fast", option, by)
    assert code == 1 and err.startswith(f"speechseq: error: {option} {by}: {said}"), err


def test_load_listener_reads_its_command_list_once():
    # read by load_listener, then by the command's builder, and twice inside CommandSet.load: a pipe was empty
    with _pipe("turn on the lights\nturn off the lights  # a comment\n") as commands:
        listener = speechseq.load_listener(commands=commands)
    assert list(listener.transcriber.opts.commands.texts) == ["turn on the lights", "turn off the lights"]


def test_transcribe_reads_a_command_list_from_a_pipe():
    # "/dev/fd/N: a command list of no phrases" (CommandSet.load read it whole to check it, then again)
    home = ROOT / "data" / "commands" / "home.txt"
    argv = ["transcribe", SAMPLE, "--format", "json", "--vad", "off", "--commands"]
    with _pipe(home.read_text()) as commands:
        code, out, err = run(*argv, commands)
    assert code == 0, err
    assert out == run(*argv, home)[1]   # as the list read from its file


# --- 3. a text file read once --------------------------------------------------------------------------------

def _corpus(tmp_path: Path) -> Path:
    text = tmp_path / "corpus.txt"
    text.write_text("".join(f"sentence number {i} of the corpus\n" for i in range(60)))
    return text


DEV_ROW = json.dumps({"audio_filepath": "a.wav", "text": "sentence number 7 of the corpus", "split": "dev"}) + "\n"


@pytest.mark.parametrize("option", ["--exclude-manifest", "--exclude-manifest-all"])
def test_train_lm_reads_an_excluded_manifest_from_a_pipe(tmp_path, capsys, option):
    # --exclude-manifest said "no row of an evaluation split among its 0 rows"; --exclude-manifest-all excluded nothing
    pytest.importorskip("torch")
    with _pipe("\ufeff" + DEV_ROW) as manifest:
        code = main(["train", "lm", "--text", str(_corpus(tmp_path)), option, manifest, "--out", str(tmp_path / "lm"),
                     *TINY_LM])
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "59 sentences (" in err and "1 excluded prompt (1 sentence overlapping them dropped)" in err


def test_train_lm_says_a_manifest_that_is_no_text_as_before(tmp_path, capsys):
    pytest.importorskip("torch")
    wav = tmp_path / "m.jsonl"
    wav.write_bytes(SAMPLE.read_bytes())
    code = main(["train", "lm", "--text", str(_corpus(tmp_path)), "--exclude-manifest", str(wav), "--out",
                 str(tmp_path / "lm"), *TINY_LM])
    err = capsys.readouterr().err
    assert code == 1 and re.search(rf"--exclude-manifest {re.escape(str(wav))}: not a UTF-8 text file \(byte \d+: "
                                   r"0x[0-9a-f]{2}\); give a JSONL manifest, one JSON object a line", err), err
    assert not (tmp_path / "lm").exists()   # the lock and the folder made for it removed


@needs_flite
def test_synth_sentences_reads_its_text_and_manifest_from_pipes(tmp_path, capsys):
    # "no usable sentences of 3-15 words in /dev/fd/N"; the manifest: "no row of split 'dev', ..."
    row = json.dumps({"text": "the quiet river ran past the old mill", "split": "dev"}) + "\n"
    out = tmp_path / "s"
    with _pipe(SENTENCES) as text, _pipe(row) as manifest:
        code = main(["synth", "sentences", "--text", text, "--exclude-manifest", manifest, "--n", "2", "--engines",
                     "flite", "--workers", "1", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "1 usable sentence; 1 dropped as near-copies of 1 excluded prompt" in err
    rows = [json.loads(line) for name in ("train.jsonl", "heldout.jsonl") for line in
            (out / name).read_text().splitlines()]
    assert {r["text"] for r in rows} == {"she opened the window to let the morning in"}


@needs_flite
def test_synth_keyword_reads_its_text_from_a_pipe(tmp_path, capsys):
    # "cannot read text file /dev/fd/N: no such file"
    out = tmp_path / "kw"
    with _pipe(SENTENCES * 3) as text:
        code = main(["synth", "keyword", "--keyword", "hello", "--text", text, "--engines", "flite", "--variations",
                     "1", "--min-per-engine", "0", "--neg-ratio", "1", "--workers", "1", "--out", str(out)])
    assert code == 0, capsys.readouterr().err[-2000:]
    words = set(SENTENCES.lower().replace(".", "").split())
    phrases = [json.loads(line)["text"] for line in (out / "negatives.jsonl").read_text().splitlines()
               if json.loads(line)["kind"] == "phrase"]
    assert phrases and all(set(p.split()) <= words for p in phrases)


@needs_flite
def test_train_detector_reads_its_synth_text_from_a_pipe(tmp_path):
    # train detector --synth-text: "cannot read text file /dev/fd/N: no such file" (synthesized is what it runs)
    from speechseq.commands.train_detector import synthesized

    with _pipe(SENTENCES) as text:
        synthesized("hello", tmp_path / "synth", ("flite",), (text,), 2)
    words = set(SENTENCES.lower().replace(".", "").split())
    neg = [json.loads(line) for line in (tmp_path / "synth" / "negatives.jsonl").read_text().splitlines()]
    phrases = [n["text"] for n in neg if n["kind"] == "phrase"]
    assert len(phrases) == len(neg) // 4 and all(set(p.split()) <= words for p in phrases)


@needs_flite
def test_synth_sentences_still_refuses_a_binary_text_before_any_work(tmp_path, capsys):
    wav, out = tmp_path / "t.txt", tmp_path / "s"
    wav.write_bytes(SAMPLE.read_bytes())
    code = main(["synth", "sentences", "--text", str(wav), "--n", "2", "--engines", "flite", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and f"--text {wav}: not a UTF-8 text file (byte " in err and not out.exists()


def test_sample_reads_novel_against_from_a_pipe():
    # sample --novel-against <(cat corpus.txt): read whole to check it, then again, empty: no sentence was "(seen)"
    argv = ["sample", "--num", "3", "--seed", "0"]
    code, drawn, _ = run(*argv)
    assert code == 0 and len(drawn.splitlines()) == 3
    with _pipe(drawn) as corpus:
        code, again, err = run(*argv, "--novel-against", corpus)
    assert code == 0, err
    assert again.splitlines() == [f"{line}  (seen)" for line in drawn.splitlines()]
