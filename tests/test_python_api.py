"""The Python API as a library user calls it: arrays of other shapes and dtypes, a single path, a wrong rate or
size, each either heard as the same audio or refused with one clear error naming the argument."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.runtime.detector import Detector
from speechseq.runtime.listener import Listener, Transcriber
from speechseq.runtime.recognizer import DecodeOptions, Recognizer
from speechseq.runtime.vad import EnergyVad

from .listener_fixtures import SAMPLE, tiny_models  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


@pytest.fixture(scope="module")
def demo() -> np.ndarray:
    return load_audio(SAMPLE)


@pytest.fixture(scope="module")
def rec() -> Recognizer:
    return Recognizer(MODELS / "recognizer-en.int8.onnx")


def _blocks(x: np.ndarray, n: int) -> list[np.ndarray]:
    return [x[i:i + n] for i in range(0, len(x), n)]


def test_a_stereo_block_is_refused_by_the_listener_not_heard_as_twice_as_long(tiny_models, demo):
    """Listener.step flattened an (N, 2) block into 2N samples: the demo ran 12.3 s long and woke on nothing."""
    listener = Listener(Detector.load([tiny_models.detector]), Transcriber(tiny_models.recognizer), vad=EnergyVad())
    state = listener.initial_state()
    with pytest.raises(ValueError, match=r"mono.*\(800, 2\)"):
        listener.step(np.stack([demo[:800], demo[:800]], axis=1), state)
    _, column = listener.step(demo[:800, None], state)  # a driver's (N, 1) column is mono
    _, flat = listener.step(demo[:800], state)
    assert column.time == flat.time == 0.05


def test_transcribe_scales_integer_blocks_and_takes_columns(rec, demo):
    """Recognizer.transcribe took int16 blocks unscaled (20.8 high in every band: another text) and failed on
    (N, 1) blocks inside numpy's concatenate."""
    want = rec.transcribe(_blocks(demo, 16000))
    assert want.text != ""
    as_int16 = np.round(demo * 32767).astype(np.int16)
    assert rec.transcribe(_blocks(as_int16, 16000)).text == rec.recognize(as_int16).text == want.text
    columns = rec.transcribe(_blocks(demo[:, None], 16000))
    assert (columns.text, columns.duration) == (want.text, want.duration)
    assert rec.recognize(demo[:, None]).text == rec.recognize(demo).text
    with pytest.raises(ValueError, match=r"mono.*\(16000, 2\)"):
        rec.transcribe(_blocks(np.stack([demo, demo], axis=1), 16000))


def test_log_probs_checks_the_features_it_is_given(rec):
    """A wrong band count or a 1-D array was onnxruntime's InvalidArgument; no frames, its FusedConv error."""
    n_mels = rec.frontend.n_mels
    assert rec.log_probs(np.zeros((0, n_mels))).shape == (0, len(rec.vocabulary))
    assert rec.log_probs(np.zeros((7, n_mels))).shape[1] == len(rec.vocabulary)
    for shape in ((50, 40), (50,), (1, 50, n_mels)):
        with pytest.raises(ValueError, match=rf"features must be \(T, {n_mels}\).*{shape}"):
            rec.log_probs(np.zeros(shape, np.float32))


def test_decode_refuses_log_probs_of_another_vocabulary(rec):
    """(T, 10) log-probs were decoded as if they were over the model's 29 symbols: a word from nowhere."""
    lp = rec.log_probs(np.zeros((50, rec.frontend.n_mels)))
    for opts in (DecodeOptions(), DecodeOptions(decoder="beam")):
        with pytest.raises(ValueError, match=r"log_probs must be \(T', 29\).*\(25, 10\)"):
            rec.decode(lp[:, :10], opts)
    assert rec.decode(lp).text == rec.decode(lp.tolist()).text


def test_detector_load_takes_one_path_as_well_as_a_list():
    """Detector.load("models/activate.onnx") iterated the string: "m: no such model file"."""
    for one in (str(MODELS / "activate.onnx"), MODELS / "activate.onnx"):
        assert Detector.load(one).keywords == ["activate"]
    assert Detector.load([MODELS / "activate.onnx", str(MODELS / "computer.onnx")]).keywords == ["activate",
                                                                                                 "computer"]


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), 0, -16000, None, True])
def test_a_rate_that_is_no_rate_is_one_clear_error(rate):
    """A NaN or infinite rate hung soxr for good (resample, load_audio); None was "'<=' not supported between
    'NoneType' and 'int'", 0 soxr's "Sample rate should be over 0", naming no argument."""
    from speechseq.audio import resample, stream_audio

    with pytest.raises(ValueError, match=r"sr_in must be a sample rate in Hz"):
        resample(np.zeros(100, np.float32), rate)
    with pytest.raises(ValueError, match=r"sr_out must be a sample rate in Hz"):
        resample(np.zeros(100, np.float32), 44100, rate)
    with pytest.raises(ValueError, match=r"sr must be a sample rate in Hz"):
        load_audio(SAMPLE, sr=rate)
    with pytest.raises(ValueError, match=r"sr must be a sample rate in Hz"):
        next(stream_audio(SAMPLE, sr=rate))


def test_rates_and_block_lengths_that_are_numbers_work():
    from speechseq.audio import resample, stream_audio

    assert resample(np.zeros(441, np.float32), 44100.0).shape == (160,)
    assert resample(np.zeros(441, np.float32), np.int64(44100), 16000).shape == (160,)
    assert len(load_audio(SAMPLE, sr=8000)) == 41320 and len(load_audio(str(SAMPLE), sr=np.int32(16000))) == 82640
    assert sum(len(b) for b in stream_audio(SAMPLE, block_s=0.5, sr=8000.0)) == 41320


@pytest.mark.parametrize("block_s", [0, -1.0, float("nan"), float("inf")])
def test_stream_audio_refuses_a_block_length_that_is_no_length(block_s):
    """block_s=0 or below read one frame at a time (a Python loop over every sample of a long file); NaN was
    "cannot convert float NaN to integer"."""
    from speechseq.audio import stream_audio

    with pytest.raises(ValueError, match=r"block_s must be a positive number of seconds"):
        next(stream_audio(SAMPLE, block_s=block_s))


def test_to_mono_scales_integer_samples_and_refuses_other_shapes():
    """to_mono kept an int16 array's values (32768 times full scale), which a Detector then heard 20.8 high in
    every band; a (N, C, K) array came back 2-D and a scalar was an IndexError."""
    from speechseq.audio import to_mono

    stereo = np.array([[16384, -16384], [8192, 8192]], np.int16)
    assert to_mono(stereo).tolist() == [0.0, 0.25]
    assert to_mono(np.array([0.5, -0.25], np.float64)).tolist() == [0.5, -0.25]
    for bad in (np.zeros((4, 2, 2), np.float32), np.float32(0.5)):
        with pytest.raises(ValueError, match=r"audio must be \(N,\) or \(N, channels\)"):
            to_mono(bad)


def test_the_listener_refuses_models_that_are_not_at_its_16_khz(rec):
    """The listener counts samples at 16 kHz (its sources, the VAD, the history): a detector whose frontend runs at
    8 kHz (which `detect` supports) was fed 16 kHz blocks as its own: its events' times twice as late."""
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.onnx import ModelError

    from .test_detector_runtime import LoudnessModel

    slow = LoudnessModel()
    slow.frontend, slow.step_s = FrontendConfig(sample_rate=8000, fmax=3800.0), 4 * 160 / 8000
    transcriber = Transcriber(MODELS / "recognizer-en.int8.onnx")
    with pytest.raises(ModelError, match=r"16000 Hz.*8000 Hz"):
        Listener(Detector([slow], range_db=None), transcriber, vad=EnergyVad())
    Listener(Detector([LoudnessModel()], range_db=None), transcriber, vad=EnergyVad())  # 16 kHz: as before


@pytest.mark.parametrize("kwargs, name", [({"refractory_s": float("nan")}, "refractory_s"),
                                          ({"refractory_s": -1.0}, "refractory_s"),
                                          ({"max_wait_s": float("nan")}, "max_wait_s"),
                                          ({"max_wait_s": float("inf")}, "max_wait_s"),
                                          ({"smoothing_steps": 0}, "smoothing_steps"),
                                          ({"smoothing_steps": 101}, "smoothing_steps"),
                                          ({"smoothing_steps": 2.5}, "smoothing_steps")])
def test_detector_settings_out_of_range_are_one_error_naming_them(kwargs, name):
    """NaN was "cannot convert float NaN to integer", an infinite wait an OverflowError; a smoothing of 0 or 2.5
    became 1 or 2 without a word, and one over the models' bound (100 steps) was summed at every step."""
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        Detector.load(MODELS / "activate.onnx", **kwargs)
    det = Detector.load(MODELS / "activate.onnx", refractory_s=0.0, max_wait_s=0.0, smoothing_steps=100)
    assert (det.refractory, det.max_wait, det.smoothing) == ([0], [0], [100])


@pytest.mark.parametrize("kwargs, name", [({"max_segment_s": 0.0}, "max_segment_s"),
                                          ({"max_segment_s": -1.0}, "max_segment_s"),
                                          ({"max_segment_s": float("nan")}, "max_segment_s"),
                                          ({"sample_rate": 50}, "sample_rate")])
def test_split_at_pauses_refuses_lengths_and_rates_that_cannot_cut(kwargs, name, rec, demo):
    """max_segment_s of 0 or less was numpy's "a cannot be empty", NaN "cannot convert float NaN to integer", a
    rate under 100 Hz a ZeroDivisionError."""
    from speechseq.runtime.recognizer import split_at_pauses

    with pytest.raises(ValueError, match=rf"^{name} must be"):
        list(split_at_pauses([demo], **kwargs))
    if "max_segment_s" in kwargs:
        with pytest.raises(ValueError, match=rf"^{name} must be"):
            rec.transcribe([demo], **kwargs)
    cuts = list(split_at_pauses([demo], max_segment_s=2.0, min_segment_s=0.5))
    assert sum(len(s) for _, s in cuts) == len(demo) and max(len(s) for _, s in cuts) <= 32000


def test_a_model_whose_name_is_no_utf8_loads(tmp_path):
    """A Linux file name is bytes, not always UTF-8 (a copy from an old Latin-1 disk: "mod\\xe8le.onnx"); Python names
    it with a surrogate, which onnxruntime refused: "cannot load ONNX model (__init__(): incompatible constructor
    arguments...)", from `transcribe --model` and every loader, for a file that is a good model."""
    import os
    import shutil

    from speechseq.runtime.onnx import read_metadata
    from speechseq.runtime.streaming_recognizer import StreamingRecognizer

    folder = os.fsdecode(bytes(tmp_path) + b"/mod\xe8le")
    try:
        os.mkdir(folder)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system takes UTF-8 names only")
    rec_path, stream_path = Path(folder, "rec.onnx"), Path(folder, "stream.onnx")
    shutil.copyfile(MODELS / "recognizer-en.int8.onnx", rec_path)
    shutil.copyfile(MODELS / "recognizer-en.stream.int8.onnx", stream_path)
    assert read_metadata(stream_path)["kind"] == "recognizer-stream"
    stream = StreamingRecognizer(stream_path)
    assert stream.path == str(stream_path) and stream.chunk_s == 0.4
    demo = load_audio(SAMPLE)
    want = Recognizer(MODELS / "recognizer-en.int8.onnx").recognize(demo).text
    assert Recognizer(rec_path).recognize(demo).text == want != ""


def test_the_export_named_for_a_checkpoint_called_onnx_does_not_overwrite_it(tmp_path):
    """A training checkpoint saved as best.onnx was told "export it first (speechseq export best.onnx --out
    best.onnx)": run as said, the export wrote the model over the checkpoint, and the run's weights were gone."""
    import shlex
    import zipfile

    from speechseq.runtime.onnx import ModelError, make_session

    for name in ("best.onnx", "best.ONNX", "best.pt"):
        path = tmp_path / name
        with zipfile.ZipFile(path, "w") as z:   # torch.save's layout
            z.writestr("best/data.pkl", b"\x80\x02}q\x00.")
        with pytest.raises(ModelError, match="a training checkpoint, not an ONNX model") as err:
            make_session(path)
        command = shlex.split(str(err.value).split("export it first (", 1)[1].rstrip(")"))
        assert command[:3] == ["speechseq", "export", str(path)] and command[3] == "--out", command
        out = Path(command[4])
        assert out.parent == path.parent and out.suffix == ".onnx" and out.name.lower() != name.lower(), command


def test_transcribe_takes_one_array_as_the_whole_stream(rec, demo):
    """transcribe(audio) iterated the array: a stereo (N, 2) recording became its rows, 2-sample "blocks" read as one
    channel twice as long (another text, no error), and a mono one became N one-sample blocks, each copying the
    buffer (20 s took 7.4 s against 0.18 s as one block)."""
    from speechseq.runtime.recognizer import split_at_pauses

    stereo = np.stack([demo, demo], axis=1)
    with pytest.raises(ValueError, match=r"mono.*\(82640, 2\)"):
        rec.transcribe(stereo)
    with pytest.raises(ValueError, match=r"mono.*\(82640, 2\)"):
        list(split_at_pauses(stereo))
    assert [(first, len(s)) for first, s in split_at_pauses(demo)] == [(0, 82640)]
    assert [(first, len(s)) for first, s in split_at_pauses(demo[:, None])] == [(0, 82640)]
    whole = rec.transcribe(demo)
    assert (whole.text, whole.duration) == (rec.transcribe([demo]).text, 82640 / 16000) and whole.text != ""


def test_a_nan_sample_is_heard_as_zero_by_the_recognizer_as_by_the_detector(rec, demo):
    """One NaN sample in the demo's leading silence (0.5 s) changed the keyword's spelling ("ean" to "eand"; the fp32
    model's "bat" to "tate"): the detector, the VAD and the listener take NaN as 0 (speechseq.audio.finite_samples),
    recognize and transcribe ran it through the frontend, NaN in every band of three frames."""
    nan, zero = demo.copy(), demo.copy()
    nan[8000], zero[8000] = np.nan, 0.0
    want = rec.recognize(zero).text
    assert rec.recognize(nan).text == want == rec.recognize(demo).text != ""
    assert rec.transcribe([nan[:40000], nan[40000:]]).text == rec.transcribe([zero]).text == want


@pytest.mark.parametrize("kwargs, name", [({"max_wait_s": None}, "max_wait_s"),
                                          ({"max_wait_s": "0.2"}, "max_wait_s"),
                                          ({"refractory_s": "1"}, "refractory_s"),
                                          ({"max_wait_s": True}, "max_wait_s")])
def test_detector_times_that_are_no_numbers_are_one_error_naming_them(kwargs, name):
    """max_wait_s=None (as the other settings' None, "the model's own") was "'<=' not supported between instances
    of 'float' and 'NoneType'", a string refractory_s the same of 'str'; True waited one step."""
    with pytest.raises(ValueError, match=rf"^{name} must be a finite number of seconds >= 0, got "):
        Detector.load(MODELS / "activate.onnx", **kwargs)
    det = Detector.load(MODELS / "activate.onnx", max_wait_s=np.float32(0.08), refractory_s=np.int64(2))
    assert (det.max_wait, det.refractory) == ([2], [50])


def test_decode_options_refuse_a_model_their_decoder_does_not_read(rec, demo):
    """DecodeOptions(lm=OnnxLM("models/lm-en.onnx")) decoded greedily, the LM unread and the text the plain greedy
    one, without a word (decoder "greedy" is the default); a lexicon with decoder "beam" the same."""
    from speechseq.runtime.lexicon import load_lexicon
    from speechseq.runtime.lm import OnnxLM

    lm, lex = OnnxLM(MODELS / "lm-en.onnx"), load_lexicon(MODELS / "words-en.npz")
    for kwargs, unread in (({"lm": lm}, "lm"), ({"lexicon": lex}, "lexicon"),
                           ({"decoder": "beam", "lexicon": lex}, "lexicon")):
        with pytest.raises(ValueError, match=rf"^decoder '\w+' reads no {unread} \(decoder='beam'"):
            DecodeOptions(**kwargs)
    fused = rec.recognize(demo, DecodeOptions(decoder="beam", lm=lm)).text
    assert fused != rec.recognize(demo).text   # the LM, read, changes the text
    assert rec.recognize(demo, DecodeOptions(decoder="lexicon", lexicon=lex, lm=lm)).text != ""
