"""Closed-set commands (speechseq.runtime.command_set, `--commands`): the CTC forward score of each phrase equals the
sum over its alignments, the list file is read as documented, a phrase of the list is taken only when it scores near
the audio's own best spelling, and with the shipped recogniser the demo's command comes out as said."""
from __future__ import annotations

import itertools
import re
import json
from pathlib import Path

import numpy as np
import pytest

from speechseq.cli import main
from speechseq.errors import SpeechseqError
from speechseq.runtime.command_set import CommandSet, ctc_log_likelihoods, phrase_frames
from speechseq.text import BLANK, encode

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"   # "activate, turn on the kitchen lights"
HOME = ROOT / "data" / "commands" / "home.txt"
MODEL = ROOT / "models" / "recognizer-en.int8.onnx"


def _brute_force(lp: np.ndarray, tokens: list[int]) -> float:
    """log of the sum over every frame labelling that collapses (repeats merged, blanks dropped) to `tokens`."""
    total = -np.inf
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        collapsed = [s for i, s in enumerate(path) if s != BLANK and (i == 0 or path[i - 1] != s)]
        if collapsed == tokens:
            total = np.logaddexp(total, sum(lp[t, s] for t, s in enumerate(path)))
    return float(total)


def test_forward_scores_equal_the_sum_over_alignments():
    rng = np.random.default_rng(0)
    for n_frames in (1, 2, 4, 5):
        logits = rng.normal(size=(n_frames, 3)) * 2
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        phrases = [[1], [2], [1, 2], [2, 1], [1, 1], [2, 2, 1], [1, 2, 1]]   # [1, 1]: a blank must part them
        got = ctc_log_likelihoods(lp, phrases)
        want = np.array([_brute_force(lp, p) for p in phrases])
        assert np.array_equal(np.isinf(got), np.isinf(want)), (n_frames, got, want)
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], atol=1e-9)
    # a repeat needs its blank: 2 frames cannot hold "aa", 3 can
    lp = np.log(np.full((2, 3), 1 / 3))
    assert ctc_log_likelihoods(lp, [[1, 1]])[0] == -np.inf
    assert np.isfinite(ctc_log_likelihoods(np.log(np.full((3, 3), 1 / 3)), [[1, 1]])[0])


def _log_domain(lp: np.ndarray, tokens: list[int]) -> float:
    """The CTC forward algorithm in log probabilities, one phrase at a time (the textbook form)."""
    labels = [BLANK]
    for tok in tokens:
        labels += [tok, BLANK]
    alpha = np.full(len(labels), -np.inf)
    alpha[:2] = lp[0, labels[:2]]
    for t in range(1, len(lp)):
        prev = alpha.copy()
        for s in range(len(labels)):
            terms = [prev[s]] + ([prev[s - 1]] if s else [])
            if s >= 2 and labels[s] != BLANK and labels[s] != labels[s - 2]:
                terms.append(prev[s - 2])
            alpha[s] = np.logaddexp.reduce(terms) + lp[t, labels[s]]
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(labels) > 1 else alpha[-1])


def test_forward_scores_of_long_utterances_and_peaked_posteriors():
    """Scaled in probabilities, the forward pass loses nothing that matters on a 6 s utterance whose posteriors are
    as sharp as a trained recogniser's (log-probs down to about -60): the textbook log-domain values."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(300, 29)) * 12
    lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    phrases = [list(rng.integers(1, 29, size=n)) for n in (1, 5, 20, 60, 149)] + [[3, 3, 3, 3]]
    got = ctc_log_likelihoods(lp, phrases)
    np.testing.assert_allclose(got, [_log_domain(lp, p) for p in phrases], rtol=1e-9)
    assert ctc_log_likelihoods(lp, [[1] * 151])[0] == -np.inf      # 151 repeats need 301 frames


def _spelling(text: str, frames_per_char: int = 3, sure: float = 0.9) -> np.ndarray:
    """(T, 29) log-probs that spell `text` (each character a few frames, then a blank), the rest spread evenly."""
    seq = []
    for tok in encode(text):
        seq += [tok] * frames_per_char + [BLANK]
    lp = np.full((len(seq), 29), np.log((1 - sure) / 28))
    lp[np.arange(len(seq)), seq] = np.log(sure)
    return lp


def test_phrase_frames_are_the_stretch_that_says_the_phrase():
    """phrase_frames: the widest stretch of frames whose shortfall against the best path is least (first the start
    over every suffix, then the end over that suffix's prefixes), as the forward score of each stretch gives it; a
    word said before the phrase is left out, silence around it kept. An accepted phrase was aligned over the whole
    utterance, so that "set" of "activate ... set a timer for five minutes" lay on "activate"."""
    rng = np.random.default_rng(2)
    for n_frames in (1, 3, 12, 40):
        logits = rng.normal(size=(n_frames, 5)) * 4
        lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        for tokens in ([2], [1, 3], [3, 3], [4, 2, 1, 2]):
            best = lp.max(axis=1)
            cost = [best[a:].sum() - ctc_log_likelihoods(lp[a:], [tokens])[0] for a in range(n_frames)]
            if not np.isfinite(cost).any():
                assert phrase_frames(lp, tokens, 0.0) == (0, n_frames)
                continue
            a = int(np.argmin(cost))
            cost = [best[a:b].sum() - ctc_log_likelihoods(lp[a:b], [tokens])[0] for b in range(a + 1, n_frames + 1)]
            b = a + 1 + len(cost) - 1 - int(np.argmin(cost[::-1]))
            assert phrase_frames(lp, tokens, 0.0) == (a, b), (n_frames, tokens)
    pause = np.full((10, 29), np.log(0.001 / 28))
    pause[:, BLANK] = np.log(0.999)
    said = np.concatenate([pause, _spelling("activate"), pause, _spelling("set a timer"), pause])
    start = len(pause) + len(_spelling("activate")) - 1                # its last frame is a blank (_spelling)
    assert phrase_frames(said, encode("set a timer")) == (start, len(said))       # the pauses kept, the word not
    assert phrase_frames(_spelling("set a timer"), encode("set a timer")) == (0, len(_spelling("set a timer")))
    assert phrase_frames(np.zeros((0, 29)), encode("yes")) == (0, 0)


def test_match_takes_the_phrase_said_and_rejects_speech_outside_the_list():
    commands = CommandSet(["Yes!", "no", "yes", "stop the music"])       # "Yes!" and "yes" are one phrase
    assert commands.texts == ("yes", "no", "stop the music")
    m = commands.match(_spelling("yes"))
    assert (m.text, m.index, m.accepted) == ("yes", 0, True)
    assert m.deficit < 0.5 < m.runner_up
    assert commands.match(_spelling("stop the music")).text == "stop the music"
    off = commands.match(_spelling("maybe later"))                    # no phrase of the list
    assert not off.accepted and off.deficit > commands.max_deficit
    assert not commands.match(np.zeros((0, 29))).accepted             # no frames: nothing said


def test_the_list_file(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("\ufeff# lights\nTurn on the lights   # the usual one\n\n  good night \nturn on the lights\n")
    assert CommandSet.load(f).texts == ("turn on the lights", "good night")
    f.write_text("# only a comment\n\n")
    with pytest.raises(SpeechseqError, match="no phrases"):
        CommandSet.load(f)
    f.write_text("hello\n!!!\n")
    with pytest.raises(SpeechseqError, match=r"phrase 2 \('!!!'\) has no letters"):
        CommandSet.load(f)
    f.write_bytes(b"\xff\xfe\x00h\x00i")
    with pytest.raises(SpeechseqError, match="not a text file"):
        CommandSet.load(f)
    with pytest.raises(SpeechseqError, match="no such command list"):
        CommandSet.load(tmp_path / "gone.txt")
    with pytest.raises(SpeechseqError, match="is a folder"):
        CommandSet.load(tmp_path)
    with pytest.raises(ValueError, match="max_deficit"):
        CommandSet(["a"], max_deficit=float("nan"))


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists() and HOME.exists()), reason="shipped model missing")
def test_shipped_recogniser_with_the_example_list():
    """The demo's command, in a list that also holds "turn off the kitchen lights" and the other rooms' lights:
    the command comes out exactly, where the free decode spells it wrong; "activate" (no phrase) stays free text."""
    from speechseq.audio import load_audio
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer

    rec = Recognizer(MODEL)
    audio = load_audio(SAMPLE)
    command, keyword = audio[int(2.5 * 16000) : int(4.4 * 16000)], audio[int(0.9 * 16000) : int(2.0 * 16000)]
    opts = DecodeOptions(commands=CommandSet.load(HOME))
    free = rec.recognize(command)
    assert free.text != "turn on the kitchen lights"
    got = rec.recognize(command, opts)
    assert got.text == "turn on the kitchen lights" and got.command.accepted
    assert [w.word for w in got.words] == got.text.split()
    assert all(0 <= a.start < a.end <= b.start for a, b in zip(got.words, got.words[1:]))
    assert got.words[-1].end <= len(command) / 16000 + 1e-6
    kw = rec.recognize(keyword, opts)
    assert not kw.command.accepted and kw.text == rec.recognize(keyword).text


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists() and HOME.exists()), reason="shipped model missing")
def test_transcribe_commands_cli(tmp_path, capsys):
    assert main(["transcribe", str(SAMPLE), "--model", str(MODEL), "--commands", str(HOME), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"].endswith("turn on the kitchen lights")
    assert main(["transcribe", str(SAMPLE), "--commands", str(tmp_path / "gone.txt")]) == 1   # one line, before any work
    assert capsys.readouterr().err.strip().endswith("gone.txt: no such command list")
    assert main(["transcribe", str(SAMPLE), "--commands", str(HOME), "--decoder", "beam-lm"]) == 1
    assert "--commands works with --decoder greedy, beam or lexicon" in capsys.readouterr().err
    # --decoder auto without a lexicon picks a decoder of the text side: said as what auto picked, not as asked
    assert main(["transcribe", str(SAMPLE), "--commands", str(HOME), "--decoder", "auto", "--lexicon", "none"]) == 1
    err = capsys.readouterr().err
    assert "--decoder auto picks" in err and "without a lexicon" in err and "greedy, beam or lexicon" in err, err


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists() and HOME.exists()), reason="shipped model missing")
def test_eval_recognizer_with_commands(tmp_path, capsys):
    """eval recognizer --commands scores the texts the list gives: the demo's command, cut from the recording, is
    right with the list and wrong without it."""
    import soundfile as sf

    from speechseq.audio import load_audio

    clip = tmp_path / "command.wav"
    sf.write(clip, load_audio(SAMPLE)[int(2.5 * 16000) : int(4.4 * 16000)], 16000)
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": str(clip), "duration": 1.9,
                                                  "text": "Turn on the kitchen lights."}) + "\n")
    args = ["eval", "recognizer", "--manifest", str(tmp_path / "m.jsonl"), "--model", str(MODEL)]
    assert main(args) == 0
    assert "WER 0.00%" not in capsys.readouterr().out
    assert main([*args, "--commands", str(HOME)]) == 0
    out = capsys.readouterr().out
    assert "WER 0.00%" in out and "commands of" in out


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists() and HOME.exists()), reason="shipped model missing")
def test_listen_says_when_no_command_was_taken(tmp_path, capfd):
    """A list without the phrase said: the final is the free text, "command" null, and the line says so."""
    other = tmp_path / "other.txt"
    other.write_text("good night\nplay some music\n")
    base = ["listen", "--input", str(SAMPLE), "--fast", "--no-partials", "--keyword-model",
            str(ROOT / "models" / "activate.onnx")]
    assert main([*base, "--json", "--commands", str(other)]) == 0
    finals = [json.loads(x) for x in capfd.readouterr().out.splitlines() if '"final"' in x]
    assert len(finals) == 1 and finals[0]["command"] is None and finals[0]["text"] not in ("good night", "play some music")
    assert main([*base, "--commands", str(other)]) == 0
    assert capfd.readouterr().out.rstrip().endswith(f"heard: {finals[0]['text']} (no command)")
    assert main([*base, "--json"]) == 0          # without a list, no "command" key at all
    assert all("command" not in json.loads(x) for x in capfd.readouterr().out.splitlines())


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists()), reason="shipped models missing")
def test_listen_gives_the_phrase_as_the_list_writes_it(tmp_path, capfd):
    """The text is the words said (normalised: "five", lower case), but "command" and $SPEECHSEQ_COMMAND are the
    line of the list, so that a script can compare them with its own lines ("5", capitals, punctuation)."""
    import sys

    listed = tmp_path / "mine.txt"
    listed.write_text("Set a timer for 5 minutes\nTurn on the KITCHEN lights!\nturn on the kitchen lights\n")
    commands = CommandSet.load(listed)
    assert commands.texts == ("set a timer for five minutes", "turn on the kitchen lights")
    assert commands.phrases == ("Set a timer for 5 minutes", "Turn on the KITCHEN lights!")   # the first of a duplicate
    assert commands.match(_spelling("set a timer for five minutes")).phrase == "Set a timer for 5 minutes"
    seen = tmp_path / "seen.json"
    hook = tmp_path / "hook.py"
    hook.write_text(f"import json, os\nopen({str(seen)!r}, 'w').write(json.dumps(os.environ['SPEECHSEQ_COMMAND']))\n")
    assert main(["listen", "--input", str(SAMPLE), "--fast", "--no-partials", "--json", "--commands", str(listed),
                 "--exec", f"{sys.executable} {hook}"]) == 0
    finals = [json.loads(x) for x in capfd.readouterr().out.splitlines() if '"final"' in x]
    said = ("turn on the kitchen lights", "Turn on the KITCHEN lights!")
    assert [(f["text"], f["command"]) for f in finals] == [said]
    assert json.loads(seen.read_text()) == "Turn on the KITCHEN lights!"


def test_phrases_scored_by_length_come_back_in_the_lists_order():
    """Phrases are scored shortest first (a batch costs as many states as its longest phrase: scripts/bench.py
    --groups commands measures it); the scores come back in the list's order, equal to those of each part alone."""
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(250, 29)) * 4
    lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    short = [list(rng.integers(1, 29, size=20)) for _ in range(600)]
    long = [list(rng.integers(1, 29, size=150)) for _ in range(3)]
    mixed = list(short)
    for k, p in enumerate(long):
        mixed.insert(k * 257, p)
    got = ctc_log_likelihoods(lp, mixed)
    np.testing.assert_allclose(np.delete(got, [k * 257 for k in range(3)]), ctc_log_likelihoods(lp, short), rtol=1e-12)
    np.testing.assert_allclose(got[[k * 257 for k in range(3)]], ctc_log_likelihoods(lp, long), rtol=1e-12)


def test_decode_options_want_a_command_set():
    """A path or a list of phrases given as DecodeOptions.commands is refused where it is given, in words (it was an
    AttributeError at the first decode: 'str' object has no attribute 'match')."""
    from speechseq.runtime.recognizer import DecodeOptions

    for wrong in (str(HOME), HOME, ["yes", "no"]):
        with pytest.raises(ValueError, match=r"commands must be a CommandSet \(CommandSet.load\(path\)"):
            DecodeOptions(commands=wrong)
    assert DecodeOptions(commands=CommandSet(["yes"])).commands.texts == ("yes",)


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists() and HOME.exists()), reason="shipped model missing")
def test_eval_commands_script_counts_right_wrong_rejected(tmp_path):
    """scripts/eval_commands.py on two real clips (the demo's keyword and its command): one row per bound, the
    shares of each row summing to 100 %, the command taken right at the default bound."""
    import subprocess
    import sys

    import soundfile as sf

    from speechseq.audio import load_audio

    audio = load_audio(SAMPLE)
    rows = []
    for name, (a, b), text in (("kw", (0.9, 2.0), "activate"), ("cmd", (2.5, 4.4), "turn on the kitchen lights")):
        sf.write(tmp_path / f"{name}.wav", audio[int(a * 16000) : int(b * 16000)], 16000)
        rows.append(json.dumps({"audio_filepath": f"{name}.wav", "duration": b - a, "text": text}))
    (tmp_path / "m.jsonl").write_text("\n".join(rows) + "\n")
    out = subprocess.run([sys.executable, "scripts/eval_commands.py", "--set", f"demo={tmp_path / 'm.jsonl'}",
                          "--extra", str(HOME), "--decoder", "none", "--deficits", "0", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "demo: 2 utterances (0 unreadable skipped), 29 phrases (2 said, 27 extra)" in out.stdout
    table = {line.split("|")[1].strip(): [float(c.strip(" %")) for c in line.split("|")[2:6]]
             for line in out.stdout.splitlines() if line.startswith("| 0") or line.startswith("| 2")}
    assert table["0"][:3] == [0.0, 0.0, 100.0]                       # a bound of 0 takes nothing
    assert sum(table["2"][:3]) == 100.0 and table["2"][0] >= 50.0


def test_log_probs_over_another_vocabulary_are_refused():
    """log-probs must be over the CTC vocabulary (speechseq.text CTC_SIZE = 29 symbols), as Recognizer.decode asks:
    (T, 10) failed with a bare IndexError ("index 15 is out of bounds"), and (T, 30) was taken, its extra column left
    out of the best path, so that "no" was accepted with a deficit of -4.4 over uniform log-probs."""
    commands = CommandSet(["yes", "no"])
    for shape in ((20, 10), (20, 30), (20,), (0, 30)):
        lp = np.log(np.full(shape, 1 / shape[-1]))
        with pytest.raises(ValueError, match=rf"\(T, 29\).*{re.escape(str(shape))}"):
            commands.match(lp)
        with pytest.raises(ValueError, match=rf"\(T, 29\).*{re.escape(str(shape))}"):
            commands.scores(lp)
    # the forward pass alone takes any width; a token outside it was an IndexError, or (negative) another column
    lp = np.log(np.full((4, 3), 1 / 3))
    for bad in ([3], [1, -1]):
        with pytest.raises(ValueError, match=rf"phrase 2 .*{re.escape(str(bad))}.*3 symbols"):
            ctc_log_likelihoods(lp, [[1], bad])
    assert np.isfinite(ctc_log_likelihoods(lp, [[1], [2, 1]])).all()


def test_a_phrase_scores_the_same_beside_a_much_longer_one():
    """A batch's rows are as long as its longest phrase; a shorter phrase's mass ran on into the padding states
    (blanks) after its own end, whose alignments multiply with the frames left, and its row was scaled to their
    maximum: over 40 s (2,000 frames: `transcribe --max-segment 40`, `listen --max-utterance-s 40`) beside a
    160-character phrase, "stop"'s own states fell below 1e-308 of it, were rounded up as subnormals, and its log P
    came out +80.4 (a probability over 1; -15.7 alone), so that it beat every phrase said."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2000, 29))
    logits[:, BLANK] += 10         # mostly blank, as a trained recogniser's posteriors between words
    lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    stop, long_ = encode("stop"), encode(("set a timer for twenty minutes and remind me to call " * 4)[:160])
    want = _log_domain(lp, stop)
    assert want == pytest.approx(-15.68, abs=0.01)
    assert ctc_log_likelihoods(lp, [stop])[0] == pytest.approx(want, rel=1e-9)
    assert ctc_log_likelihoods(lp, [stop, long_])[0] == pytest.approx(want, rel=1e-9)
    assert ctc_log_likelihoods(lp, [long_, stop, long_[:80]])[1] == pytest.approx(want, rel=1e-9)


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists()), reason="shipped model missing")
def test_an_empty_commands_path_is_one_line_not_free_text(capsys):
    """--commands "$LIST" with the variable unset: transcribe, eval recognizer and listen spelt every utterance freely
    without a word (as if no list were given); an empty path is one line before any work, as --init '' is."""
    for argv in (["transcribe", str(SAMPLE)], ["listen", "--input", str(SAMPLE), "--fast", "--no-partials"],
                 ["eval", "recognizer", "--manifest", str(SAMPLE)]):
        assert main([*argv, "--commands", ""]) == 1, argv
        out, err = capsys.readouterr()
        assert (out, err.splitlines()) == ("", ["speechseq: error: --commands '': an empty path names no command "
                                                "list"]), argv


@pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists()), reason="shipped models missing")
@pytest.mark.parametrize("command", [
    ["transcribe", str(SAMPLE)],
    ["listen", "--input", str(SAMPLE), "--fast", "--no-partials",
     "--keyword-model", str(ROOT / "models" / "activate.onnx")],
    ["eval", "recognizer", "--manifest", "{manifest}", "--model", str(MODEL)],
])
def test_a_command_list_that_cannot_be_read_is_named_with_its_option(command, tmp_path, capsys):
    """'X: no such command list' named no option, where every other missing input of these commands names its own
    ('--model X: ...'); so did the list's other faults. CommandSet.load's own words are the API's, unchanged."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate"}) + "\n")
    argv = [a.format(manifest=manifest) for a in command]
    gone, empty = tmp_path / "gone.txt", tmp_path / "empty.txt"
    empty.write_text("# nothing yet\n")
    for path, said in ((gone, "no such command list"),
                       (tmp_path, "is a folder, not a command list (one phrase a line)"),
                       (empty, "no phrases (one a line; '#' starts a comment)")):
        assert main([*argv, "--commands", str(path)]) == 1
        out, err = capsys.readouterr()
        assert err.strip().splitlines()[-1] == f"speechseq: error: --commands {path}: {said}" and out == ""
    with pytest.raises(SpeechseqError) as exc:
        CommandSet.load(gone)
    assert str(exc.value) == f"{gone}: no such command list"


def test_a_list_knows_its_longest_phrase_in_characters_as_spelt():
    """What bounds how long saying a phrase can take (recognizer.phrase_speech_s): characters as the recogniser spells
    them, numbers written out."""
    assert CommandSet(["stop", "Set a timer for 5 minutes", "go"]).longest == len("set a timer for five minutes") == 28


def _forward_by_rows(lp: np.ndarray, phrases: list[list[int]]) -> np.ndarray:
    """The scaled forward pass as it was written before session 45, one phrase a row (0.24 s CPU for 10,000 phrases
    on the demo's 1.9 s command, where _forward's states-by-rows layout takes 0.13): the same sums in the same order."""
    lengths = np.array([len(p) for p in phrases])
    n_states = 2 * int(lengths.max(initial=0)) + 1
    labels = np.full((len(phrases), n_states), BLANK, np.int64)
    for i, p in enumerate(phrases):
        labels[i, 1 : 2 * len(p) : 2] = p
    skip = np.zeros_like(labels, bool)
    skip[:, 3::2] = (labels[:, 3::2] != labels[:, 1:-2:2]) & (labels[:, 3::2] != BLANK)
    if len(lp) == 0:
        return np.where(lengths == 0, 0.0, -np.inf)
    labels[np.arange(n_states) > 2 * lengths[:, None]] = lp.shape[1]
    probs, hop = np.exp(np.pad(lp, ((0, 0), (0, 1)), constant_values=-np.inf)), skip[:, 2:].astype(np.float64)
    alpha = np.zeros(labels.shape)
    alpha[:, :2] = probs[0, labels[:, :2]]
    log_scale = np.zeros(len(phrases))
    for t in range(len(lp)):
        if t:
            prev = alpha
            alpha = prev.copy()
            alpha[:, 1:] += prev[:, :-1]
            alpha[:, 2:] += hop * prev[:, :-2]
            alpha *= probs[t, labels]
        top = alpha.max(axis=1)
        top[top == 0] = 1.0
        alpha /= top[:, None]
        log_scale += np.log(top)
    last = alpha[np.arange(len(phrases))[:, None], np.stack([2 * lengths, np.maximum(2 * lengths - 1, 0)], 1)]
    last[lengths == 0, 1] = 0.0
    with np.errstate(divide="ignore"):
        return np.log(last.sum(axis=1)) + log_scale


def test_scores_and_matches_are_those_of_the_forward_pass_by_rows():
    """Bit for bit the scores (so the phrase taken, its deficit and the runner-up's) of the forward pass written one
    phrase a row, on random log-probs (sharp and flat, normalised or not, with impossible symbols) and lists of every
    kind: repeated symbols, blanks and the other symbols as tokens, empty phrases, one frame, no frames."""
    rng = np.random.default_rng(45)
    for trial in range(150):
        n_frames = int(rng.choice([0, 1, 2, int(rng.integers(3, 60))]))
        lp = rng.normal(size=(n_frames, 29)) * rng.choice([0.5, 3.0, 12.0])
        if trial % 2:
            lp -= np.logaddexp.reduce(lp, axis=1, keepdims=True)
        if trial % 5 == 0 and n_frames:
            lp[rng.integers(0, n_frames, size=3), rng.integers(0, 29, size=3)] = -np.inf
        low, high = (0, 29) if trial % 7 == 0 else (1, int(rng.choice([3, 29])))
        phrases = [list(rng.integers(low, high, size=int(rng.integers(0 if trial % 3 == 0 else 1, 25))))
                   for _ in range(int(rng.integers(1, 300)))]
        want = _forward_by_rows(lp, phrases)
        assert np.array_equal(ctc_log_likelihoods(lp, phrases), want), trial
    texts = ["turn on the kitchen lights", "turn off the kitchen lights", "stop the music", "good night", "yes", "no"]
    commands = CommandSet(texts)
    for text in texts + ["maybe later"]:
        lp = _spelling(text, sure=float(rng.uniform(0.5, 0.95)))
        best = lp.max(axis=1).sum()
        deficits = (best - _forward_by_rows(lp, [list(t) for t in commands.tokens])) / commands._chars
        m = commands.match(lp)
        order = np.argsort(deficits, kind="stable")
        assert (m.index, m.deficit, m.runner_up) == (order[0], deficits[order[0]], deficits[order[1]]), text


def test_a_large_file_that_is_no_text_is_refused_at_its_first_bytes(tmp_path):
    """A recording (or any large binary file) given as --commands by mistake was read whole into memory before it was
    refused; it is now refused at its first bytes that are no text, and the message names that byte."""
    import subprocess
    import sys

    big = tmp_path / "recording.wav"
    with open(big, "wb") as f:
        f.write(b"RIFF\x00\x00\x00\x00WAVE")
        f.truncate(256 << 20)   # 256 MiB, sparse
    code = ("import resource, sys\n"
            "from speechseq.runtime.command_set import CommandSet\n"
            "from speechseq.errors import SpeechseqError\n"
            "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n"
            "    CommandSet.load(sys.argv[1])\n"
            "except SpeechseqError as err:\n"
            "    print(err)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)\n")
    out = subprocess.run([sys.executable, "-c", code, str(big)], capture_output=True, text=True, check=True,
                         cwd=ROOT).stdout.splitlines()
    assert out[0] == f"{big}: not a text file of phrases (not a UTF-8 text file (byte 4: 0x00))", out
    assert int(out[1]) < 64 * 1024, out    # KiB more at its peak than before the load: far less than the file
