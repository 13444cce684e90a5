"""Review of the recipe scripts that make the shipped models' data and weights: their errors on missing or
damaged inputs (one line, before the long work), and reruns on other data (refused, never silently resumed).
Tiny models and files, no shared data."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.fake_precise import write_fake_data
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / f"{script}.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _run_here(script: str, *args: str) -> subprocess.CompletedProcess:
    """scripts/SCRIPT.py's main(argv) in this process, its exit as `python scripts/SCRIPT.py` gives it: an exit
    message on stderr with code 1 (its `__main__` says a SpeechseqError so), argparse's usage errors as they are.
    No interpreter and torch to start again for each run (~3 s each); any other exception fails the test, as a
    traceback would. The thread count the script sets (torch.set_num_threads(1)) is put back."""
    import contextlib
    import io

    import torch

    from speechseq.errors import SpeechseqError

    out, err, threads = io.StringIO(), io.StringIO(), torch.get_num_threads()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = _script(script).main(list(args))
        except SystemExit as exit_:
            code = exit_.code
        except SpeechseqError as error:
            code = f"{script}.py: {error}"
        finally:
            torch.set_num_threads(threads)
        if isinstance(code, str):
            print(code, file=sys.stderr)
            code = 1
    return subprocess.CompletedProcess([script, *args], code or 0, out.getvalue(), err.getvalue())


@functools.lru_cache(maxsize=None)
def _script(name: str):
    """scripts/NAME.py loaded once as a module (it sets OMP_NUM_THREADS and sys.path when loaded: both kept as
    they were for the rest of the tests)."""
    environ, path = dict(os.environ), list(sys.path)
    try:
        return load_script(name, f"_review_recipes_{name}")
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path


def _one_line_error(r: subprocess.CompletedProcess, *names: str) -> None:
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    for name in names:
        assert name in r.stderr, r.stderr


def _wav(path: Path, seconds: float = 0.5) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.2 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16000)


# --- scripts/train_decoder.py -------------------------------------------------------------------------------------

def _decoder_setup(tmp_path: Path) -> tuple[list[str], dict[str, Path]]:
    """A tiny recogniser checkpoint (rec.pt), a tiny LM checkpoint (lm.pt) and Kathleen / FSDD train manifests of
    two clips each; returns the `fit` arguments but for --recognizer / --lm-checkpoint, and the files."""
    import torch

    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.train.lm import KIND as LM_KIND
    from speechseq.train.recognizer import FRONTEND

    torch.manual_seed(0)
    rec = Recognizer(RecognizerConfig(n_mels=80, front_dim=8, hidden=8, layers=1, dropout=0.0))
    torch.save({"kind": "recognizer", "model_config": rec.cfg.to_dict(), "model": rec.state_dict(),
                "extra": {"frontend": FRONTEND.to_dict()}}, tmp_path / "rec.pt")
    lm = CharLM(LMConfig(embed_dim=8, hidden=8))
    torch.save({"kind": LM_KIND, "model_config": lm.cfg.to_dict(), "model": lm.state_dict()}, tmp_path / "lm.pt")
    data = tmp_path / "data"
    for name in ("kathleen", "fsdd"):
        rows = []
        for i in range(2):
            _wav(data / name / "audio" / f"arctic_a000{i}_1.wav")
            rows.append({"audio_filepath": f"audio/arctic_a000{i}_1.wav", "duration": 0.5, "text": f"word {i}",
                         "split": "train"})
        (data / name / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    fit = ["fit", "--data", str(data), "--work", str(tmp_path / "work"), "--out", str(tmp_path / "dec.onnx")]
    return fit, {"rec": tmp_path / "rec.pt", "lm": tmp_path / "lm.pt"}


def test_decoder_recipe_missing_inputs_are_one_line_before_the_encoder_pass(tmp_path):
    """`encoder --checkpoint gone.pt` and `fit --recognizer gone.onnx` were FileNotFoundError / ModelError tracebacks;
    `fit --lm-checkpoint gone.pt` (or a checkpoint of another kind) was one after the whole encoder-output pass over
    the training audio."""
    pytest.importorskip("torch")
    fit, files = _decoder_setup(tmp_path)
    _one_line_error(_run("train_decoder", "encoder", "--checkpoint", str(tmp_path / "gone.pt"), "--out",
                         str(tmp_path / "m.onnx")), "gone.pt")          # the script as a command; the rest here
    here = _run_here
    _one_line_error(here("train_decoder", "encoder", "--checkpoint", str(files["lm"]), "--out",
                         str(tmp_path / "m.onnx")), "lm.pt", "not a recognizer")
    r = here("train_decoder", "encoder", "--checkpoint", str(files["rec"]), "--out", str(tmp_path / "m.onnx"))
    assert r.returncode == 0, r.stderr
    _one_line_error(here("train_decoder", *fit, "--recognizer", str(tmp_path / "gone.onnx"), "--lm-checkpoint",
                         str(files["lm"])), "gone.onnx", "--recognizer")
    _one_line_error(here("train_decoder", *fit, "--recognizer", str(tmp_path / "m.onnx"), "--lm-checkpoint",
                         str(tmp_path / "gone.pt")), "gone.pt", "--lm-checkpoint")
    assert not (tmp_path / "work" / "memories.npz").exists()       # nothing computed before the error
    _one_line_error(here("train_decoder", *fit, "--recognizer", str(tmp_path / "m.onnx"), "--lm-checkpoint",
                         str(files["rec"])), "rec.pt", "not an lm")   # a checkpoint of another kind
    assert not (tmp_path / "work" / "memories.npz").exists()


def test_decoder_recipe_rerun_with_another_size_is_refused_in_one_line(tmp_path):
    """A rerun into the same --work with another --hidden resumed last.pt into a decoder of another size: a torch
    "size mismatch" traceback of a dozen lines."""
    pytest.importorskip("torch")
    fit, files = _decoder_setup(tmp_path)
    assert _run_here("train_decoder", "encoder", "--checkpoint", str(files["rec"]), "--out",
                     str(tmp_path / "m.onnx")).returncode == 0
    fit += ["--recognizer", str(tmp_path / "m.onnx"), "--lm-checkpoint", str(files["lm"]), "--epochs", "1"]
    r = _run_here("train_decoder", *fit, "--hidden", "8")
    assert r.returncode == 0 and (tmp_path / "dec.onnx").is_file(), r.stderr
    _one_line_error(_run_here("train_decoder", *fit, "--hidden", "12"), "--hidden 8, not 12", "--work")
    assert _run_here("train_decoder", *fit, "--hidden", "8").returncode == 0  # the same: resumed (nothing to train)


# --- scripts/make_splice_data.py ----------------------------------------------------------------------------------

def test_splice_keyword_of_a_missing_align_file_or_audio_is_one_line(tmp_path):
    """`keyword --align gone.json` was a FileNotFoundError traceback, and so was an align file naming audio that is
    no longer there (align.json keeps the paths it was made with)."""
    pytest.importorskip("pocketsphinx")
    out = str(tmp_path / "kw")
    _one_line_error(_run("make_splice_data", "keyword", "--keyword", "computer", "--align",
                         str(tmp_path / "gone.json"), "--out", out), "gone.json", "align")
    (tmp_path / "align.json").write_text(json.dumps([{"audio_filepath": str(tmp_path / "moved.flac"),
                                                      "speaker": "k", "phones": [["K", 0, 5]]}]))
    _one_line_error(_run("make_splice_data", "keyword", "--keyword", "computer", "--align",
                         str(tmp_path / "align.json"), "--out", out), "moved.flac")


# --- scripts/train_wordlm.py and scripts/tune_lexicon.py: the general word list -----------------------------------

def _text_data(root: Path) -> Path:
    data = root / "data"
    (data / "text").mkdir(parents=True)
    (data / "text" / "ljspeech.txt").write_text("a dog ran in the park\n")
    (data / "text" / "arctic_prompts.txt").write_text("the cat sat on the mat\n")
    (data / "kathleen").mkdir()
    ids = [i for i in range(2000) if zlib.crc32(f"a{i:04d}".encode()) % 100 < 4][:2]
    rows = [{"audio_filepath": f"audio/arctic_a{i:04d}_1.wav", "duration": 0.5, "text": "the dog sat",
             "split": "train"} for i in ids]
    rows.append({"audio_filepath": "audio/arctic_b0465_1.wav", "duration": 0.5, "text": "he read", "split": "dev"})
    for r in rows:
        _wav(data / "kathleen" / r["audio_filepath"])
    (data / "kathleen" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return data


def test_word_lm_with_a_damaged_word_list_is_one_line(tmp_path):
    """--background naming a file that is no gzip'd wordfreq list (the wheel itself, an unzipped copy) was a
    BadGzipFile traceback."""
    data = _text_data(tmp_path)
    bad = tmp_path / "large_en.msgpack.gz"
    bad.write_text("not gzip\n")
    r = _run("train_wordlm", "--data", str(data), "--out", str(tmp_path / "w.npz"), "--exclude-all",
             "--background", str(bad))
    _one_line_error(r, "large_en.msgpack.gz", "--background")
    assert not (tmp_path / "w.npz").exists()


def test_lexicon_tuning_missing_word_list_is_one_line_before_the_recogniser_runs(tmp_path):
    """--background gone.gz was a FileNotFoundError traceback, after the recogniser had run over every tuning
    utterance."""
    data = _text_data(tmp_path)
    r = _run("tune_lexicon", "--data", str(data), "--cache", str(tmp_path / "tc"), "--sets", "kathleen-val",
             "--model", str(ROOT / "models" / "recognizer-en.onnx"), "--word-weights", "0.6", "--word-bonuses", "0",
             "--oov-penalties", "24", "--background", str(tmp_path / "gone.msgpack.gz"))
    _one_line_error(r, "gone.msgpack.gz", "--background")
    assert not (tmp_path / "tc" / "kathleen-val.npz").exists()


# --- speechseq.train.stream_finetune --------------------------------------------------------------------------------

def _bank(seed: int):
    from speechseq.train.featbank import FeatureBank, quantize
    from speechseq.train.recognizer import FRONTEND

    texts = ("on", "off", "up", "go")
    rng = np.random.default_rng(seed)
    feats = [rng.normal(-6.0, 2.0, (40 + 10 * i, 80)) for i in range(len(texts))]
    lengths = [len(f) for f in feats]
    return FeatureBank(quantize(np.concatenate(feats)), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       list(texts), ["toy"] * len(texts), FRONTEND.to_dict())


def _recognizer_onnx(path: Path, seed: int) -> Path:
    import torch

    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.export_recognizer import export_recognizer
    from speechseq.train.recognizer import FRONTEND

    torch.manual_seed(seed)
    m = Recognizer(RecognizerConfig(n_mels=80, hidden=8, front_dim=8, layers=1, dropout=0.2))
    m.set_normalization(torch.linspace(-8, -4, 80), torch.linspace(1.0, 3.0, 80))
    return export_recognizer(m.eval(), path, meta={"seed": seed}, frontend=FRONTEND.to_dict())


def test_stream_finetune_does_not_resume_a_run_of_another_source_or_features(tmp_path, capsys):
    """A rerun into the same --out from another --from-onnx (or other --features) resumed the old run's weights and
    exported them stamped with the new source's digest, so `speechseq listen` took the stale twin for the new
    recogniser's."""
    pytest.importorskip("torch")
    from speechseq.train.stream_finetune import main

    for name, seed in (("feat", 0), ("feat2", 2)):
        _bank(seed).save(tmp_path / name / "toy_train")
        _bank(seed + 1).save(tmp_path / name / "toy_val")
    a, b = _recognizer_onnx(tmp_path / "a.onnx", 0), _recognizer_onnx(tmp_path / "b.onnx", 1)
    common = ["--batch-seconds", "1.5", "--fraction", "1", "--out", str(tmp_path / "run")]
    feat = ["--features", str(tmp_path / "feat")]
    assert main(["--from-onnx", str(a), *feat, "--epochs", "1", *common]) == 0
    last = (tmp_path / "run" / "last.pt").read_bytes()
    assert main(["--from-onnx", str(b), *feat, "--epochs", "2", *common]) == 1
    assert main(["--from-onnx", str(a), "--features", str(tmp_path / "feat2"), "--epochs", "2", *common]) == 1
    err = capsys.readouterr().err
    assert "--features" in err and "Traceback" not in err
    assert (tmp_path / "run" / "last.pt").read_bytes() == last               # the old run left as it was
    assert main(["--from-onnx", str(a), *feat, "--epochs", "2", *common]) == 0   # the same source: resumed


def test_stream_finetune_names_the_other_source(tmp_path, capsys):
    pytest.importorskip("torch")
    from speechseq.train.stream_finetune import main

    _bank(0).save(tmp_path / "feat" / "toy_train")
    _bank(1).save(tmp_path / "feat" / "toy_val")
    a, b = _recognizer_onnx(tmp_path / "a.onnx", 0), _recognizer_onnx(tmp_path / "b.onnx", 1)
    common = ["--features", str(tmp_path / "feat"), "--batch-seconds", "1.5", "--fraction", "1", "--out",
              str(tmp_path / "run")]
    assert main(["--from-onnx", str(a), "--epochs", "1", *common]) == 0
    capsys.readouterr()
    assert main(["--from-onnx", str(b), "--epochs", "2", "--export", str(tmp_path / "b.stream.onnx"), *common]) == 1
    err = capsys.readouterr().err
    assert "other data" in err and "--from-onnx" in err and not (tmp_path / "b.stream.onnx").exists()


# --- scripts/precise_halves.py --------------------------------------------------------------------------------------

def test_precise_halves_of_an_unknown_keyword_writes_nothing(tmp_path):
    """A mistyped keyword ("Android") was refused only after OUT/Android/ had been filled with links to all the
    real speech: a folder of a keyword with no clips, left behind."""
    data, out = tmp_path / "data", tmp_path / "halves"
    write_fake_data(data, ("android",), per_word=4, not_wake=4)
    r = _run("precise_halves", "--keyword", "Android", "--out", str(out), "--data", str(data))
    assert r.returncode == 2 and "no Precise clips of 'Android'" in r.stderr
    assert not (out / "Android").exists()


def test_splice_align_file_works_from_another_folder(tmp_path):
    """align.json kept the audio paths as the manifest's folder joined as given (relative to the folder `align` ran
    in): `keyword` run from any other folder found no audio."""
    pytest.importorskip("pocketsphinx")
    import shutil

    d = tmp_path / "a" / "rec"
    d.mkdir(parents=True)
    shutil.copy(ROOT / "data" / "samples" / "activate_kitchen_lights.wav", d / "take_1.wav")
    (d / "manifest.jsonl").write_text(json.dumps({"audio_filepath": "take_1.wav",
                                                  "text": "activate turn on the kitchen lights"}) + "\n")
    r = _run("make_splice_data", "align", "--manifest", "rec/manifest.jsonl", "--split", "", "--skip-pct", "0",
             "--out", "align.json", "--workers", "1", cwd=tmp_path / "a")
    assert r.returncode == 0 and "1 utterance aligned" in r.stdout, r.stderr
    (tmp_path / "b").mkdir()
    r = _run("make_splice_data", "keyword", "--keyword", "activate", "--align", str(tmp_path / "a" / "align.json"),
             "--out", "kw", "--positives", "2", "--negatives", "0", cwd=tmp_path / "b")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in (tmp_path / "b" / "kw" / "positives.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all((tmp_path / "b" / "kw" / x["audio_filepath"]).is_file() for x in rows)


# --- speechseq.train.detector_pretrain ------------------------------------------------------------------------------

def test_pretraining_does_not_resume_a_run_of_other_clips_or_another_network(tmp_path):
    """A rerun into the same folder resumed last.pt whatever it was given: other clips (train_detectors.py
    --stage pretrain --rebuild with other keywords) were trained on as if the run had never stopped, and another
    network size was a torch "size mismatch" traceback."""
    torch = pytest.importorskip("torch")
    from dataclasses import replace

    from speechseq.nn.detector import DetectorConfig
    from speechseq.train.detector_pretrain import PretrainRecipe, pretrain_detector
    from speechseq.train.feataug import AugmentConfig

    torch.set_num_threads(1)
    cfg = DetectorConfig(n_mels=40, conv_channels=8, kernel=8, stride=4, hidden=8, layers=1, dropout=0.0,
                         norm_frames=0)
    rng = np.random.default_rng(0)
    clips = [(rng.normal(-6, 1, (40, 40)).astype(np.float32), t, 1.0) for t in ("ab", "ba", "abc", "cab") * 3]
    recipe = PretrainRecipe(epochs=1, batch_frames=400, augment=AugmentConfig.off())
    pretrain_detector(clips, tmp_path / "pre", cfg, recipe, progress=False)
    last = (tmp_path / "pre" / "last.pt").read_bytes()
    other = [(f, t + "a", w) for f, t, w in clips]
    with pytest.raises(ValueError, match="other clips"):
        pretrain_detector(other, tmp_path / "pre", cfg, replace(recipe, epochs=2), progress=False)
    with pytest.raises(ValueError, match="hidden"):
        pretrain_detector(clips, tmp_path / "pre", replace(cfg, hidden=12), replace(recipe, epochs=2), progress=False)
    assert (tmp_path / "pre" / "last.pt").read_bytes() == last
    assert len(pretrain_detector(clips, tmp_path / "pre", cfg, replace(recipe, epochs=2), progress=False)) == 2


def test_lexicon_tuning_computes_a_damaged_cache_again(tmp_path):
    """CACHE/SET.npz was written in place: a run stopped while writing it left a file that every later run failed
    to read (a BadZipFile traceback). It is written whole or not at all, and a damaged one is computed again."""
    data = _text_data(tmp_path)
    (tmp_path / "tc").mkdir()
    (tmp_path / "tc" / "kathleen-val.npz").write_bytes(b"PK\x03\x04 cut short")
    args = ["--data", str(data), "--cache", str(tmp_path / "tc"), "--sets", "kathleen-val", "--model",
            str(ROOT / "models" / "recognizer-en.onnx"), "--word-weights", "0.6", "--word-bonuses", "0",
            "--oov-penalties", "24"]
    r = _run("tune_lexicon", *args)
    assert r.returncode == 0 and "computed again" in r.stderr, r.stderr
    assert sorted(p.name for p in (tmp_path / "tc").iterdir()) == ["kathleen-val.jsonl", "kathleen-val.npz"]
    again = _run("tune_lexicon", *args)
    assert again.returncode == 0 and "recogniser outputs of" not in again.stderr      # read back
    assert again.stdout == r.stdout
