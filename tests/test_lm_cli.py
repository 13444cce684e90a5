"""The text side's commands end to end on tiny models: train lm + export, sample, tune fusion, analyze."""
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from .cli_run import run  # noqa: E402


def speechseq(*args, timeout=180):
    return subprocess.run([sys.executable, "-m", "speechseq", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})


def speechseq_here(*args) -> subprocess.CompletedProcess:
    """The command in this process (speechseq.cli.main), for the runs after the first of a command (trained_lm starts
    `train lm` as a process of its own): no interpreter and torch to start for each; torch's thread count, which
    `train lm --threads` sets, is put back."""
    threads = torch.get_num_threads()
    try:
        code, out, err = run(*args)
    finally:
        torch.set_num_threads(threads)
    return subprocess.CompletedProcess(["speechseq", *map(str, args)], code, out, err)


@pytest.fixture(scope="module")
def trained_lm(tmp_path_factory):
    d = tmp_path_factory.mktemp("lmcli")
    text = d / "corpus.txt"
    text.write_text("\n".join(["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 30 +
                              [f"line number {i}" for i in range(40)]))
    dev = d / "dev.jsonl"
    dev.write_text(json.dumps({"audio_filepath": "x.wav", "duration": 1.0, "text": "A cat and a dog!",
                               "split": "dev"}) + "\n")
    r = speechseq("train", "lm", "--text", text, "--exclude-manifest", dev, "--out", d / "run", "--epochs", "2",
                  "--hidden", "32", "--embed-dim", "8", "--batch-tokens", "512", "--lr", "0.01")
    assert r.returncode == 0, r.stderr
    assert "; 1 excluded prompt" in r.stderr and "held-out perplexity" in r.stderr
    r = speechseq("export", d / "run" / "best.pt", "--out", d / "lm.onnx")
    assert r.returncode == 0, r.stderr
    return d


def test_train_export_and_sample(trained_lm):
    """train lm (with a dev prompt excluded) -> export -> sample: the held-out perplexity and sentence counts the
    file's metadata gives are the run's. (It was marked slow, so no default run, CI's included, ever ran it: 6 s.)"""
    from speechseq.runtime.lm import OnnxLM

    lm = OnnxLM(trained_lm / "lm.onnx")
    hist = json.loads((trained_lm / "run" / "history.json").read_text())
    assert lm.meta["heldout_perplexity"] == pytest.approx(min(h["val_ppl"] for h in hist), rel=1e-3)
    assert lm.meta["train_sentences"] + lm.meta["heldout_sentences"] == 3 + 40 - 1   # "a cat and a dog" excluded
    r = speechseq("sample", "--lm", trained_lm / "lm.onnx", "-n", "3", "--seed", "0", "--prefix", "the ",
                  "--novel-against", trained_lm / "corpus.txt")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("the ") for line in lines)
    r = speechseq("sample", "--lm", trained_lm / "missing.onnx")
    assert r.returncode == 1 and "no such model file" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.train.export_lm import export_lm

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("lm") / "lm.onnx"
    export_lm(CharLM(LMConfig(embed_dim=8, hidden=16)).eval(), path)
    return path


def test_sample_command(tiny_lm):
    r = speechseq("sample", "--lm", tiny_lm, "-n", "3", "--seed", "0", "--prefix", "the ", "--max-chars", "30")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.rstrip("\n").split("\n")
    assert len(lines) == 3 and all(line.startswith("the ") and len(line) <= 30 for line in lines)
    r = speechseq("sample", "--lm", tiny_lm, "--temperature", "0")
    assert r.returncode == 2 and "--temperature: must be > 0" in r.stderr and "Traceback" not in r.stderr


@pytest.fixture(scope="module")
def tiny_recognizer(tmp_path_factory):
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.export_lm import export_encoder

    d = tmp_path_factory.mktemp("rec")
    torch.manual_seed(0)
    export_encoder(Recognizer(RecognizerConfig(n_mels=80, front_dim=16, hidden=8, layers=1)).eval(), d / "rec.onnx")
    rng = np.random.default_rng(0)
    rows = []
    for i, text in enumerate(["one two", "three", "four five six"]):
        sf.write(d / f"u{i}.wav", rng.normal(0, 0.1, 8000 + 4000 * i).astype(np.float32), 16000)
        rows.append(json.dumps({"audio_filepath": f"u{i}.wav", "duration": 0.5 + 0.25 * i, "text": text}))
    (d / "m.jsonl").write_text("\n".join(rows) + "\n")
    return d


def test_tune_fusion_grid_and_analyze(tiny_lm, tiny_recognizer, tmp_path):
    from speechseq.nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder

    d = tiny_recognizer
    torch.manual_seed(0)
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), tmp_path / "dec.onnx")
    r = speechseq("tune", "fusion", "--model", d / "rec.onnx", "--lm", tiny_lm, "--manifest",
                  d / "m.jsonl", "--alphas", "0", "0.5", "--betas", "0", "1", "--beam", "4", "--json",
                  "--attention-decoder", tmp_path / "dec.onnx", "--attention-weights", "0", "1")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert len(out["grid"]) == 4 and out["utterances"] == 3
    assert [a["weight"] for a in out["attention"]] == [0, 1]
    assert out["attention"][0]["wer"] == pytest.approx(out["best"]["wer"])   # weight 0 = the fused beam
    assert all(g["wer"] >= 0 for g in out["grid"]) and out["best"]["wer"] == min(g["wer"] for g in out["grid"])
    r = speechseq("analyze", "--model", d / "rec.onnx", "--manifest", d / "m.jsonl", "--lm", tiny_lm,
                  "--beam", "4", "--json")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in r.stdout.strip().splitlines()]
    summary = lines[-1]["summary"]
    assert summary["utterances"] == 3 and summary["wrong"] == len(lines) - 1 == 3   # a random model gets all wrong
    assert summary["search"] + summary["model"] == 3
    assert {c["blame"] for c in lines[:-1]} <= {"search", "model"}


def test_rescoring_recognizer_and_attention_picture(tiny_lm, tiny_recognizer, tmp_path):
    from speechseq.audio import load_audio
    from speechseq.nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
    from speechseq.runtime.attention import OnnxDecoder
    from speechseq.runtime.recognizer import DecodeOptions as PlainOptions
    from speechseq.runtime.recognizer import Recognizer
    from speechseq.runtime.text_decoder import DecodeOptions, TextDecoder, attention_picture, rescoring_recognizer
    from speechseq.train.export_lm import export_decoder

    torch.manual_seed(0)
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), tmp_path / "dec.onnx")
    dec = OnnxDecoder(tmp_path / "dec.onnx")
    rec_path, wav = tiny_recognizer / "rec.onnx", tiny_recognizer / "u2.wav"
    plain = Recognizer(rec_path).transcribe_file(wav, PlainOptions(decoder="beam", beam_size=4))
    beam = rescoring_recognizer(rec_path, TextDecoder(DecodeOptions("beam", beam_size=4))).transcribe_file(wav)
    assert beam.text == plain.text and [w.word for w in beam.words] == [w.word for w in plain.words]
    resc = rescoring_recognizer(rec_path, TextDecoder(DecodeOptions("rescore", beam_size=4), lm=tiny_lm, attention=dec))
    t = resc.transcribe_file(wav)
    assert t.duration == pytest.approx(1.0) and isinstance(t.text, str)
    attention_picture(tmp_path / "a.png", resc, dec, load_audio(wav), "four five six")
    assert (tmp_path / "a.png").stat().st_size > 5000
    # A decoder remembers which recogniser it was trained on: another one is flagged.
    import warnings

    from speechseq.runtime.onnx import read_metadata, write_metadata
    from speechseq.runtime.text_decoder import best_available, encoder_probe

    probe = encoder_probe(Recognizer(rec_path).session, 80)
    for name, values, warns in (("same", probe, False), ("other", [v + 0.5 for v in probe], True)):
        meta = read_metadata(tmp_path / "dec.onnx")
        meta["encoder_probe"] = values
        write_metadata(tmp_path / "dec.onnx", meta)
        td = TextDecoder(DecodeOptions("rescore", beam_size=4), lm=tiny_lm,
                         attention=OnnxDecoder(tmp_path / "dec.onnx"))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rescoring_recognizer(rec_path, td)
        assert any("not the recogniser" in str(w.message) for w in caught) == warns, name
        assert best_available(rec_path, tiny_lm, tmp_path / "dec.onnx") == ("beam-lm" if warns else "rescore")
    assert best_available(rec_path, tiny_lm, tmp_path / "none.onnx") == "beam-lm"
    assert best_available(rec_path, tmp_path / "none.onnx", tmp_path / "dec.onnx") == "greedy"


def test_transcribe_with_lm_fusion_rescoring_and_attention_plot(tiny_lm, tiny_recognizer, tmp_path):
    from speechseq.nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder

    torch.manual_seed(0)
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), tmp_path / "dec.onnx")
    wav, rec = tiny_recognizer / "u2.wav", tiny_recognizer / "rec.onnx"
    for decoder in ("beam-lm", "rescore"):
        r = speechseq("transcribe", wav, "--model", rec, "--decoder", decoder, "--lm", tiny_lm, "--lm-weight", "0.3",
                      "--attention-decoder", tmp_path / "dec.onnx", "--format", "json", "--beam-size", "4",
                      "--plot-attention", tmp_path / f"{decoder}.png")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["duration"] == pytest.approx(1.0)
        assert (tmp_path / f"{decoder}.png").stat().st_size > 5000
    r = speechseq("transcribe", wav, "--model", rec, "--decoder", "beam-lm", "--lm", tmp_path / "nope.onnx")
    assert r.returncode == 1 and "nope.onnx" in r.stderr and "Traceback" not in r.stderr


def test_sample_prefix_must_be_readable_and_fit_max_chars(tiny_lm):
    # A prefix with no character of the vocabulary was dropped whole: every sentence began with a bare space.
    r = speechseq("sample", "--lm", tiny_lm, "-n", "2", "--seed", "0", "--prefix", "日本 ")
    assert r.returncode == 1 and "--prefix '日本 ': no character" in r.stderr and r.stdout == ""
    # One longer than --max-chars came back whole, past the limit.
    r = speechseq("sample", "--lm", tiny_lm, "-n", "1", "--prefix", "the president", "--max-chars", "5")
    assert r.returncode == 1 and "13 characters after normalisation, more than --max-chars 5" in r.stderr
    r = speechseq("sample", "--lm", tiny_lm, "-n", "3", "--seed", "0", "--prefix", "Café 42 ", "--max-chars", "20")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and all(line.startswith("cafe forty two ") and len(line) <= 20 for line in lines), lines


def test_analyze_json_counts_each_segment_of_one_file(tiny_recognizer, tmp_path):
    """Rows cut from one file share their key (the audio path): word errors are each row's own, and a
    reference too long for its frames (log P = -inf) is written as valid JSON."""
    from speechseq.metrics import edit_distance

    d = tiny_recognizer
    rows = [{"audio_filepath": str(d / "u2.wav"), "offset": 0.0, "duration": 0.5, "text": "one"},
            {"audio_filepath": str(d / "u2.wav"), "offset": 0.5, "duration": 0.5,
             "text": "four five six seven eight nine ten"},
            {"audio_filepath": str(d / "u0.wav"), "text": "and so on " * 30}]
    (tmp_path / "segs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = speechseq("analyze", "--model", d / "rec.onnx", "--manifest", tmp_path / "segs.jsonl", "--beam", "2",
                  "--json")
    assert r.returncode == 0, r.stderr

    def no_constants(name):
        raise ValueError(f"{name} is not JSON")

    lines = [json.loads(x, parse_constant=no_constants) for x in r.stdout.splitlines()]
    cases = lines[:-1]
    assert [c["reference"].split()[0] for c in cases] == ["one", "four", "and"]   # a random model: all wrong
    assert [c["word_errors"] for c in cases] == [edit_distance(c["reference"].split(), c["output"].split()).distance
                                                 for c in cases]
    assert cases[2]["reference_score"] is None and cases[2]["blame"] == "model"


def test_analyze_says_which_option_its_system_does_not_use(tiny_lm, tiny_recognizer, tmp_path):
    """--decoder with --system ctc was silently unused (and --lm with attention): a warning names it."""
    d = tiny_recognizer
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": str(d / "u0.wav"), "text": "one"}) + "\n")
    r = speechseq("analyze", "--model", d / "rec.onnx", "--manifest", tmp_path / "m.jsonl", "--beam", "2",
                  "--lm", tiny_lm, "--decoder", tiny_lm)
    assert r.returncode == 0, r.stderr
    assert "--decoder is not used with --system ctc" in r.stderr and "Traceback" not in r.stderr


def test_tune_fusion_references_without_words_are_an_error(tiny_lm, tiny_recognizer, tmp_path):
    d = tiny_recognizer
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"audio_filepath": str(d / f"u{i}.wav"), "text": t}) + "\n"
                                              for i, t in enumerate(["", "?!"])))
    r = speechseq("tune", "fusion", "--model", d / "rec.onnx", "--lm", tiny_lm, "--manifest", tmp_path / "m.jsonl",
                  "--alphas", "0", "--betas", "0")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no transcript has a word" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_train_lm_exclude_manifest_without_the_split_is_an_error(tmp_path):
    """Prompts named to be excluded were silently all kept when the manifest had no row of --exclude-split."""
    (tmp_path / "t.txt").write_text("the cat sat on the mat\na dog ran home\n")
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.wav", "text": "The cat sat on the mat."}) + "\n")
    r = speechseq_here("train", "lm", "--text", tmp_path / "t.txt", "--exclude-manifest", tmp_path / "m.jsonl",
                       "--out", tmp_path / "run", "--epochs", "1", "--hidden", "8", "--embed-dim", "4")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no row of an evaluation split (dev, test, validation) among its 1 row," in r.stderr
    assert not (tmp_path / "run").exists()
    r = speechseq_here("train", "lm", "--text", tmp_path / "t.txt", "--exclude-manifest", tmp_path / "m.jsonl",
                       "--exclude-split", "dev", "--out", tmp_path / "run", "--epochs", "1", "--hidden", "8",
                       "--embed-dim", "4")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no row of split 'dev' among its 1 row," in r.stderr and not (tmp_path / "run").exists()
    r = speechseq_here("train", "lm", "--text", tmp_path / "t.txt", "--exclude-manifest", tmp_path / "m.jsonl",
                       "--exclude-split", "", "--out", tmp_path / "run", "--epochs", "1", "--hidden", "8",
                       "--embed-dim", "4", "--heldout-percent", "0")
    assert r.returncode == 0, r.stderr
    assert "(1 train, 0 held out); 1 excluded prompt (1 sentence overlapping them dropped)" in r.stderr


def test_sample_says_an_empty_sentence(tmp_path, capsys):
    """A barely trained LM often draws <eos> first: `sample -n 2` printed empty lines, which read as nothing at all.
    Each of the -n sentences is one line, an empty one written (empty)."""
    from speechseq.cli import main
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.text import EOS, SPACE
    from speechseq.train.export_lm import export_lm

    torch.manual_seed(0)
    lm = CharLM(LMConfig(embed_dim=8, hidden=16)).eval()
    with torch.no_grad():
        lm.bias[EOS] += 30.0                      # <eos> at once, every time
    export_lm(lm, tmp_path / "eos.onnx")
    assert main(["sample", "--lm", str(tmp_path / "eos.onnx"), "-n", "2", "--seed", "0"]) == 0
    assert capsys.readouterr().out == "(empty)\n(empty)\n"
    assert main(["sample", "--lm", str(tmp_path / "eos.onnx"), "-n", "1", "--prefix", "the "]) == 0
    assert capsys.readouterr().out == "the \n"   # a prefix and nothing after it: the prefix
    (tmp_path / "corpus.txt").write_text("a line\n\nanother\n")   # its blank line is no sentence seen
    assert main(["sample", "--lm", str(tmp_path / "eos.onnx"), "-n", "1", "--novel-against",
                 str(tmp_path / "corpus.txt")]) == 0
    assert capsys.readouterr().out == "(empty)\n"
    with torch.no_grad():
        lm.bias[EOS] -= 30.0
        lm.bias[SPACE] += 30.0                    # spaces only, up to --max-chars
    export_lm(lm, tmp_path / "spaces.onnx")
    assert main(["sample", "--lm", str(tmp_path / "spaces.onnx"), "-n", "1", "--max-chars", "5"]) == 0
    assert capsys.readouterr().out == "(empty)\n"


def test_train_lm_excludes_every_evaluation_split_by_default(tmp_path):
    """--exclude-manifest excluded only the `dev` rows by default: the `test` prompts of an FSDD- or LibriSpeech-style
    manifest (its evaluation split) stayed in the LM's text, and with no `dev` row the command stopped."""
    (tmp_path / "t.txt").write_text("the cat sat on the mat\na dog ran home\nbirds sing at dawn\nfish swim far\n")
    rows = [("The cat sat on the mat.", "test"), ("A dog ran home!", "dev"), ("Birds sing at dawn", "validation"),
            ("Fish swim far", "train")]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"audio_filepath": f"{i}.wav", "text": t, "split": s}) + "\n"
                                              for i, (t, s) in enumerate(rows)))
    common = ["--text", tmp_path / "t.txt", "--exclude-manifest", tmp_path / "m.jsonl", "--epochs", "1",
              "--hidden", "8", "--embed-dim", "4", "--heldout-percent", "0"]
    r = speechseq_here("train", "lm", *common, "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    assert "1 sentence (1 train, 0 held out); 3 excluded prompts (3 sentences overlapping them dropped)" in r.stderr
    r = speechseq_here("train", "lm", *common, "--exclude-split", "test", "--out", tmp_path / "run-test")
    assert r.returncode == 0, r.stderr
    assert "3 sentences (3 train, 0 held out); 1 excluded prompt (1 sentence overlapping them dropped)" in r.stderr
    r = speechseq_here("train", "lm", "--help")
    assert "every evaluation split" in " ".join(r.stdout.split())


def test_analyze_attention_output_does_not_depend_on_the_reference(tmp_path):
    """The decoder's search was cut at 2 x the reference's length + 20 characters: one clip's output was
    "and to the cition" against an empty reference and "on the cition on the cition" against a longer one, so
    the analysis blamed an output the system would not give (the search was told the answer's length)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    wav = root / "data" / "samples" / "activate_kitchen_lights.wav"
    refs = ["", "yes", "activate kitchen lights", "activate the kitchen lights please now thank you very much"]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"audio_filepath": str(wav), "text": t}) + "\n"
                                              for t in refs))
    r = speechseq("analyze", "--model", root / "models" / "recognizer-en.onnx", "--manifest", tmp_path / "m.jsonl",
                  "--system", "attention", "--decoder", root / "models" / "decoder-en.onnx", "--json")
    assert r.returncode == 0, r.stderr
    cases = [json.loads(x) for x in r.stdout.splitlines()][:-1]
    assert [c["reference"] for c in cases] == refs
    assert {c["output"] for c in cases} == {"on the cition on the cition"}
    assert len({round(c["output_score"], 9) for c in cases}) == 1


def test_attention_plot_of_a_clip_shorter_than_one_frame_is_one_line(tiny_lm, tiny_recognizer, tmp_path):
    """transcribe --plot-attention on a 10 ms clip printed its (empty) transcript, then an onnxruntime traceback
    (no feature frame to run the recogniser on)."""
    from speechseq.nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder

    torch.manual_seed(0)
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), tmp_path / "dec.onnx")
    sf.write(tmp_path / "short.wav", np.full(160, 0.1, np.float32), 16000)
    r = speechseq("transcribe", tmp_path / "short.wav", "--model", tiny_recognizer / "rec.onnx", "--decoder",
                  "rescore", "--lm", tiny_lm, "--attention-decoder", tmp_path / "dec.onnx",
                  "--plot-attention", tmp_path / "a.png")
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert "short.wav: 160 samples, shorter than one feature frame (400): no attention to draw" in r.stderr
    assert not (tmp_path / "a.png").exists()


def test_tune_fusion_split_help_names_every_split_it_leaves_out(tiny_lm, tiny_recognizer, tmp_path):
    """--split's help said the default leaves out "dev and test": a Speech Commands `validation` row is left out
    too (EVAL_SPLITS), with a warning the help did not prepare for."""
    from speechseq.train.manifests import EVAL_SPLITS

    r = speechseq("tune", "fusion", "--help")
    assert r.returncode == 0
    flat = " ".join(r.stdout.split())
    split_help = flat[flat.index("--split SPLIT only"):flat.index("--limit LIMIT first")]
    assert all(s in split_help for s in EVAL_SPLITS), split_help
    d = tiny_recognizer
    (tmp_path / "m.jsonl").write_text("".join(
        json.dumps({"audio_filepath": str(d / f"u{i}.wav"), "text": t, "split": s}) + "\n"
        for i, (t, s) in enumerate([("one two", "train"), ("three", "validation")])))
    r = speechseq("tune", "fusion", "--model", d / "rec.onnx", "--lm", tiny_lm, "--manifest", tmp_path / "m.jsonl",
                  "--alphas", "0", "--betas", "0", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["utterances"] == 1 and "1 row of the evaluation splits" in r.stderr
