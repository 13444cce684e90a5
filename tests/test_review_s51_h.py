"""Session 51, helper h: the command line's start-up cost (no training code, torch or audio stack loaded to build the
parser or print --help), the bounds of synth's counts, and synth's manifests written whole or not at all."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from speechseq.cli import build_parser
from speechseq.errors import SpeechseqError

REPO = Path(__file__).resolve().parents[1]
# what building the parser loaded before: speechseq.train.synth_sets and .manifests, and soundfile through them
HEAVY = ("speechseq.train", "torch", "onnxruntime", "librosa", "scipy", "soundfile", "sounddevice", "matplotlib")


def test_building_the_parser_and_help_load_no_training_code_nor_heavy_modules():
    """Every command registers its parser without importing speechseq.train, torch, onnxruntime, librosa, scipy or
    soundfile: they were loaded by `speechseq detect --help` (synth and train detector imported
    speechseq.train.synth_sets at module level, and through it train.manifests and soundfile)."""
    code = textwrap.dedent(f"""
        import contextlib, io, json, sys
        import speechseq
        from speechseq.cli import build_parser, main
        build_parser()
        for argv in (["detect", "--help"], ["synth", "keyword", "--help"], ["train", "detector", "--help"],
                     ["tune", "fusion", "--help"], ["listen", "--help"], ["--help"]):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main(argv)
                except SystemExit as e:
                    assert e.code == 0, (argv, e.code)
            assert "usage: speechseq" in out.getvalue(), argv
        heavy = {HEAVY!r}
        print(json.dumps({{"file": speechseq.__file__,
                          "loaded": sorted(m for m in sys.modules if m.split(".")[0] in heavy or
                                           any(m.startswith(h + ".") or m == h for h in heavy))}}))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.splitlines()[-1])
    assert Path(got["file"]).resolve() == REPO / "speechseq" / "__init__.py"
    assert got["loaded"] == [], got["loaded"]


@pytest.mark.parametrize("argv, option", [
    (["synth", "keyword", "--keyword", "hi", "--variations", "100000"], "--variations"),
    (["synth", "keyword", "--keyword", "hi", "--min-per-engine", "1000000000"], "--min-per-engine"),
    (["synth", "sentences", "--text", "t.txt", "--n", "1000000000"], "--n"),
], ids=["variations", "min-per-engine", "n"])
def test_synth_counts_that_multiply_are_bounded_with_a_usage_error(argv, option, tmp_path, capsys):
    """--variations 100000 planned 660k jobs (738 MB) before the first clip, and 1e9 ran out of memory: a usage error
    (exit 2) naming the option and its bound, before any work."""
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args([*argv, "--out", str(tmp_path / "out")])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must lie in [" in err, err
    assert not (tmp_path / "out").exists()


def test_synth_settings_refuse_counts_over_their_bounds():
    from speechseq.synth_settings import MAX_CLIPS, MAX_PER_ENGINE, MAX_VARIATIONS
    from speechseq.train.synth_sets import KeywordSet, SentenceSet  # the settings as the library names them

    KeywordSet(variations=MAX_VARIATIONS, min_per_engine=MAX_PER_ENGINE)  # the bounds themselves are allowed
    SentenceSet(text=("t.txt",), n=MAX_CLIPS)
    with pytest.raises(ValueError, match=r"variations 100000 \(a whole number from 1 to 1000\)"):
        KeywordSet(variations=100_000)
    with pytest.raises(ValueError, match="min_per_engine 1000000000"):
        KeywordSet(min_per_engine=10 ** 9)
    with pytest.raises(ValueError, match=r"n 1000000000 \(a whole number from 1 to 500000\)"):
        SentenceSet(text=("t.txt",), n=10 ** 9)


def test_a_keyword_set_over_the_clip_bound_is_refused_before_any_job_is_planned(tmp_path):
    """Each option within its bound, their product with the installed voices is not: at least 50000 positives an
    engine and 100 negatives each are over 5 million jobs. Refused with the counts, nothing written."""
    from speechseq.train import synth_sets

    cfg = synth_sets.KeywordSet(variations=1000, min_per_engine=50_000, neg_ratio=100)
    with pytest.raises(SpeechseqError, match=r"negatives \(--neg-ratio 100\) are over the 500000 clips a set makes "
                                             r"at most"):
        synth_sets.keyword_set("hello", tmp_path / "kw", cfg, synth_sets.VoiceOptions(workers=1),
                               say=lambda line: None)
    assert not (tmp_path / "kw").exists()


def test_synth_manifests_are_written_whole_or_not_at_all(tmp_path):
    """positives.jsonl, negatives.jsonl, train.jsonl and heldout.jsonl were written in place: a write that failed
    part way (here a row json cannot write; an interrupt, a full disk) left the first rows alone in the file, a set a
    rerun or `train detector --synth` read as whole. Now the file is as it was, and no temporary file is left."""
    from speechseq.train import synth_sets

    path = tmp_path / "positives.jsonl"
    synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "old"}]})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "new"}, {"text": object()}]})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["positives.jsonl"]
    synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "a"}, {"text": "b"}]})
    assert [json.loads(line)["text"] for line in path.read_text().splitlines()] == ["a", "b"]
