"""The usage examples at the top of the runtime modules, run as they are written there (their code is read from the
docstring and executed from the checkout's root, with the shipped models and data/samples/activate_kitchen_lights.wav),
and what they return checked: names, shapes, times in seconds, the keyword and the command heard.

The sample: 1 s of silence, "activate" (ends near 1.68 s), "turn on the kitchen lights" (about 2.68-4.08 s), 1 s of
silence (tests/listener_fixtures.py). An example's placeholders (`audio`, `chunks`, `log_probs`, ...) are given as
values; a file name it only stands for ("talk.flac") is replaced by the sample's path.
"""
from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
SR = 16000
DURATION_S = 82640 / SR              # the sample's length: 5.165 s
KEYWORD_END_S = 1.68
COMMAND = "turn on the kitchen lights"
COMMAND_SPAN_S = (2.6, 4.15)


def example(module, first: str, doc: str | None = None) -> str:
    """The indented code block of `module`'s docstring (or `doc`) that starts at the line containing `first`."""
    lines = (doc if doc is not None else module.__doc__).splitlines()
    start = next(i for i, line in enumerate(lines) if first in line)
    block = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block))


def run_example(module, first: str, names: dict, doc: str | None = None, swap: dict[str, str] | None = None) -> dict:
    """Execute an example from the checkout's root with the module's public names and `names`; its namespace after."""
    code = example(module, first, doc)
    for old, new in (swap or {}).items():
        assert old in code, f"the example no longer says {old!r}"
        code = code.replace(old, new)
    ns = {name: getattr(module, name) for name in getattr(module, "__all__", ())}
    ns.update(names)
    with _at_root():
        exec(compile(code, f"<{module.__name__} docstring>", "exec"), ns)
    return ns


@contextlib.contextmanager
def _at_root():
    """In the checkout's root, where the examples' paths ("models/...") are (contextlib.chdir: Python 3.11 on)."""
    before = os.getcwd()
    os.chdir(ROOT)
    try:
        yield
    finally:
        os.chdir(before)


@functools.cache
def _audio() -> np.ndarray:
    from speechseq.audio import load_audio

    return load_audio(SAMPLE)


@functools.cache
def _command_outputs() -> tuple[np.ndarray, np.ndarray]:
    """The fp32 recogniser's (log_probs (T', 29), encoder outputs (T', 512)) over the command, from 2.4 s on."""
    from speechseq.frontend import logmel
    from speechseq.runtime.recognizer import Recognizer
    from speechseq.runtime.text_decoder import encoder_run

    rec = Recognizer(ROOT / "models" / "recognizer-en.onnx")
    return encoder_run(rec.session, logmel(_audio()[int(2.4 * SR):], rec.frontend))


def _words_in_seconds(words, lo: float, hi: float) -> None:
    """Word times are seconds (not frames or samples), in order, inside [lo, hi]."""
    assert words
    for w in words:
        assert lo <= w.start < w.end <= hi + 1e-6, w
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))


# -- speechseq.runtime.recognizer ---------------------------------------------------------------------------------

def test_recognizer_example():
    from speechseq.runtime import recognizer
    from speechseq.runtime.command_set import CommandMatch, CommandSet
    from speechseq.runtime.lexicon import load_lexicon

    ns = run_example(recognizer, "rec = Recognizer(",
                     {"audio": _audio(), "load_lexicon": load_lexicon, "CommandSet": CommandSet},
                     swap={'"talk.flac"': repr(str(SAMPLE))})
    # the last line's result: the whole sample (keyword and command) against the command list
    result = ns["result"]
    assert isinstance(result.command, CommandMatch) and result.command.text == COMMAND
    assert result.command.accepted == (result.command.deficit <= 2.0)
    assert result.text and result.words and len(result.hypotheses) == 1
    _words_in_seconds(result.words, 1.0, DURATION_S)
    # "turn" (the command's first word) starts near 2.68 s: seconds from the utterance's start
    assert any(abs(w.start - 2.68) < 0.15 for w in result.words), result.words
    t = ns["t"]   # the lexicon search over the file
    assert t.duration == DURATION_S and len(t.segments) == 1 and (t.segments[0].start, t.segments[0].end) == (0.0,
                                                                                                             DURATION_S)
    assert "on the" in t.text and t.text == t.segments[0].text
    _words_in_seconds(t.words, 1.0, DURATION_S)
    on = next(w for w in t.words if w.word == "on")
    assert COMMAND_SPAN_S[0] < on.start < COMMAND_SPAN_S[1]


def test_recognizer_example_beam_agrees_with_recognize():
    """The example's transcribe_file with a beam of 8 over a file that is one segment: recognize's text and times."""
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer

    rec = Recognizer(ROOT / "models" / "recognizer-en.onnx")
    opts = DecodeOptions(decoder="beam", beam_size=8)
    t = rec.transcribe_file(SAMPLE, opts)
    r = rec.recognize(_audio(), opts)
    assert t.text == r.text != ""
    assert [(w.word, round(w.start, 3), round(w.end, 3)) for w in t.words] == [
        (w.word, round(w.start, 3), round(w.end, 3)) for w in r.words]


# -- speechseq.runtime.command_set ----------------------------------------------------------------------------------

def test_command_set_example(capsys):
    from speechseq.runtime import command_set

    ns = run_example(command_set, "commands = CommandSet.load(", {"log_probs": _command_outputs()[0]})
    match = ns["match"]
    assert len(ns["commands"]) == 28
    assert (match.text, match.phrase, match.index, match.accepted) == (COMMAND, COMMAND, 0, True)
    assert 0.0 <= match.deficit < 1.0 < match.runner_up   # "turn off the kitchen lights" far behind
    assert capsys.readouterr().out == COMMAND + "\n"


# -- speechseq.runtime.detector -------------------------------------------------------------------------------------

def test_detector_example_hears_activate_once_at_any_chunk_size():
    from speechseq.runtime import detector

    audio = _audio()
    got = []
    for n in (1600, 1234, len(audio)):
        ns = run_example(detector, "det = Detector.load(",
                         {"chunks": [audio[i:i + n] for i in range(0, len(audio), n)]})
        assert ns["det"].keywords == ["activate", "computer"]
        got.append(ns["events"])
    assert got[0] == got[1] == got[2]
    (event,) = got[0]
    assert event.keyword == "activate" and event.score >= ns["det"].thresholds[0]
    assert abs(event.end - KEYWORD_END_S) < 0.15 and 0.3 < event.end - event.start < 1.0
    assert event.end < event.time < event.end + 0.6   # emitted at the posterior's peak, after the keyword


# -- speechseq.runtime.listener -------------------------------------------------------------------------------------

def test_listener_example_wakes_and_transcribes_the_command():
    """The example runs `speechseq listen`'s listener (load_listener) over the file: its events are the command's
    (`listen --input FILE --fast --json`, run here), the final's text and word times included. A greedy Transcriber
    there once wrote "ern on the cictan life" where the command wrote its lexicon search's text."""
    import json

    from speechseq.runtime import listener
    from speechseq.runtime.events import FinalEvent, PartialEvent, WakeEvent

    from .cli_run import run

    ns = run_example(listener, "import speechseq", {}, swap={'"talk.wav"': repr(str(SAMPLE))})
    seen, source = ns["events"], ns["source"]
    assert abs(source.time - (DURATION_S + 1.0)) < 1e-9   # the file and FileStream's 1 s of trailing silence
    wakes = [e for e in seen if isinstance(e, WakeEvent)]
    finals = [e for e in seen if isinstance(e, FinalEvent)]
    partials = [e for e in seen if isinstance(e, PartialEvent)]
    assert [w.keyword for w in wakes] == ["activate"] and len(finals) == 1
    wake, final = wakes[0], finals[0]
    assert abs(wake.keyword_end - KEYWORD_END_S) < 0.15 and wake.keyword_end < wake.time < 2.5
    assert partials and all(wake.time < p.time < final.time for p in partials)   # listen's "final" partials
    assert final.text and wake.keyword_end <= final.start < COMMAND_SPAN_S[0]
    assert COMMAND_SPAN_S[1] - 0.1 < final.speech_end < final.end <= final.time <= DURATION_S + 1.0
    _words_in_seconds(final.words, COMMAND_SPAN_S[0] - 0.1, final.end)   # stream times, in the command
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--json")
    assert code == 0, err
    cli = [json.loads(line) for line in out.splitlines()]
    assert [e.to_dict() for e in seen] == cli   # every event, as the command prints it
    (cli_final,) = [e for e in cli if e["event"] == "final"]
    assert final.text == cli_final["text"] and [w.word for w in final.words] == [w["word"] for w in cli_final["words"]]


# -- speechseq.runtime.streaming_recognizer -------------------------------------------------------------------------

def test_streaming_recognizer_example_ends_with_the_whole_utterance(capsys):
    from speechseq.frontend import StreamingFrontend
    from speechseq.runtime import streaming_recognizer
    from speechseq.runtime.decoding import greedy

    frontend = StreamingFrontend(streaming_recognizer.StreamingRecognizer(
        ROOT / "models" / "recognizer-en.stream.onnx").frontend)
    audio, state, frames = _audio()[int(2.4 * SR):], frontend.initial_state(), []
    for i in range(0, len(audio), 1600):   # 100 ms blocks, as a microphone gives them
        feats, state = frontend.step(audio[i:i + 1600], state)
        frames.append(feats)
    ns = run_example(streaming_recognizer, "rec = StreamingRecognizer(", {"frames": frames})
    rec, log_probs = ns["rec"], ns["log_probs"]
    assert (rec.chunk_s, rec.lookahead_s) == (0.4, 0.2)
    n_frames = sum(len(f) for f in frames)
    assert log_probs.shape == (rec.total_steps(n_frames), 29) == (-(-n_frames // 2), 29)
    np.testing.assert_allclose(np.exp(log_probs).sum(axis=1), 1.0, atol=1e-4)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(frames) and printed[0] == "" and printed[-1] != ""   # text grows as chunks run
    state = ns["state"]
    assert state.steps > 0 and np.array_equal(log_probs[: state.steps], state.committed)   # final chunks stay final
    words = greedy(log_probs).text.split()
    assert len(words) >= 3 and words[-1].startswith("li")   # "... lights"
    # "When the look-ahead covers the whole utterance the result equals the offline model's"
    ns = run_example(streaming_recognizer, "rec = StreamingRecognizer(", {"frames": frames},
                     swap={"lookahead_s=0.2": "lookahead_s=10.0"})
    np.testing.assert_allclose(ns["log_probs"], _command_outputs()[0], atol=1e-4)


# -- speechseq.runtime.vad, speechseq.runtime.speech_regions, speechseq.runtime.takes -------------------------------

def test_vad_example_gives_one_probability_per_32_ms_frame():
    from speechseq.runtime import vad

    audio = _audio()
    ns = run_example(vad, "vad = load_vad()", {"chunk": audio})
    probs = ns["probs"]
    assert probs.shape == (len(audio) // 512,) == (161,) and ns["vad"].frame_s == 0.032
    speech = np.flatnonzero(probs >= 0.5) * ns["vad"].frame_s
    assert 0.9 < speech[0] < 1.3 and COMMAND_SPAN_S[1] - 0.2 < speech[-1] < COMMAND_SPAN_S[1] + 0.4
    assert probs[: int(0.9 / 0.032)].max() < 0.5   # the leading second of silence


def test_speech_regions_example_finds_the_keyword_and_the_command():
    from speechseq.runtime.speech_regions import speech_probabilities, speech_regions
    from speechseq.runtime.vad import load_vad

    vad, audio = load_vad(), _audio()
    probs = speech_probabilities(vad, audio)   # the module docstring's first line, then its loop
    regions = [(a / SR, b / SR) for a, b in speech_regions(probs, vad.frame_s, len(audio))]
    assert len(regions) == 2, regions
    (k0, k1), (c0, c1) = regions
    assert k0 < 1.2 and KEYWORD_END_S < k1 < c0 < COMMAND_SPAN_S[0] and COMMAND_SPAN_S[1] < c1 < DURATION_S


def test_takes_example_cuts_one_clip_per_utterance():
    from speechseq.runtime import takes
    from speechseq.runtime.vad import load_vad

    vad = load_vad()
    audio = np.concatenate([_audio(), np.zeros(SR, np.float32)])
    vad_state, got = vad.initial_state(), []
    ns = {}
    for i in range(0, len(audio), 1600):
        chunk = audio[i:i + 1600]
        probs, vad_state = vad.step(chunk, vad_state)
        names = {"chunk": chunk, "probs": probs, **({"cutter": ns["cutter"], "state": ns["state"]} if ns else {})}
        code = example(takes, "cutter = TakeCutter(")
        if ns:   # the example's first two lines once, its step for every chunk
            code = code[code.index("takes, state = cutter.step("):]
        ns = {name: getattr(takes, name) for name in takes.__all__} | names
        with _at_root():
            exec(compile(code, "<speechseq.runtime.takes docstring>", "exec"), ns)
        got += ns["takes"]
    assert len(got) == 2 and all(t.problem is None for t in got)
    (k, c) = got
    assert k.start < 1.3 and abs(k.end - KEYWORD_END_S) < 0.2 and COMMAND_SPAN_S[0] < c.start < c.end < 4.4
    assert abs(len(c.audio) / SR - (c.end - c.start + 2 * 0.2)) < 0.01   # padded by pad_s on both sides


# -- speechseq.frontend, speechseq.samples, speechseq.sources ------------------------------------------------------

def test_streaming_frontend_example_gives_the_whole_clips_frames():
    from speechseq import frontend

    audio = _audio()
    whole = frontend.logmel(audio)
    assert whole.shape == (1 + (len(audio) - 400) // 160, 40) == (515, 40)
    state, parts = None, []
    for i in range(0, len(audio), 1234):
        names = {"cfg": frontend.FrontendConfig(), "chunk": audio[i:i + 1234]}
        doc = frontend.StreamingFrontend.__doc__
        if state is None:
            ns = run_example(frontend, "fe = StreamingFrontend(cfg)", names, doc=doc)
        else:   # its step line, carrying the state
            ns = run_example(frontend, "feats, state = fe.step(", {**names, "fe": ns["fe"], "state": state}, doc=doc)
        state = ns["state"]
        parts.append(ns["feats"])
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


def test_samples_example_mixes_and_resamples():
    from speechseq import samples

    audio = _audio()[:44100]
    stereo = np.stack([np.round(audio * 32767), np.round(audio * 32767)], axis=1).astype(np.int16)
    ns = run_example(samples, "mono = to_mono(int16_block)", {"int16_block": stereo})
    assert ns["mono"].dtype == np.float32 and ns["mono"].shape == (44100,)
    np.testing.assert_allclose(ns["mono"], audio, atol=2 / 32768)   # full scale 1.0, not 32768
    assert ns["x"].dtype == np.float32 and ns["x"].shape == (16000,)   # 1 s at 44.1 kHz -> 16 kHz


def test_file_stream_delivers_the_file_then_a_second_of_silence():
    """The sources example's FileStream (the Microphone needs a device): (N,) float32 blocks at 16 kHz, no Overrun."""
    from speechseq.sources import FileStream, Overrun

    audio = _audio()
    with FileStream(SAMPLE, realtime=False) as src:
        items = list(src.blocks())
    assert not any(isinstance(i, Overrun) for i in items)
    assert {b.dtype for b in items} == {np.dtype(np.float32)} and {b.ndim for b in items} == {1}
    x = np.concatenate(items)
    assert len(x) == len(audio) + SR and abs(src.time - (DURATION_S + 1.0)) < 1e-9
    np.testing.assert_array_equal(x[: len(audio)], audio)
    assert not x[len(audio):].any()


# -- speechseq.runtime.lexicon, lexicon_search, lm, attention, text_decoder ----------------------------------------

def test_lexicon_example():
    from speechseq.runtime import lexicon

    ns = run_example(lexicon, "lex = load_lexicon(", {"encode": lexicon.encode})   # speechseq.text's
    lex, node = ns["lex"], ns["node"]
    assert node > 0 and lex.trie.depth[node] == 4 and lex.trie.word_at("house") >= 3
    assert lex.trie.walk(lexicon.encode("hqz")) == -1
    lm = lex.lm
    the = lm.id("the")
    assert lm.id("zzzqx") == lexicon.UNK_WORD and lm.id("cat") >= 3 and the >= 3
    p = np.exp(lm.next_logprobs(the, lexicon.BOS))
    assert abs(p[1:].sum() - 1.0) < 1e-6        # sums to 1 over every id but <s>, in natural log
    assert lm.logp(lm.id("cat"), h1=the, h2=lexicon.BOS) == lm.logp(lm.id("cat"), the, lexicon.BOS) < 0


def test_lexicon_search_example():
    from speechseq.runtime import lexicon_search
    from speechseq.runtime.lexicon import load_lexicon

    ns = run_example(lexicon_search, "lex = load_lexicon(", {"load_lexicon": load_lexicon,
                                                              "log_probs": _command_outputs()[0]})
    hyps = ns["hyps"]
    assert 1 < len(hyps) <= 8 and [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert hyps[0].text.split()[1:3] == ["on", "the"]
    assert all(w == "" or ns["lex"].trie.word_at(w) >= 0 for w in hyps[0].text.split()[:-1])   # lexicon words


def test_lm_example():
    from speechseq.runtime import lm as lm_module
    from speechseq.runtime.decoding import prefix_beam_search

    ns = run_example(lm_module, 'lm = OnnxLM("models/lm-en.onnx")',
                     {"np": np, "prefix_beam_search": prefix_beam_search, "log_probs": _command_outputs()[0]})
    lm, hyps = ns["lm"], ns["hyps"]
    assert len(hyps) == 8 and hyps[0].lm_score < 0 and hyps[0].score == max(h.score for h in hyps)
    assert -60 < lm.score("the cat sat") < lm.score("the cat sat") + 1 and lm.score("the cat sat") > lm.score(
        "tha cta sta") + 10   # natural log of P(text <eos>): English far above letter salad
    text = lm_module.sample(lm, np.random.default_rng(0), temperature=0.8, prefix="the ")
    assert text.startswith("the ") and len(text) > 10 and set(text) <= set(" abcdefghijklmnopqrstuvwxyz'")


def test_attention_example():
    from speechseq.runtime import attention
    from speechseq.runtime.decoding import attention_beam_search, prefix_beam_search
    from speechseq.runtime.lm import OnnxLM

    log_probs, memory = _command_outputs()
    ns = run_example(attention, 'dec = OnnxDecoder("models/decoder-en.onnx")',
                     {"memory": memory, "log_probs": log_probs, "lm": OnnxLM(ROOT / "models" / "lm-en.onnx"),
                      "attention_beam_search": attention_beam_search, "prefix_beam_search": prefix_beam_search})
    best, nbest, top = ns["best"], ns["nbest"], ns["top"]
    assert memory.shape == (len(log_probs), ns["dec"].enc_dim) == (len(log_probs), 512)
    assert best.finished and best.text.split()[-1] == "lights"
    assert best.score == best.log_prob / (len(best.tokens) + 1) ** 0.7   # length-normalised
    assert len(nbest) == 8 and top.text in [h.text for h in nbest] and top.ctc_score <= 0 and top.lm_score < 0


def test_text_decoder_example():
    from speechseq.runtime import text_decoder

    log_probs, memory = _command_outputs()
    ns = run_example(text_decoder, "dec = TextDecoder(", {"log_probs": log_probs, "memory": memory})
    hyp = ns["hyp"]
    assert ns["dec"].opts.kind == "beam-lm" and hyp.text.split()[1:3] == ["on", "the"] and hyp.lm_score < 0
    assert hyp.score == hyp.ctc_score + 0.8 * hyp.lm_score + 1.0 * len(hyp.tokens)


# -- detector graphs ------------------------------------------------------------------------------------------------

def test_detector_graph_examples_compute_what_the_file_does():
    import onnx
    import onnxruntime as ort

    from speechseq.runtime import conv_blocks, conv_taps, detector_graph, graph_merge, one_stream
    from speechseq.runtime.onnx import make_session

    rng = np.random.default_rng(0)
    feats = (rng.standard_normal((1, 12, 40)) - 6.0).astype(np.float32)
    ctx = np.full((1, 105, 40), np.log(1e-5), np.float32)
    hidden = np.zeros((2, 1, 112), np.float32)
    want = ort.InferenceSession(str(ROOT / "models" / "activate.onnx")).run(
        None, {"features": feats, "context": ctx, "hidden": hidden})[0]

    def probs(model, taps=()):
        feed = {"features": feats, "context": ctx, "hidden": hidden,
                **{t.name: t.matrix(feats.shape[1]) for t in taps}}
        return make_session(model.SerializeToString()).run(None, feed)[0]

    ns = run_example(conv_blocks, "model = conv_as_matmul(", {"onnx": onnx})
    np.testing.assert_allclose(probs(ns["model"]), want, atol=1e-5)
    ns = run_example(conv_taps, "model, taps = conv_as_taps(", {"onnx": onnx, "feed": {}, "t": 12})
    assert [t.name for t in ns["taps"]] == ["taps"] and ns["feed"]["taps"].shape == (12 // 4 * 9, 105 + 12)
    np.testing.assert_allclose(probs(ns["model"], ns["taps"]), want, atol=1e-5)
    ns = run_example(one_stream, "model = one_stream(", {"onnx": onnx, "conv_as_taps": conv_taps.conv_as_taps})
    np.testing.assert_allclose(probs(ns["model"], ns["taps"] if "taps" in ns else conv_taps.conv_as_taps(
        onnx.load(ROOT / "models" / "activate.onnx"), context=105)[1]), want, atol=1e-5)
    ns = run_example(detector_graph, "graph, taps = load_graph(", {})
    assert isinstance(ns["graph"], onnx.ModelProto)
    np.testing.assert_allclose(probs(ns["graph"], ns["taps"]), want, atol=1e-5)
    ns = run_example(graph_merge, "merged = merge_side_by_side(",
                     {"onnx": onnx, "make_session": make_session,
                      "paths": ["models/activate.onnx", "models/computer.onnx"]})
    session = ns["session"]
    assert [i.name for i in session.get_inputs()] == ["features", "m0.context", "m0.hidden", "m1.context",
                                                      "m1.hidden"]
    out = session.run(None, {"features": feats, "m0.context": ctx, "m0.hidden": hidden, "m1.context": ctx,
                             "m1.hidden": hidden})
    np.testing.assert_allclose(out[0], want, atol=1e-5)   # model 0's probabilities, as the file computes them


# -- speechseq.runtime.posteriors ----------------------------------------------------------------------------------

def test_posteriors_example_on_a_one_row_manifest(tmp_path):
    import json

    from speechseq.runtime import posteriors

    manifest = tmp_path / "manifest.jsonl"
    row = {"audio_filepath": str(SAMPLE), "duration": DURATION_S, "text": "activate " + COMMAND, "split": "dev"}
    manifest.write_text(json.dumps(row) + "\n")
    ns = run_example(posteriors, "outs = manifest_outputs(", {},
                     swap={'"../shared/data/kathleen/manifest.jsonl"': repr(str(manifest))})
    (u,) = ns["outs"]
    assert (u.key, u.text, u.duration) == (str(SAMPLE), "activate " + COMMAND, DURATION_S)
    assert u.log_probs.shape == (258, 29) and u.memory.shape == (258, 512) and u.seconds > 0   # 515 frames / 2


# -- without torch ------------------------------------------------------------------------------------------------

def test_the_main_examples_run_without_torch():
    """The runtime is for machines without torch: the recogniser, detector and listener examples with it blocked."""
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None   # `import torch` raises ImportError
        sys.path.insert(0, {str(ROOT)!r})
        import tests.test_api_examples as t
        t.test_recognizer_example()
        t.test_detector_example_hears_activate_once_at_any_chunk_size()
        t.test_listener_example_wakes_and_transcribes_the_command()
        assert sys.modules["torch"] is None
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0 and r.stdout.endswith("ok\n"), r.stderr[-2000:]
