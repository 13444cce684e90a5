"""`speechseq detect` and `speechseq eval detector` on the shipped models."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .odd_names import plots_of_odd_names

ROOT = Path(__file__).resolve().parents[1]
MODELS = [ROOT / "models" / "activate.onnx", ROOT / "models" / "computer.onnx"]
pytestmark = pytest.mark.skipif(not all(m.exists() for m in MODELS), reason="shipped models missing")


def speechseq(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "speechseq", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> Path:
    """Quiet room noise, then "activate" (espeak-ng, when installed), then more noise: 4 s."""
    rng = np.random.default_rng(0)
    audio = (0.002 * rng.standard_normal(16000 * 4)).astype(np.float32)
    if shutil.which("espeak-ng"):
        from speechseq.train.synth import Voice, synthesize

        word = 0.3 * synthesize("activate", Voice("espeak-ng", "en-us"))
        audio[16000: 16000 + len(word)] += word
    path = tmp_path_factory.mktemp("detect") / "speech.wav"
    sf.write(path, audio, 16000, subtype="PCM_16")
    return path


def test_detect_json_schema(speech_wav, tmp_path):
    plot = tmp_path / "plot.png"
    r = speechseq("detect", "--json", "--plot", plot, speech_wav, speech_wav)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        obj = json.loads(line)
        assert list(obj) == ["file", "duration", "detections"]
        assert isinstance(obj["file"], str) and obj["duration"] == pytest.approx(4.0, abs=0.01)
        for d in obj["detections"]:
            assert list(d) == ["keyword", "start", "end", "score"]
            assert d["keyword"] in ("activate", "computer") and 0 <= d["start"] < d["end"] <= 4.0 and 0 < d["score"] <= 1
    assert plot.exists() and plot.stat().st_size > 5000
    if shutil.which("espeak-ng"):  # the synthetic "activate" is found where it was put
        found = [d for d in json.loads(lines[0])["detections"] if d["keyword"] == "activate"]
        assert len(found) == 1 and 1.3 < found[0]["end"] < 2.2


def test_detect_options_and_errors(speech_wav, tmp_path):
    r = speechseq("detect", "--model", MODELS[1], "--threshold", "0.99", speech_wav)
    assert r.returncode == 0 and r.stdout.startswith(str(speech_wav))
    r = speechseq("detect", "--threshold", "1.5", speech_wav)
    assert r.returncode == 2 and "--threshold: must lie in (0, 1)" in r.stderr and "Traceback" not in r.stderr  # usage
    r = speechseq("detect", "--model", tmp_path / "missing.onnx", speech_wav)
    assert r.returncode == 1 and "no such model" in r.stderr
    (tmp_path / "bad.wav").write_bytes(b"not audio at all" * 10)
    r = speechseq("detect", "--json", tmp_path / "bad.wav", speech_wav)
    assert r.returncode == 1 and len(r.stdout.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_bad_audio_gives_no_flood():
    from speechseq.runtime.detector import Detector

    det = Detector.load(MODELS)
    n = 16000 * 60
    rng = np.random.default_rng(2)
    cases = {"silence": np.zeros(n), "clipping": np.clip(4 * rng.standard_normal(n), -1, 1),
             "dc offset": np.full(n, 0.5) + 0.001 * rng.standard_normal(n), "loud noise": 0.9 * rng.standard_normal(n)}
    for name, audio in cases.items():
        state, events = det.initial_state(), []
        for i in range(0, n, 1600):
            got, state = det.step(audio[i: i + 1600].astype(np.float32), state)
            events += got
        assert len(events) <= 2, (name, events)


def test_eval_detector_reports_rates(speech_wav, tmp_path):
    neg = tmp_path / "neg"
    neg.mkdir()
    sf.write(neg / "noise.wav", (0.01 * np.random.default_rng(3).standard_normal(16000 * 20)).astype(np.float32), 16000)
    r = speechseq("eval", "detector", "--model", MODELS[0], "--positives", speech_wav, "--negatives", neg,
                  "--json", "--det", tmp_path / "det.png")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["keyword"] == "activate" and s["positives"] == 1 and s["negative_hours"] == pytest.approx(20 / 3600, abs=1e-4)
    assert s["false_accepts"] == 0 and s["fa_per_hour"] == 0 and 0 <= s["frr"] <= 1
    assert (tmp_path / "det.png").exists()


def test_eval_detector_saves_the_threshold_it_suggests(speech_wav, tmp_path):
    """--save-threshold writes the threshold for --target-fa into the model file, which detect then uses."""
    from speechseq.runtime.detector import KeywordModel
    from speechseq.runtime.onnx import read_metadata

    model = tmp_path / "mine.onnx"
    shutil.copy(MODELS[0], model)
    neg = tmp_path / "neg"
    neg.mkdir()
    sf.write(neg / "noise.wav", (0.01 * np.random.default_rng(3).standard_normal(16000 * 20)).astype(np.float32), 16000)
    r = speechseq("eval", "detector", "--model", model, "--positives", speech_wav, "--negatives", neg,
                  "--save-threshold")
    assert r.returncode != 0 and "at least 15 minutes of --negatives" in r.stderr and "Traceback" not in r.stderr
    assert read_metadata(model)["threshold"] == read_metadata(MODELS[0])["threshold"]      # nothing written
    with sf.SoundFile(neg / "long.wav", "w", 16000, 1, "PCM_16") as f:                     # 16 minutes in all
        rng = np.random.default_rng(5)
        for _ in range(16):
            f.write((0.01 * rng.standard_normal(16000 * 60)).astype(np.float32))
    r = speechseq("eval", "detector", "--model", model, "--positives", speech_wav, "--negatives", neg,
                  "--target-fa", "5", "--save-threshold", "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    meta = read_metadata(model)
    assert meta["threshold"] == s["saved_threshold"] == s["threshold_for_target"]
    assert meta["threshold_previous"] == read_metadata(MODELS[0])["threshold"]
    assert meta["threshold_choice"]["positives"] == 1 and meta["threshold_choice"]["target_fa_per_hour"] == 5
    assert KeywordModel(model).threshold == s["saved_threshold"]
    r = speechseq("eval", "detector", "--model", model, "--negatives", neg, "--save-threshold")  # no positives
    assert r.returncode != 0 and "--save-threshold needs --positives" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_one_hour_file_bounded_memory(tmp_path):
    import psutil

    path = tmp_path / "hour.wav"
    rng = np.random.default_rng(4)
    with sf.SoundFile(path, "w", 16000, 1, "PCM_16") as f:
        for _ in range(60):
            f.write((0.05 * rng.standard_normal(16000 * 60)).astype(np.float32))
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "detect", "--json", str(path)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    p = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, p.memory_info().rss)
        except psutil.NoSuchProcess:
            break
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    obj = json.loads(out)
    assert obj["duration"] == pytest.approx(3600, abs=0.1) and len(obj["detections"]) <= 10
    assert peak < 400e6


def test_a_file_name_that_is_not_utf8_is_read_and_named(speech_wav, tmp_path):
    """A name of bytes that are not UTF-8 (Linux allows them) was a traceback that stopped the batch."""
    import os

    odd = tmp_path / os.fsdecode(b"caf\xe9.wav")
    shutil.copy(speech_wav, odd)
    for args in ([], ["--json"]):
        r = subprocess.run([sys.executable, "-m", "speechseq", "detect", *args, odd, speech_wav], capture_output=True,
                           timeout=120, cwd=ROOT)
        assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
        lines = r.stdout.decode("utf-8").splitlines()
        assert len(lines) == 2 and "caf\ufffd.wav" in lines[0] and str(speech_wav) in lines[1], lines
        if args:
            assert json.loads(lines[0])["detections"] == json.loads(lines[1])["detections"]


def test_detect_file_streams_at_the_models_rate(tmp_path):
    """A detector whose frontend runs at 8 kHz gets 8 kHz audio: the file was streamed at 16 kHz whatever the model,
    so its steps came twice as fast and a burst at 2 s was reported at about 4 s."""
    from speechseq.commands.detect import detect_file
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.detector import Detector
    from tests.test_detector_runtime import LoudnessModel

    model = LoudnessModel()
    model.frontend, model.step_s = FrontendConfig(sample_rate=8000, fmax=3800.0), 4 * 160 / 8000
    det = Detector([model], range_db=None)
    audio = np.zeros(16000 * 4, np.float32)
    audio[32000:40000] = 0.3 * np.random.default_rng(0).standard_normal(8000)   # loud from 2.0 to 2.5 s
    path = tmp_path / "burst.wav"
    sf.write(path, audio, 16000, subtype="FLOAT")
    events, duration, post, _ = detect_file(det, path, keep=True)
    assert duration == pytest.approx(4.0, abs=1e-3) and post[0].n == pytest.approx(4.0 / model.step_s, abs=1)
    assert len(events) == 1 and 2.0 < events[0].time < 2.7 and 0 <= events[0].start < events[0].end <= 2.6


def test_a_keyword_at_the_very_end_of_a_file_is_detected(tmp_path, capsys):
    """The posterior rises only after a keyword ends: a recording cut 0.1 s after "activate" (ends at 1.70 s) gave
    no detection, though eval detector (which pads clips) counts it found. detect follows a file with quiet noise,
    and the event stays inside the file."""
    import json

    import soundfile as sf

    from speechseq.cli import main

    a, sr = sf.read(str(Path(__file__).resolve().parents[1] / "data/samples/activate_kitchen_lights.wav"),
                    dtype="float32")
    cut = tmp_path / "cut.wav"
    sf.write(cut, a[: int(1.8 * sr)], sr)
    assert main(["detect", "--json", str(cut)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["duration"] == 1.8 and [d["keyword"] for d in got["detections"]] == ["activate"]
    d = got["detections"][0]
    assert 1.6 <= d["end"] <= 1.8 and 0.9 <= d["start"] < d["end"] and d["score"] > 0.9


def test_eval_detector_reads_files_at_the_models_rate(tmp_path):
    """eval detector's positives and negatives were read at 16 kHz whatever the model (as detect's were): an 8 kHz
    model got its steps twice as fast."""
    from speechseq.commands.eval_detector import negative_posteriors, positive_scores
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.detector import Detector
    from tests.test_detector_runtime import LoudnessModel

    model = LoudnessModel()
    model.frontend, model.step_s = FrontendConfig(sample_rate=8000, fmax=3800.0), 4 * 160 / 8000
    det = Detector([model], range_db=None)
    audio = np.zeros(16000 * 4, np.float32)
    audio[32000:40000] = 0.3 * np.random.default_rng(0).standard_normal(8000)
    path = tmp_path / "burst.wav"
    sf.write(path, audio, 16000, subtype="FLOAT")
    posts, hours = negative_posteriors(det, [path], show=False)
    assert hours * 3600 == pytest.approx(4.0, abs=1e-3) and len(posts[0][0]) == pytest.approx(4.0 / model.step_s, abs=1)
    assert positive_scores(det, [path], show=False).shape == (1, 1)


def test_detect_plot_data_stays_bounded_on_a_long_stream(tmp_path):
    """detect --plot kept every sample of the file it draws, and then its whole log-mel: 1.03 GB at the peak for an
    hour (85 MB without --plot). Now it keeps at most 4096 columns of spectrogram and posterior, each the maximum of
    the frames (steps) it stands for, so that a loud half second in five minutes still shows where it was; a file
    of under 40 s is kept whole, the plot as before."""
    from speechseq.commands.detect import detect_file
    from speechseq.frontend import FrontendConfig, logmel
    from speechseq.runtime.detector import Detector
    from tests.test_detector_runtime import LoudnessModel

    det = Detector([LoudnessModel()], range_db=None)
    cfg = FrontendConfig()
    rng = np.random.default_rng(0)
    audio = (0.001 * rng.standard_normal(16000 * 300)).astype(np.float32)
    audio[16000 * 200: 16000 * 200 + 8000] = 0.3 * rng.standard_normal(8000)    # loud from 200.0 to 200.5 s
    sf.write(tmp_path / "long.wav", audio, 16000, subtype="FLOAT")
    events, duration, post, spec = detect_file(det, tmp_path / "long.wav", keep=True)
    assert spec.n == len(whole := logmel(audio, cfg)) and spec.factor == 8 and 2048 <= len(spec.rows) <= 4096
    full = len(whole) // 8 * 8
    want = np.concatenate([whole[:full].reshape(-1, 8, 40).max(axis=1), whole[full:].max(axis=0, keepdims=True)])
    np.testing.assert_allclose(spec.rows, want, atol=1e-4)
    loud = spec.ends()[np.argmax(spec.rows.mean(axis=1))] / cfg.frame_rate
    assert 200.0 < loud <= 200.6, loud
    (p,) = post
    assert p.n == pytest.approx(300 / 0.04, abs=2) and p.factor == 2 and len(p.rows) <= 4096
    assert 200.0 < p.ends()[np.argmax(p.rows)] * 0.04 <= 200.7
    assert len(events) == 1 and 200.0 < events[0].time < 200.8

    sf.write(tmp_path / "short.wav", audio[: 16000 * 10], 16000, subtype="FLOAT")
    _, _, post, spec = detect_file(det, tmp_path / "short.wav", keep=True)
    assert spec.factor == 1 and post[0].factor == 1 and len(post[0].rows) == post[0].n == 998 // 4
    np.testing.assert_allclose(spec.rows, logmel(audio[: 16000 * 10], cfg), atol=1e-4)


def test_detect_plot_draws_no_posterior_while_the_output_settles(tmp_path):
    """detect --plot drew each posterior from the stream's first step: on the demo file both keywords rose to 0.35 in
    its first 0.2 s (the stream's start transient, where no event can start: the detector's `settle`), which reads as
    a near-detection; "computer" never passes 0.03 after it. The curves now start where events can start, and the
    settling stretch is shaded and named in the legend."""
    from speechseq.commands.detect import Pooled, detect_file, plot_detections
    from speechseq.runtime.detector import Detector

    det = Detector.load(MODELS)
    assert det.settle == [8, 8] and [m.step_s for m in det.models] == [0.04, 0.04]
    path = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
    events, duration, post, spec = detect_file(det, path, keep=True)
    assert post[1].rows[:8].max() > 0.3          # the transient is there in the data
    fig = plot_detections(path, str(tmp_path / "p.png"), det, events, duration, post, spec)
    assert (tmp_path / "p.png").stat().st_size > 5000
    ax = fig.axes[1]
    curves = {line.get_label(): line.get_xydata() for line in ax.get_lines() if not line.get_label().startswith("_")}
    assert list(curves) == ["activate", "computer"]
    for xy, p in zip(curves.values(), post):
        np.testing.assert_allclose(xy[:, 0], (np.arange(8, len(p.rows)) + 1) * 0.04)   # steps 8.. (from 0.32 s)
        np.testing.assert_allclose(xy[:, 1], p.rows[8:])
    assert curves["activate"][:, 1].max() > 0.95 and curves["computer"][:, 1].max() < 0.03
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["activate", "computer", "settling (no events)"]
    (band,) = [patch for patch in ax.patches if patch.get_label() == "settling (no events)"]
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx((0.0, 0.32))

    # pooled rows (a long file): a row is drawn only when every step it stands for is past the settling
    long = [Pooled(np.linspace(0, 1, 50, dtype=np.float32), 4, 200) for _ in det.models]
    fig = plot_detections(path, str(tmp_path / "p.png"), det, [], 8.0, long, spec)
    for line in [line for line in fig.axes[1].get_lines() if not line.get_label().startswith("_")]:
        np.testing.assert_allclose(line.get_xydata()[:, 0], (np.arange(2, 50) + 1) * 4 * 0.04)


def test_detect_plot_of_a_file_whose_name_matplotlib_would_parse(tmp_path, speech_wav):
    """The picture's title is the file's name, which matplotlib read as mathtext (between two '$': "x$\\frac$.wav"
    was a traceback, "cost $5 or $6.wav" drawn in italics without its '$') and could not draw where it is no UTF-8
    (a lone surrogate, a traceback from the font code): both are drawn as written, exit 0."""
    plots_of_odd_names(tmp_path, speech_wav, "detect")


def test_more_threads_than_cpus_are_taken_as_the_cpus(tmp_path):
    """onnxruntime starts a thread for each one --threads asks: 100000 held 16 GB in 7,776 threads and stalled this
    2-core machine (load 900, beyond SIGTERM's reach), and more threads than CPUs only wait on each other (200 took
    7.3 s where 2 took 0.56). More than the CPUs here are taken as that many, said once."""
    import os

    cpus = len(os.sched_getaffinity(0))
    path = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
    r = speechseq("detect", "--json", "--model", MODELS[0], "--threads", cpus + 1, path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.count(f"--threads {cpus + 1}: more than the {cpus} CPUs here; using {cpus}") == 1, r.stderr
    assert [d["keyword"] for d in json.loads(r.stdout)["detections"]] == ["activate"]
    from speechseq.commands.common import cpu_threads

    assert cpu_threads(cpus) == cpus and cpu_threads(1) == 1 and cpu_threads(10 ** 6) == cpus


def test_a_copy_of_a_model_given_with_it_is_run_once(tmp_path):
    """--model A --model COPY-OF-A (the shipped file and the one a run exported, say) reported every event twice,
    told apart by nothing: the same file by another path is used once, as the same path is. Two different models of
    one keyword are both run, with a warning that their events carry the same name."""
    import onnx

    path = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
    copy = tmp_path / "mine.onnx"
    shutil.copy(MODELS[0], copy)
    r = speechseq("detect", "--json", "--model", MODELS[0], "--model", copy, "--model", MODELS[1], path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert [d["keyword"] for d in json.loads(r.stdout)["detections"]] == ["activate"]
    assert f"--model {copy}: the same model as --model {MODELS[0]}; used once" in r.stderr

    other = onnx.load(str(MODELS[0]))                      # the same keyword, another threshold: another model
    meta = json.loads(other.metadata_props[0].value)
    meta["threshold"] = 0.5
    other.metadata_props[0].value = json.dumps(meta)
    onnx.save(other, str(tmp_path / "other.onnx"))
    r = speechseq("detect", "--json", "--model", MODELS[0], "--model", tmp_path / "other.onnx", path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert [d["keyword"] for d in json.loads(r.stdout)["detections"]] == ["activate", "activate"]
    assert (f"--model {MODELS[0]} and --model {tmp_path / 'other.onnx'} both detect 'activate': their events "
            "carry the same name") in r.stderr
