"""Review of the text side as a user who brings their own text trains it: a text without line breaks, bad numbers
given to the decoder recipe, and checkpoints that are not the LM's or the decoder's (tiny runs of seconds)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from speechseq.cli import main

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
TINY_LM = ("--hidden", "8", "--embed-dim", "4", "--epochs", "1", "--threads", "1")


def test_a_line_longer_than_batch_tokens_is_trained_in_pieces_that_fit_a_batch(tmp_path, capsys):
    """A text without line breaks (a paragraph or a book on one line) is one sentence, and it was one batch of its
    whole length whatever --batch-tokens said: a 100,000-character line took 3.6 GB (hidden 512), a book on one line
    more than the machine has. Now it is read in pieces cut at spaces, each fitting a batch, and a warning says so."""
    words = "the of and a to in is was he that it for on with as his at by".split()
    line = " ".join(words[i * 7 % len(words)] for i in range(1500))           # 4,8xx characters, one line
    text = tmp_path / "book.txt"
    text.write_text(line + "\nthe cat sat\na dog ran\nwe ate soup\n", encoding="utf-8")
    out = tmp_path / "lm"
    code = main(["train", "lm", "--text", str(text), "--out", str(out), "--batch-tokens", "256",
                 "--heldout-percent", "0", *TINY_LM])
    err = capsys.readouterr().err
    assert code == 0 and "Traceback" not in err
    assert ("1 line of --text longer than --batch-tokens 256 allows (254 characters after normalisation) is read in "
            "pieces cut at spaces") in err, err
    ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    tokens = len(line) + 2 + sum(len(s) + 2 for s in ("the cat sat", "a dog ran", "we ate soup"))
    assert ck["step"] >= tokens / 256                      # no batch above --batch-tokens (it was 2 steps)
    assert ck["extra"]["train_sentences"] >= 3 + -(-len(line) // 254)   # the pieces, each a sentence


@pytest.mark.parametrize("option, value", [("--epochs", "0"), ("--hidden", "0"), ("--every", "0"),
                                           ("--batch-frames", "-5"), ("--synth-limit", "-1")])
def test_decoder_recipe_refuses_a_bad_number_in_one_usage_line(option, value, tmp_path):
    """--epochs 0 or --hidden 0 was a ValueError traceback after the LM, the recogniser and every encoder output had
    been loaded or computed (minutes); --every 0 a 'slice step cannot be zero' traceback."""
    p = subprocess.run([sys.executable, str(ROOT / "scripts/train_decoder.py"), "fit", "--recognizer", "rec.onnx",
                        "--lm-checkpoint", "lm.pt", "--work", str(tmp_path / "w"), "--out", str(tmp_path / "d.onnx"),
                        option, value], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert f"argument {option}:" in p.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("saved", [[1, 2], "text", 3])
def test_a_checkpoint_that_is_no_training_run_is_one_line_for_the_decoder_recipe(saved, tmp_path):
    """A .pt holding a list or a tensor (saved by other code) given as --lm-checkpoint was an AttributeError traceback
    ('list' object has no attribute 'get'); the LM and decoder loaders now say what the file is not."""
    from speechseq.train.joint import load_decoder_checkpoint
    from speechseq.train.lm import load_lm_checkpoint

    path = tmp_path / "lm.pt"
    torch.save(saved, path)
    for load, what in ((load_lm_checkpoint, "an lm"), (load_decoder_checkpoint, "an attention decoder")):
        with pytest.raises(ValueError, match=f"not a training checkpoint .*, so not {what}"):
            load(path)
    p = subprocess.run([sys.executable, str(ROOT / "scripts/train_decoder.py"), "fit", "--recognizer",
                        str(ROOT / "models/recognizer-en.onnx"), "--lm-checkpoint", str(path), "--work",
                        str(tmp_path / "w"), "--out", str(tmp_path / "d.onnx")], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert p.returncode == 1 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.strip().splitlines() == [f"--lm-checkpoint {path}: {path}: not a training checkpoint "
                                             f"({type(saved).__name__}), so not an lm"]


def test_a_rerun_on_the_same_text_file_edited_since_is_refused(tmp_path, capsys):
    """--help: a rerun on "other text" is an error. Only the files' paths were compared: the same file with sentences
    added (or a line fixed) resumed on the new text, its held-out sentences others than those that chose best.pt."""
    text = tmp_path / "corpus.txt"
    lines = [f"sentence number {i} of the corpus" for i in range(120)]
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "lm"
    base = ["train", "lm", "--text", str(text), "--out", str(out), "--batch-tokens", "256", *TINY_LM]
    assert main(base) == 0
    capsys.readouterr()
    text.write_text("\n".join(lines + [f"another line {i} added later" for i in range(40)]) + "\n", encoding="utf-8")
    assert main([*base, "--epochs", "2"]) == 1
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]
    assert line.startswith(f"speechseq: error: {out} holds a run on other data (the text of --text was 120 "
                           "sentences, crc32 ") and line.endswith(f"): use a new --out, or delete {out} to start over")
    assert torch.load(out / "last.pt", map_location="cpu", weights_only=False)["epoch"] == 1
    text.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")      # the same sentences (other line ends)
    assert main([*base, "--epochs", "2"]) == 0
    assert "resuming from" in capsys.readouterr().err


def test_cut_long_keeps_every_word_in_order_within_the_limit():
    from speechseq.train.lm import cut_long

    s = "the quick brown fox jumps over the lazy dog"
    assert cut_long([s, "ab"], 10) == ["the quick", "brown fox", "jumps over", "the lazy", "dog", "ab"]
    assert cut_long(["abcdefghijklmnop qr"], 6) == ["abcdef", "ghijkl", "mnop", "qr"]   # a word longer: cut full
    assert cut_long([s], len(s)) == [s] and cut_long([], 3) == []
    with pytest.raises(ValueError, match="max_chars"):
        cut_long([s], 0)
