"""The streaming trigger: smoothing, one event per utterance, no flood, and the eval's event
counting (`trigger_events` on a whole posterior) equal to what the stream emits."""
from pathlib import Path

import numpy as np
import pytest

from speechseq.runtime.detector import smooth, trigger_events

ROOT = Path(__file__).resolve().parents[1]


def test_smooth_is_a_causal_moving_average():
    p = np.array([0.0, 1.0, 1.0, 1.0, 0.0, 0.0], np.float32)
    assert np.allclose(smooth(p, 3), [0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3])
    assert np.allclose(smooth(p, 1), p)


def test_smooth_of_a_long_stream_keeps_its_small_values():
    """Each window is summed on its own, left to right (as the stream sums it): a long run of large values
    before small ones costs the small ones no precision (running totals' differences did, by up to 5e-6)."""
    rng = np.random.default_rng(4)
    p = np.concatenate([rng.uniform(0.5, 1.0, 100_000), rng.uniform(1e-6, 1e-5, 1000)]).astype(np.float32)
    tail = [float(v) for v in p[-1002:]]
    want = np.array([(tail[j] + tail[j + 1] + tail[j + 2]) / 3 for j in range(1000)], np.float32)
    np.testing.assert_array_equal(smooth(p, 3)[-1000:], want)


def test_trigger_gives_one_event_per_run_and_respects_refractory():
    p = np.zeros(200, np.float32)
    p[10:20] = [0.6, 0.8, 0.9, 0.95, 0.9, 0.7, 0.6, 0.6, 0.6, 0.6]   # one utterance: one event at its peak
    p[30:33] = 0.9                                                      # inside the refractory time: none
    p[100:200] = 0.99                                                   # stuck high: one event, not a flood
    ev = trigger_events(p, 0.5, refractory_steps=25, max_wait_steps=5)
    assert [(s, e) for s, e, _ in ev] == [(10, 14), (100, 105)]
    assert ev[0][2] == pytest.approx(0.95)
    assert trigger_events(p, 0.5, refractory_steps=5, max_wait_steps=5)[1][0] == 30


def test_no_wait_emits_at_the_crossing_with_its_value():
    p = np.zeros(200, np.float32)
    p[10:20] = [0.6, 0.8, 0.9, 0.95, 0.9, 0.7, 0.6, 0.6, 0.6, 0.6]
    p[100:200] = 0.99
    ev = trigger_events(p, 0.5, refractory_steps=25, max_wait_steps=0)
    assert [(s, e) for s, e, _ in ev] == [(10, 10), (100, 100)]
    assert ev[0][2] == pytest.approx(0.6)


class LoudnessModel:
    """A stand-in keyword model (same interface as KeywordModel): the posterior follows loudness."""

    def __init__(self) -> None:
        from speechseq.frontend import FrontendConfig

        self.path, self.keyword, self.threshold = "stub", "kw", 0.5
        self.stride, self.frontend, self.n_mels = 4, FrontendConfig(), 40
        self.step_s, self.smoothing_steps, self.refractory_s = 0.04, 2, 0.2
        self.keyword_duration_s, self.end_offset_s = 0.5, 0.0

    def initial_state(self):
        return np.zeros((1, 5, 40), np.float32), np.zeros((1, 1, 4), np.float32)

    def open(self):  # nothing to load
        return None

    def run(self, feats, ctx, h):
        level = feats.reshape(-1, self.stride, self.n_mels).mean(axis=(1, 2))
        return (1 / (1 + np.exp(-(level + 4.0)))).astype(np.float32), ctx, h


def _model(tmp_path):
    from speechseq.runtime.detector import Detector

    return Detector([LoudnessModel()])


def _streamed(det, audio: np.ndarray, chunk: int) -> tuple[list, np.ndarray]:
    """The events (flushed at the end) and smoothed posterior of one keyword's fresh stream in `chunk`-sample chunks."""
    state, events, post = det.initial_state(), [], [[]]
    for i in range(0, len(audio), chunk):
        got, state = det.step(audio[i: i + chunk], state, post)
        events += got
    return events + det.flush(state), np.concatenate(post[0])


@pytest.mark.parametrize("wait_s", [0.0, 0.2])
def test_stream_events_equal_whole_posterior_events(tmp_path, wait_s):
    from speechseq.runtime.detector import Detector

    det = Detector([LoudnessModel()], max_wait_s=wait_s)
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(16000 * 20) * np.repeat(rng.random(200) > 0.5, 1600)).astype(np.float32)
    events, p = _streamed(det, audio, 1600)
    expected = trigger_events(p, 0.5, det.refractory[0], det.max_wait[0], det.settle[0])
    assert len(events) >= 3
    assert [round(e.score, 5) for e in events] == [round(s, 5) for _, _, s in expected]
    step = det.models[0].step_s
    if wait_s == 0:
        assert all(s == emit for s, emit, _ in expected)
    for e, (s, emit, _) in zip(events, expected):
        assert e.time == pytest.approx(((4 * (emit + 1) - 1) * 160 + 400) / 16000)
        assert e.start < e.end <= e.time and e.end <= ((4 * (s + 1) - 1) * 160 + 400) / 16000 + step


@pytest.mark.parametrize("wait_s", [0.0, 0.2])
def test_no_event_starts_while_the_output_settles(wait_s):
    """A run above the threshold from a stream's first step starts where the settling steps end, in the stream and
    in trigger_events alike; later runs are untouched."""
    from speechseq.runtime.detector import SETTLE_S, Detector

    det = Detector([LoudnessModel()], max_wait_s=wait_s, smoothing_steps=1)
    settle = det.settle[0]
    assert settle == round(SETTLE_S / det.models[0].step_s) == 8
    loud = np.repeat([1, 0, 1, 0], [16000, 24000, 8000, 24000])           # loud from the start, and once more later
    audio = (0.3 * np.random.default_rng(1).standard_normal(len(loud)) * loud).astype(np.float32)
    events, p = _streamed(det, audio, 1280)
    assert p[0] >= 0.5 and p[:settle + 1].min() >= 0.5                  # above the threshold through the settling
    expected = trigger_events(p, 0.5, det.refractory[0], det.max_wait[0], settle)
    assert [s for s, _, _ in expected][0] == settle and len(expected) == len(events) == 2
    assert [round(e.score, 5) for e in events] == [round(sc, 5) for _, _, sc in expected]
    assert trigger_events(p, 0.5, det.refractory[0], det.max_wait[0])[0][0] == 0      # without settling: step 0


def test_silence_gives_no_event_at_a_low_threshold():
    """From the zero state over digital silence the shipped models' posteriors rise to about 0.35 at 80 ms, then
    fall: at a threshold under that, every file (silence too) had an event at 0.0 s."""
    from speechseq.commands.eval_detector import peak_scores
    from speechseq.runtime.detector import Detector

    det = Detector.load([ROOT / "models" / "activate.onnx", ROOT / "models" / "computer.onnx"], threshold=0.2)
    silence = np.zeros(16000 * 3, np.float32)
    post = [[], []]
    events, state = det.step(silence, det.initial_state(), post)
    assert max(np.concatenate(p)[:det.settle[0]].max() for p in post) > 0.3           # the settling itself
    assert events + det.flush(state) == []
    assert max(peak_scores(det, silence)) < 0.05                                       # as eval detector scores it


def test_an_events_end_is_where_the_keyword_its_labels_follow_ended(tmp_path):
    """Training labels start at the step whose frames hold the keyword's last sample (augment.label_vector); an
    event whose posterior run starts there (no smoothing, no learnt offset) puts the keyword's end within half a
    step of the true end, for every end sample (it was the end of that step's last window: 15-55 ms late)."""
    from speechseq.runtime.detector import Detector
    from speechseq.train.augment import end_frame, label_vector

    stub = LoudnessModel()
    stub.smoothing_steps = 1  # a model validated without smoothing, run so
    det = Detector([stub])
    m = det.models[0]
    half_step = m.stride * 160 / 16000 / 2
    errors = []
    for end_sample in range(16000, 16000 + 4 * 160 * 3):          # three steps' worth of keyword ends
        labels = label_vector(200, [end_frame(end_sample)], m.stride, 10)
        start_step = int(np.flatnonzero(labels)[0])
        errors.append(det._event(0, start_step, 0.9, start_step + 2).end - end_sample / 16000)
    assert max(abs(e) for e in errors) <= half_step + 1e-9 and abs(np.mean(errors)) < 1e-3


@pytest.mark.parametrize("steps", [2, 3, 5])
def test_streamed_smoothing_is_smooth_of_the_whole_posterior(steps):
    """In chunks of any size, the stream's smoothed posteriors are exactly `smooth` of its raw ones (float32)."""
    from speechseq.runtime.detector import Detector

    rng = np.random.default_rng(2)
    audio = (0.3 * rng.standard_normal(16000 * 6) * np.repeat(rng.random(60) > 0.5, 1600)).astype(np.float32)

    def posteriors(smoothing: int) -> np.ndarray:
        det = Detector([LoudnessModel()], smoothing_steps=smoothing)
        state, post, i = det.initial_state(), [[]], 0
        for n in rng.integers(100, 4000, size=200):
            _, state = det.step(audio[i: i + n], state, post)
            i += n
        return np.concatenate(post[0])

    raw, smoothed = posteriors(1), posteriors(steps)
    assert len(raw) == len(smoothed) > 100 and smoothed.dtype == np.float32 and 0.1 < raw.mean() < 0.9
    np.testing.assert_array_equal(smoothed, smooth(raw, steps))


def test_non_finite_samples_count_as_their_finite_stand_ins():
    """NaN, +-inf and samples that overflow the frontend's power, also in chunks shorter than a frame, give the
    posteriors of the same stream with them as speechseq.audio.finite_samples makes them (0, +-1, clipped to
    +-1e15), all finite, and the floor guard's state stays finite (3e38 made it NaN for good before)."""
    from speechseq.audio import finite_samples
    from speechseq.runtime.detector import Detector

    rng = np.random.default_rng(3)
    audio = (0.3 * rng.standard_normal(16000 * 4) * np.repeat(rng.random(40) > 0.5, 1600)).astype(np.float32)
    bad = audio.copy()
    bad[[100, 7000, 7001, 20050, 33333, 45000]] = [np.nan, np.inf, -np.inf, np.nan, np.inf, -3e38]
    cuts = [0, 90, 150, 6990, 7010, 20000, 20100, 33000, 33400, 44990, 45010, len(audio)]  # short chunks around them

    def posteriors(x: np.ndarray) -> np.ndarray:
        det = Detector([LoudnessModel()])
        state, post = det.initial_state(), [[]]
        for a, b in zip(cuts[:-1], cuts[1:]):
            for i in range(a, b, 1280):
                _, state = det.step(x[i: min(i + 1280, b)], state, post)
        assert np.isfinite(state.level)
        return np.concatenate(post[0])

    with np.errstate(invalid="ignore", over="ignore"):  # an infinity's first pass warns, as numpy does
        got = posteriors(bad)
    assert np.isfinite(got).all() and len(got) > 90
    np.testing.assert_array_equal(got, posteriors(finite_samples(bad)))


def test_bad_input_no_crash_no_flood(tmp_path):
    det = _model(tmp_path)
    n = 16000 * 30
    rng = np.random.default_rng(1)
    cases = {"silence": np.zeros(n), "clipping": np.clip(3 * rng.standard_normal(n), -1, 1),
             "dc": np.full(n, 0.7), "loud noise": rng.standard_normal(n), "nan": np.full(n, np.nan)}
    for name, audio in cases.items():
        state, events = det.initial_state(), []
        for i in range(0, n, 1600):
            got, state = det.step(audio[i: i + 1600].astype(np.float32), state)
            events += got
        # refractory 0.2 s and re-arming below threshold: at most a few events in 30 s
        assert len(events) <= 30 * 2, name
        assert len(state.frontend.pending) < 560 and all(len(k.pending) < 4 for k in state.keywords)


def test_merged_graph_equals_one_session_per_model():
    """Two shipped keyword models (plus a copy of one) as one merged onnxruntime graph: the same
    posteriors and events as separate sessions, streamed in uneven chunks, with one call per chunk."""
    from pathlib import Path

    from speechseq.audio import load_audio
    from speechseq.runtime.detector import Detector

    root = Path(__file__).resolve().parents[1]
    paths = [root / "models" / "activate.onnx", root / "models" / "computer.onnx", root / "models" / "activate.onnx"]
    audio = np.concatenate([load_audio(root / "data" / "samples" / "activate_kitchen_lights.wav")] * 2)
    runs = {}
    for merge in (True, False):
        det = Detector.load(paths, merge=merge)
        assert (det._merged is not None) == merge
        assert [m._session is None for m in det.models] == [merge] * 3  # merged: no session of its own made
        rng = np.random.default_rng(1)
        state, events, post, i = det.initial_state(), [], [[] for _ in paths], 0
        while i < len(audio):
            n = int(rng.integers(1, 3000))
            got, state = det.step(audio[i: i + n], state, post)
            events += got
            i += n
        events += det.flush(state)
        runs[merge] = ([np.concatenate(p) for p in post], events)
    (pm, em), (ps, es) = runs[True], runs[False]
    for a, b in zip(pm, ps):
        assert a.shape == b.shape and len(a) > 200
        assert np.abs(a - b).max() <= 1e-6
    assert np.abs(pm[0] - pm[2]).max() == 0.0                 # the copy: identical, not crossed with computer
    assert np.abs(pm[0] - pm[1]).max() > 0.1
    assert [(e.keyword, round(e.time, 3)) for e in em] == [(e.keyword, round(e.time, 3)) for e in es]
    assert sum(e.keyword == "activate" for e in em) == 4        # twice the recording, two activate models


def test_merge_rejects_a_model_without_the_shared_input():
    import onnx
    from onnx import TensorProto, helper

    from speechseq.runtime.graph_merge import merge_side_by_side

    def ident(inp: str):
        g = helper.make_graph([helper.make_node("Identity", [inp], ["y"])], "g",
                              [helper.make_tensor_value_info(inp, TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])

    merged = merge_side_by_side([ident("x"), ident("x")], shared_inputs={"x"})
    onnx.checker.check_model(merged)
    assert [v.name for v in merged.graph.input] == ["x"] and [v.name for v in merged.graph.output] == ["m0.y", "m1.y"]
    with pytest.raises(ValueError, match="shared inputs"):
        merge_side_by_side([ident("x"), ident("z")], shared_inputs={"x"})


class RecordingModel(LoudnessModel):
    """LoudnessModel that keeps the frames it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = []

    def run(self, feats, ctx, h):
        self.seen.append(np.array(feats))
        return super().run(feats, ctx, h)


@pytest.mark.parametrize("range_db", [60.0, None])
def test_models_see_at_most_the_guards_range(range_db):
    """A loud burst over digital silence: with the floor guard (the default, 60 dB) the frames the models
    get after it lie within 60 dB (plus the release) of its loudest band; without it, down at the frontend's floor."""
    from speechseq.runtime.detector import GUARD_RANGE_DB, Detector

    assert GUARD_RANGE_DB == 60.0
    model = RecordingModel()
    det = Detector([model], range_db=range_db)
    t = np.arange(16000) / 16000
    audio = np.zeros(3 * 16000, np.float32)
    audio[16000:32000] = 0.9 * np.sin(2 * np.pi * 440 * t)      # 1 s loud, then 1 s of digital silence
    state = det.initial_state()
    for i in range(0, len(audio), 1600):
        _, state = det.step(audio[i: i + 1600], state)
    feats = np.concatenate(model.seen)
    top = feats[:200].max()                                      # the burst's loudest band (log power)
    after = feats[205:230]                                       # the quarter second after the burst
    below_db = (top - after.min()) * 10 / np.log(10)
    if range_db:
        assert 59.0 < below_db < 60.0 + 6 * 0.3 + 0.5               # 60 dB, released at 6 dB/s for <= 0.3 s
        assert feats[:95].max() == pytest.approx(np.log(det.frontend.cfg.floor))  # the silence before: untouched
    else:
        assert below_db > 70.0 and after.min() == pytest.approx(np.log(det.frontend.cfg.floor))


def test_guarded_stream_equals_the_whole_clip_in_any_chunking():
    """The shipped activate.onnx on its sample at a peak of 0.95 over a -70 dBFS floor, where the guard acts:
    uneven chunks give the posteriors of one call over the whole clip."""
    from pathlib import Path

    from speechseq.audio import load_audio
    from speechseq.runtime.detector import Detector

    root = Path(__file__).resolve().parents[1]
    a = load_audio(root / "data" / "samples" / "activate_kitchen_lights.wav")
    x = (a / np.abs(a).max() * 0.95 + np.random.default_rng(0).normal(0, 10 ** (-70 / 20), len(a))).astype(np.float32)
    posts = {}
    for name, r in (("whole", 60.0), ("chunks", 60.0), ("off", None)):
        det = Detector.load([root / "models" / "activate.onnx"], range_db=r)
        state, post, i, rng = det.initial_state(), [[]], 0, np.random.default_rng(2)
        while i < len(x):
            n = len(x) if name == "whole" else int(rng.integers(1, 3000))
            _, state = det.step(x[i: i + n], state, post)
            i += n
        posts[name] = np.concatenate(post[0])
    assert np.abs(posts["chunks"] - posts["whole"]).max() <= 1e-4
    assert np.abs(posts["whole"] - posts["off"]).max() > 0.01   # the guard acted


@pytest.mark.parametrize("field,value", [("threshold", 1.0), ("threshold", 0.0), ("threshold", float("nan")),
                                         ("step_s", 0.0), ("stride", 0), ("refractory_s", float("nan")),
                                         ("keyword_duration_s", -1.0), ("end_offset_s", float("inf")),
                                         ("smoothing_steps", 0), ("smoothing_steps", 10 ** 8)])
def test_out_of_range_metadata_is_one_error_naming_the_file(tmp_path, field, value):
    """A detector file whose runtime settings make no sense (a threshold of 1, a step of 0 s, a keyword of -1 s) was a
    traceback at load (ValueError, ZeroDivisionError) or events with start after end: one ModelError naming it now."""
    import shutil

    from speechseq.runtime.detector import Detector
    from speechseq.runtime.onnx import ModelError, read_metadata, write_metadata

    path = tmp_path / "odd.onnx"
    shutil.copy(ROOT / "models" / "activate.onnx", path)
    write_metadata(path, {**read_metadata(path), field: value})
    with pytest.raises(ModelError, match=f"odd.onnx: detector metadata out of range: {field} "):
        Detector.load([path])



@pytest.mark.parametrize("field,value,says", [
    ("context", 100, "input 'context' of the graph is [1, 105, 40], its metadata says ['*', 100, 40]"),
    ("hidden", 100, "input 'hidden' of the graph is [2, 1, 112], its metadata says [2, '*', 100]"),
    ("layers", 1, "input 'hidden' of the graph is [2, 1, 112], its metadata says [1, '*', 112]"),
    ("stride", 2, "the graph's convolution has stride 4, its metadata says 2"),
    ("n_mels", 80, "input 'features' of the graph is [1, 'frames', 40], its metadata says ['*', '*', 80]")])
def test_metadata_that_does_not_describe_the_graph_is_one_error_at_load(tmp_path, field, value, says):
    """Sizes in a detector's metadata other than its graph's (a context of 100 frames for a graph of 105, 1 GRU layer
    for 2, stride 2 for 4, 80 bands for 40) loaded, then were onnxruntime's InvalidArgument or conv_taps' ValueError
    traceback at the first chunk: one ModelError naming the file at load now, as for recognisers and LMs. The file's
    own graph, run without the rewrite (rewrite=False), is checked by its inputs (its stride is read in the rewrite)."""
    import shutil

    from speechseq.runtime.detector import Detector, KeywordModel
    from speechseq.runtime.onnx import ModelError, read_metadata, write_metadata

    path = tmp_path / "odd.onnx"
    shutil.copy(ROOT / "models" / "activate.onnx", path)
    meta = read_metadata(path)
    meta = ({**meta, "frontend": {**meta["frontend"], "n_mels": value}} if field == "n_mels" else {**meta, field: value})
    write_metadata(path, meta)
    for rewrite in (True,) if field == "stride" else (True, False):
        with pytest.raises(ModelError) as err:
            Detector([KeywordModel(path, rewrite=rewrite)], merge=False)
        msg = str(err.value)
        assert msg.startswith(f"{path}: ") and (says if rewrite else says.split(" of the graph")[0]) in msg, msg


def test_flushed_events_come_in_time_order_as_a_steps_do():
    """Detector.flush gave the events still open at the stream's end in keyword order; step gives them by time."""
    from speechseq.runtime.detector import Detector

    late, early = LoudnessModel(), LoudnessModel()
    late.keyword, early.keyword = "late", "early"
    det = Detector([late, early], merge=False)
    state = det.initial_state()
    kw_late = state.keywords[0]._replace(steps=60, run_start=55, run_best=0.9, run_best_step=57)
    kw_early = state.keywords[1]._replace(steps=60, run_start=30, run_best=0.8, run_best_step=40)
    flushed = det.flush(state._replace(keywords=(kw_late, kw_early)))
    assert [e.keyword for e in flushed] == ["early", "late"], flushed
    assert flushed[0].start < flushed[1].start


def test_floor_guard_releases_at_its_rate_per_second_at_any_hop():
    """The guard's 6 dB/s release is per second of audio, not per frame: a detector whose frontend hops 20 ms
    (hop_length 320 at 16 kHz) gets the same release over a second of silence after a loud burst as one at 10 ms
    (the guard assumed 10 ms frames, so at 20 ms it released 3 dB/s)."""
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.detector import Detector

    t = np.arange(16000) / 16000
    audio = np.zeros(4 * 16000, np.float32)
    audio[16000:32000] = 0.9 * np.sin(2 * np.pi * 440 * t)      # 1 s loud, then 2 s of digital silence
    released = {}
    for hop in (160, 320):
        model = RecordingModel()
        model.frontend = FrontendConfig(hop_length=hop)
        model.step_s = model.stride * hop / 16000
        det = Detector([model])
        assert det.guard.fall == pytest.approx(6.0 * hop / 16000 / 10 * np.log(10))
        state = det.initial_state()
        for i in range(0, len(audio), 1600):
            _, state = det.step(audio[i: i + 1600], state)
        feats = np.concatenate(model.seen)
        fps = 16000 / hop
        a, b = int(2.5 * fps), int(3.5 * fps)                    # 0.5 s and 1.5 s into the silence: 1 s apart
        released[hop] = (feats[a].min() - feats[b].min()) * 10 / np.log(10)
    assert released[160] == pytest.approx(6.0, abs=0.05)
    assert released[320] == pytest.approx(6.0, abs=0.05)


def test_models_of_different_frontends_are_one_error_saying_which_and_how():
    """Models whose features differ cannot share the one stream's frontend: the error named every model, the
    matching ones too, and not the setting that differs; it groups them by that setting now."""
    from dataclasses import replace

    from speechseq.runtime.detector import Detector
    from speechseq.runtime.onnx import ModelError

    a, b, c = LoudnessModel(), LoudnessModel(), LoudnessModel()
    a.path, b.path, c.path = "a.onnx", "b.onnx", "c.onnx"
    b.frontend = replace(b.frontend, n_mels=80)
    with pytest.raises(ModelError) as err:
        Detector([a, b, c], merge=False)
    assert str(err.value) == ("detector models use different frontends, which one stream cannot feed (run them in "
                              "separate commands): n_mels 40: a.onnx, c.onnx; n_mels 80: b.onnx")


class JumpModel(LoudnessModel):
    """A stand-in whose raw posterior jumps from 0 to 1 within a step where the audio turns loud, as the shipped
    detectors' do (activate's: 0.06 to 0.92 in one step)."""

    def run(self, feats, ctx, h):
        level = feats.reshape(-1, self.stride, self.n_mels).mean(axis=(1, 2))
        return (level > -8.0).astype(np.float32), ctx, h


@pytest.mark.parametrize("threshold", [0.5, 0.75, 0.9])
def test_an_events_end_does_not_move_with_the_smoothing(threshold):
    """A wider smoothing delays a jump's crossing by ceil(threshold * w) - 1 steps, not the (w - 1) / 2 of a ramp:
    --smoothing 5 put spliced "activate"'s ends 40 ms later than 3 at 0.9 (and 1 30 ms earlier). The end of one
    keyword is now the same at every smoothing, as at the model's own."""
    from speechseq.runtime.detector import Detector, smoothing_lag

    assert [smoothing_lag(0.9, w) for w in (1, 2, 3, 5)] == [0, 1, 2, 4]
    assert [smoothing_lag(0.5, w) for w in (1, 2, 3, 4, 5)] == [0, 0, 1, 1, 2] == [(w - 1) // 2 for w in (1, 2, 3, 4, 5)]
    audio = np.zeros(16000 * 3, np.float32)
    audio[16000 + 37 * 16: 16000 * 2] = 0.3 * np.random.default_rng(5).standard_normal(16000 - 37 * 16)
    ends = {}
    for w in (1, 2, 3, 5, 8):
        events, _ = _streamed(Detector([JumpModel()], threshold=threshold, smoothing_steps=w, range_db=None),
                              audio, 1600)
        assert len(events) == 1
        ends[w] = events[0].end
    own = ends[JumpModel().smoothing_steps]
    assert max(abs(e - own) for e in ends.values()) < 1e-9, ends


def test_the_end_offset_is_read_at_the_threshold_run_at(tmp_path):
    """A model with an "end_offset_table" (validation's offsets by threshold) gives the offset interpolated at the
    threshold it runs at; one without (exported before session 46) its one end_offset_s at any threshold; a table
    that is not one is one error naming the file. The shipped files carry the table scripts/detector_end_offsets.py
    measured (session 46; their end_offset_s, 0.12 and 0.2 s, measured at their validation thresholds, kept)."""
    import shutil

    from speechseq.runtime.detector import Detector
    from speechseq.runtime.onnx import ModelError, read_metadata, write_metadata

    shipped = ROOT / "models" / "activate.onnx"
    for name, own, at_own in (("activate.onnx", 0.12, 0.04), ("computer.onnx", 0.2, 0.04)):
        meta = read_metadata(ROOT / "models" / name)
        assert meta["end_offset_s"] == own
        assert Detector.load(ROOT / "models" / name).end_offsets == [pytest.approx(at_own)]
        assert {th: Detector.load(ROOT / "models" / name, threshold=th).end_offsets[0] for th in (0.5, 0.9)} \
            == pytest.approx({0.5: 0.0, 0.9: 0.08 if name == "activate.onnx" else 0.04})
    path = tmp_path / "tabled.onnx"
    shutil.copy(shipped, path)
    write_metadata(path, {k: v for k, v in read_metadata(path).items() if k != "end_offset_table"})
    for th in (None, 0.3, 0.5, 0.97):
        assert Detector.load(path, threshold=th).end_offsets == [0.12]
    table = {"threshold": [0.3, 0.5, 0.9], "end_offset_s": [0.04, 0.08, 0.16]}
    write_metadata(path, {**read_metadata(path), "end_offset_table": table})
    got = {th: Detector.load(path, threshold=th).end_offsets[0] for th in (0.1, 0.3, 0.4, 0.75, 0.9, 0.99)}
    assert got == pytest.approx({0.1: 0.04, 0.3: 0.04, 0.4: 0.06, 0.75: 0.13, 0.9: 0.16, 0.99: 0.16})
    assert Detector.load(path).end_offsets[0] == pytest.approx(0.13)          # its own threshold, 0.75
    # one run's end moves with the offset: 0.16 - 0.13 s earlier at 0.9 than at 0.75 (at the model's own smoothing)
    at = {th: Detector.load(path, threshold=th)._event(0, 100, 0.99, 102).end for th in (0.75, 0.9)}
    assert at[0.75] - at[0.9] == pytest.approx(0.03)
    for bad in ({"threshold": [0.5, 0.3], "end_offset_s": [0.1, 0.1]}, {"threshold": [0.5], "end_offset_s": []},
                {"threshold": [0.5], "end_offset_s": [float("nan")]}, [0.1], {"threshold": [0.5]}):
        write_metadata(path, {**read_metadata(path), "end_offset_table": bad})
        with pytest.raises(ModelError, match="tabled.onnx: detector metadata") as err:
            Detector.load(path)
        assert "end_offset_table" in str(err.value), err.value   # not "without 'end_offset_s'", a field it has
