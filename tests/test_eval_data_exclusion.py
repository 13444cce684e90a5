"""Evaluation data is never trained or tuned on: Kathleen `dev` (its prompts too), FSDD `test` and the held-out
synthetic voices and sentences stay out of every training and tuning path (the LM texts, the synthetic sentence
sets, `train recognizer`, the recogniser and decoder recipes, the lexicon tuning), matched after normalisation
(case, punctuation, spacing) and when an evaluation sentence sits inside a longer line. Small data, no audio
model is trained."""
from __future__ import annotations

import json
import sys
import types
import zlib
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

from speechseq.text import normalize
from tests.script_loader import load_script

DEV = "He read his fragments aloud."                       # a Kathleen dev prompt (ARCTIC b0465)
DEV_LONG = "There were stir and bustle, new faces, and fresh facts."
HELD = "the old clock struck nine"                          # a held-out synthetic sentence


def _script(name: str):
    return load_script(name, f"{name}_under_test")


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for r in rows:  # the loaders check that the audio exists (durations are given: never read)
        (path.parent / r["audio_filepath"]).parent.mkdir(parents=True, exist_ok=True)
        (path.parent / r["audio_filepath"]).touch()
    return path


def _data(root: Path) -> Path:
    """A ../shared/data stand-in: Kathleen train + dev, FSDD train + test, the two text files."""
    data = root / "data"
    kathleen = [{"audio_filepath": f"audio/arctic_a{i:04d}_1.flac", "duration": 2.0, "text": t, "split": "train"}
                for i, t in enumerate(["the cat sat on the mat", "a dog ran in the park", "we ate soup at noon",
                                       "she sold sea shells", "birds fly south in winter", "the sun rose early"] * 4)]
    kathleen += [{"audio_filepath": "audio/arctic_b0465_1.flac", "duration": 2.0, "text": DEV, "split": "dev"},
                 {"audio_filepath": "audio/arctic_b0440_1.flac", "duration": 3.0, "text": DEV_LONG, "split": "dev"}]
    _jsonl(data / "kathleen" / "manifest.jsonl", kathleen)
    _jsonl(data / "fsdd" / "manifest.jsonl",
           [{"audio_filepath": f"recordings/{d}_jackson_{t}.wav", "duration": 0.5, "text": w,
             "split": "test" if t < 5 else "train"} for d, w in enumerate(["zero", "one", "two"]) for t in range(8)])
    (data / "text").mkdir()
    (data / "text" / "arctic_prompts.txt").write_text(f"{DEV}\n{DEV_LONG}\nThe cat sat on the mat.\n")
    (data / "text" / "ljspeech.txt").write_text("When the old clock struck nine, the zyzzyva doors opened.\n"
                                                "He read his fragments aloud to the assembled company that night.\n"
                                                "A dog ran in the park and barked at the moon.\n")
    return data


def _synth(folder: Path, train_texts: list[str], held_texts: list[str]) -> Path:
    def row(i: int, t: str, h: bool) -> dict:
        return {"audio_filepath": f"audio/{'h' if h else 't'}{i}.wav", "duration": 1.5, "text": t, "voice": "v",
                "engine": "espeak-ng", "speed": 1.0, "pitch": 1.0, "heldout": h}

    _jsonl(folder / "heldout.jsonl", [row(i, normalize(t), True) for i, t in enumerate(held_texts)])
    return _jsonl(folder / "train.jsonl", [row(i, t, False) for i, t in enumerate(train_texts)])


# ---------------------------------------------------------------- the LM texts and the synthetic sentence sets

def test_lm_text_leaves_out_lines_that_hold_an_evaluation_sentence():
    from speechseq.train.lm import select_sentences

    lines = ['"HE READ HIS FRAGMENTS -- aloud," said she, and the whole room fell silent at last.',
             f"{DEV_LONG} And there was Ethel Baird, whom also you must remember.",   # two prompts on one line
             "When the old clock struck nine, the doors opened.",
             "He read the papers aloud.",                                           # a few words alike: kept
             "The old clock stood in the hall."]                                    # kept
    kept = select_sentences([normalize(s) for s in lines], [DEV, DEV_LONG, HELD])
    assert kept == [normalize(lines[3]), normalize(lines[4])]
    # as before: the prompt itself, written otherwise, and a fragment of it
    assert select_sentences([normalize("he  read his FRAGMENTS aloud!"), "his fragments aloud"], [DEV]) == []


def test_synthetic_sentences_leave_out_lines_that_hold_a_dev_prompt(tmp_path):
    from speechseq.train import synth_sets

    data = _data(tmp_path)
    excluded = synth_sets.excluded_texts([str(data / "kathleen" / "manifest.jsonl")], ["dev"])
    text = tmp_path / "t.txt"
    text.write_text("He read his fragments aloud to the assembled company that night.\n"
                    "he read His Fragments -- aloud!\n"
                    "He read the papers to the assembled company that night.\n")
    kept, dropped = synth_sets.load_sentences([str(text)], 3, 15, excluded)
    assert kept == ["He read the papers to the assembled company that night."] and dropped == 2


# ---------------------------------------------------------------- recogniser: the command and the recipe

def test_train_recognizer_without_split_never_reads_dev_or_test_rows(tmp_path, capsys):
    pytest.importorskip("torch")
    import soundfile as sf

    from speechseq.commands.train_recognizer import _banks
    from speechseq.errors import SpeechseqError

    rows = []
    for i, (text, split) in enumerate([("turn on the light", "train"), ("open the door", "train"),
                                       ("what time is it", None), ("play some music", "train")] * 3
                                      + [(DEV, "dev"), ("nine", "test"), ("eight", "validation")]):
        t = np.arange(int(16000 * 0.8)) / 16000
        sf.write(tmp_path / f"{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t), 16000)
        rows.append({"audio_filepath": f"{i}.wav", "text": text, **({"split": split} if split else {})})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = Namespace(manifest=[str(manifest)], split=None, val_manifest=None, val_split=None, out=str(tmp_path / "o"))
    train, val = _banks(args)
    texts = [*(t for part in train for t in part.texts), *val.texts]
    assert len(texts) == 12 and normalize(DEV) not in texts and "nine" not in texts and "eight" not in texts
    # Speech Commands' evaluation split is "validation": it was trained on
    assert "3 rows of the evaluation splits (dev/test/validation) left out" in capsys.readouterr().err
    # named, a split is what is asked for
    args.split, args.out = "dev", str(tmp_path / "o2")
    with pytest.raises(SpeechseqError, match="1 utterance in --manifest"):  # too few to hold some out, but read
        _banks(args)


def test_synthetic_sentences_leave_out_every_evaluation_split_by_default(tmp_path):
    """SentenceSet excluded the `dev` rows of its manifests by default: an FSDD- or LibriSpeech-style manifest's
    `test` prompts (Speech Commands': `validation`) could be spoken into the training sentences."""
    from speechseq.train import synth_sets

    rows = [{"text": "the quick brown fox jumps over it", "split": "test"},
            {"text": "a cat sat on the warm mat today", "split": "validation"},
            {"text": "she sells sea shells by the shore", "split": "train"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    excluded = synth_sets.excluded_texts([str(manifest)], synth_sets.SentenceSet(text=("t.txt",)).exclude_splits)
    assert sorted(" ".join(w) for w in excluded) == ["a cat sat on the warm mat today",
                                                       "the quick brown fox jumps over it"]


def test_recognizer_recipe_drops_synthetic_dev_prompts_and_held_out_sentences(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from speechseq.train import feataug, featbank

    data = _data(tmp_path)
    synth = _synth(tmp_path / "synth", ["the cat sat on the mat", DEV.upper(), "THE OLD CLOCK STRUCK NINE!",
                                        f"{normalize(DEV)} to the assembled company", "a dog ran in the park"],
                   [HELD]).parent
    seen: dict[str, list[str]] = {}

    def featurize(utts, cfg, source, *a, **k):
        seen.setdefault(source, []).extend(u.text for u in utts)
        n = len(utts)
        return featbank.FeatureBank(np.zeros((3 * n, 80), np.uint8), np.arange(n + 1, dtype=np.int64) * 3,
                                    [normalize(u.text) for u in utts], [source] * n, cfg.to_dict())

    monkeypatch.setattr(featbank, "featurize", featurize)
    monkeypatch.setattr(feataug, "colored_noise_features", lambda cfg, extra=(): np.zeros((10, 80), np.float32))
    tr = _script("train_recognizer")
    tr.prepare(Namespace(data=str(data), synth=[str(synth)], synth_hours=10.0, out=str(tmp_path / "feat"),
                         heldout_text=None, shard_hours=None))
    assert sorted(seen["synth"]) == ["a dog ran in the park", "the cat sat on the mat"]
    assert normalize(DEV) not in map(normalize, seen["kathleen"]) and "nine" not in seen.get("fsdd", [])
    assert len(seen["fsdd"]) == 9


def test_decoder_recipe_never_reads_held_out_sentences_or_dev_prompts(tmp_path):
    data = _data(tmp_path)
    train = _synth(tmp_path / "synth", ["the cat sat on the mat", f"{DEV} ", HELD.title() + ".",
                                        f"{DEV_LONG} said he", "a dog ran in the park"], [HELD])
    td = _script("train_decoder")
    utts = td._utterances(Namespace(data=str(data), synth=str(train), synth_limit=3000, every=1))
    texts = [normalize(u.text) for u in utts]
    assert normalize(DEV) not in texts and normalize(DEV_LONG) not in texts and HELD not in texts
    assert "nine" not in texts and sum(t in ("zero", "one", "two") for t in texts) == 9
    assert [t for t, u in zip(texts, utts) if "synth" in Path(u.audio).parts] == \
        ["the cat sat on the mat", "a dog ran in the park"]


# ---------------------------------------------------------------- the text models' recipes and the lexicon tuning

def test_lm_recipe_leaves_out_the_held_out_sentences_by_default(tmp_path, monkeypatch):
    import speechseq.cli

    data = _data(tmp_path)
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(speechseq.cli, "main", lambda argv: calls.append(argv) or 1)
    lm = _script("train_lm")
    monkeypatch.setattr(sys, "argv", ["train_lm.py", "--data", str(data)])
    with pytest.raises(SystemExit, match="heldout.jsonl: no such file"):   # not made yet: never silently kept
        lm.main()
    _synth(tmp_path / "cache" / "synth" / "sentences", ["the cat sat on the mat"], [HELD])
    assert lm.main() == 1
    argv = calls[-1]
    assert argv[argv.index("--exclude-manifest-all") + 1:] == ["cache/synth/sentences/heldout.jsonl"]
    assert argv[argv.index("--exclude-split") + 1] == "dev"
    monkeypatch.setattr(sys, "argv", ["train_lm.py", "--data", str(data), "--exclude-all"])   # said: none
    assert lm.main() == 1 and "--exclude-manifest-all" not in calls[-1]   # not a bare option: train lm refuses one


def test_word_lm_recipe_leaves_out_the_held_out_sentences_by_default(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from speechseq.runtime.lexicon import load_lexicon

    data = _data(tmp_path)
    monkeypatch.chdir(tmp_path)
    _synth(tmp_path / "cache" / "synth" / "sentences", ["the cat sat on the mat"], [HELD])
    monkeypatch.setattr(sys, "argv", ["train_wordlm.py", "--data", str(data), "--out", str(tmp_path / "w.npz")])
    assert _script("train_wordlm").main() == 0
    vocabulary = set(load_lexicon(tmp_path / "w.npz").vocabulary)
    assert "zyzzyva" not in vocabulary and "fragments" not in vocabulary and "barked" in vocabulary


def test_word_lm_recipe_says_what_is_wrong_with_an_exclusion_manifest(tmp_path, monkeypatch):
    """--exclude-also M:SPLIT of a split M lacks excluded nothing, silently (the evaluation prompts stayed in the
    LM's text), and a manifest that is not JSONL ended the recipe in a traceback."""
    pytest.importorskip("torch")
    data = _data(tmp_path)
    (tmp_path / "notes.txt").write_text("the cat sat on the mat\n")
    fsdd = data / "fsdd" / "manifest.jsonl"
    wordlm = _script("train_wordlm")

    def run(*also: str):
        monkeypatch.setattr(sys, "argv", ["train_wordlm.py", "--data", str(data), "--out", str(tmp_path / "w.npz"),
                                          "--exclude-all", "--exclude-also", *also])
        return wordlm.main()

    with pytest.raises(SystemExit, match=r"fsdd/manifest.jsonl: no row of split 'dev' among its 24 rows"):
        run(f"{fsdd}:dev")
    with pytest.raises(SystemExit, match=r"notes.txt: not a JSONL manifest"):
        run(str(tmp_path / "notes.txt"))
    assert not (tmp_path / "w.npz").exists()
    assert run(f"{fsdd}:test") == 0


def test_lexicon_tuning_never_decodes_held_out_sentences_or_dev(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import speechseq.runtime.posteriors as posteriors

    data = _data(tmp_path)
    # Kathleen train prompts of the recogniser's validation slice, synthetic texts of its validation slice
    ids = [i for i in range(2000) if zlib.crc32(f"a{i:04d}".encode()) % 100 < 4][:3]
    _jsonl(data / "kathleen" / "manifest.jsonl",
           [{"audio_filepath": f"audio/arctic_a{i:04d}_1.flac", "duration": 2.0, "text": f"prompt number {i}",
             "split": "train"} for i in ids]
           + [{"audio_filepath": "audio/arctic_b0465_1.flac", "duration": 2.0, "text": DEV, "split": "dev"}])
    val_texts = [t for t in (f"the synthetic sentence {normalize(str(i))}" for i in range(3000))
                 if zlib.crc32(t.encode()) % 100 < 3][:4]
    monkeypatch.chdir(tmp_path)
    _synth(tmp_path / "cache" / "synth" / "sentences", [*val_texts, normalize(DEV)], [HELD, "a held out line"])
    decoded: list[str] = []

    def outputs(model, manifest, *a, **k):
        rows = [json.loads(x) for x in Path(manifest).read_text().splitlines() if x.strip()]
        decoded.extend(r["audio_filepath"] for r in rows)
        return [types.SimpleNamespace(log_probs=np.log(np.full((6, 29), 1 / 29, np.float32))) for _ in rows]

    monkeypatch.setattr(posteriors, "manifest_outputs", outputs)
    monkeypatch.setattr(sys, "argv", ["tune_lexicon.py", "--data", str(data), "--cache", str(tmp_path / "tc"),
                                      "--word-weights", "0.4", "--word-bonuses", "0", "--oov-penalties", "4"])
    assert _script("tune_lexicon").main() == 0
    names = sorted(Path(p).name for p in decoded)
    assert not any(n.startswith("h") for n in names)                                 # no held-out voice
    assert "arctic_b0465_1.flac" not in names and "t4.wav" not in names               # nor dev, nor a dev prompt
    assert names == sorted([*(f"arctic_a{i:04d}_1.flac" for i in ids), *(f"t{k}.wav" for k in range(len(val_texts)))])


def test_exclusion_manifests_are_read_as_every_manifest_is(tmp_path):
    """excluded_texts read only the keys "text" and "split": a manifest that holds its prompts under another key
    every loader takes ("sentence", "transcript", "Text", "Split") excluded nothing, and its dev prompts went into
    the synthetic training sentences; a line of JSON that is no object, or a text that is no string, was a
    traceback (AttributeError) instead of one error naming the line."""
    from speechseq.errors import SpeechseqError
    from speechseq.train import synth_sets

    rows = [{"sentence": "the quick brown fox jumps over it", "split": "dev"},
            {"Transcript": "a cat sat on the warm mat today", "Split": "test"},
            {"text": "she sells sea shells by the shore", "split": "train"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\ufeff" + "".join(json.dumps(r) + "\n" for r in rows))   # with a byte order mark
    excluded = synth_sets.excluded_texts([str(manifest)], ["dev", "test"])
    assert sorted(" ".join(w) for w in excluded) == ["a cat sat on the warm mat today",
                                                       "the quick brown fox jumps over it"]
    for line, message in [("[1, 2]", r"m2.jsonl:2: not a JSON object: \[1, 2\]"),
                          ('{"text": 5, "split": "dev"}', r"m2.jsonl:2: the text is not a string: 5")]:
        (tmp_path / "m2.jsonl").write_text(json.dumps(rows[2]) + "\n" + line + "\n")
        with pytest.raises(SpeechseqError, match=message):
            synth_sets.excluded_texts([str(tmp_path / "m2.jsonl")], ["dev"])
    (tmp_path / "m3.jsonl").write_bytes(b'{"text": "caf\xe9 time", "split": "dev"}\n')
    with pytest.raises(SpeechseqError, match=r"cannot read exclusion manifest .*m3.jsonl: not UTF-8 text"):
        synth_sets.excluded_texts([str(tmp_path / "m3.jsonl")], ["dev"])
