"""Tiny models for the listener tests, overfitted in seconds to the shipped demo recording.

data/samples/activate_kitchen_lights.wav: 1 s of silence, "activate" (ends near 1.68 s), 1 s,
"turn on the kitchen lights" (about 2.68-4.08 s), 1 s of silence. The detector learns to fire
just after "activate"; the recogniser learns "activate" and "turn on the kitchen lights" from
random crops around them; its chunked twin is fine-tuned from it in chunked mode, as the shipped
one is (speechseq.train.stream_finetune). All are exported as shipped models are, so
the listener, the command and the audio stack are tested end to end without the shipped models.
They are committed in tests/fixtures/listener (about 0.5 MB, a few minutes of CPU to train);
`python -m tests.listener_fixtures` remakes them (needed if an exporter's format changes).

    from tests.listener_fixtures import tiny_models   # noqa: F401  (session fixture)
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
KEYWORD_END_S = 1.68
COMMAND = "turn on the kitchen lights"
COMMAND_SPAN_S = (2.6, 4.15)
FIXTURES = ROOT / "tests" / "fixtures" / "listener"

__all__ = ["TinyModels", "tiny_models", "make_tiny_models", "SAMPLE", "KEYWORD_END_S", "COMMAND",
           "activate_without_end_table", "listening_with_exec"]


def activate_without_end_table(folder: Path) -> Path:
    """A copy of models/activate.onnx in `folder` without its "end_offset_table" (written in session 46): events end
    where they did before, 80 ms earlier on the demo, so that a recording starts where tests built on that start had
    it (the onset bound pushing a word, the chunked recogniser's greedy text rewriting words)."""
    import shutil

    from speechseq.runtime.onnx import read_metadata, write_metadata

    model = Path(folder) / "activate.onnx"
    shutil.copyfile(ROOT / "models" / "activate.onnx", model)
    write_metadata(model, {k: v for k, v in read_metadata(model).items() if k != "end_offset_table"})
    return model


@dataclass(frozen=True)
class TinyModels:
    detector: Path
    recognizer: Path
    stream: Path


def listening_with_exec(models: TinyModels, tmp_path: Path, child: str, args: str, started: Path,
                        restore: signal.Signals, stdout: int = subprocess.PIPE) -> subprocess.Popen:
    """`speechseq listen --json` in real time on the demo recording followed by 60 s of silence (still listening
    long after the command's final), in a session of its own as a terminal's foreground job is, with --exec running
    the Python script `child` (written to tmp_path/child.py) with `args`; returned once the command wrote the file
    `started`. `restore` is set back to its default action in listen: a shell's background job ignores SIGINT and
    nohup SIGHUP, and listen would inherit that."""
    audio, rate = sf.read(SAMPLE, dtype="float32")
    wav = tmp_path / "then-silence.wav"
    sf.write(wav, np.concatenate([audio, np.zeros(60 * rate, np.float32)]), rate)
    script = tmp_path / "child.py"
    script.write_text(child)
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "listen", "--input", str(wav), "--json",
                             "--keyword-model", str(models.detector), "--model", str(models.recognizer),
                             "--no-partials", "--lm", "none", "--decoder", "greedy",
                             "--exec", f"{sys.executable} {script} {args}"],
                            cwd=ROOT, stdout=stdout, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(restore, signal.SIG_DFL))
    try:
        for _ in range(1200):
            if started.is_file() and started.read_text() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None and started.is_file() and started.read_text(), (
            proc.stderr.read() if proc.poll() is not None else f"no {started} in 60 s")
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        raise
    return proc


def _train_detector(audio: np.ndarray, out: Path, seed: int = 0) -> None:
    import torch

    from speechseq.frontend import FrontendConfig, logmel
    from speechseq.nn.detector import Detector, DetectorConfig
    from speechseq.train.export_detector import export_detector

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    cfg = DetectorConfig(n_mels=40, conv_channels=24, kernel=9, stride=4, hidden=24, layers=1, dropout=0.0)
    fe_cfg = FrontendConfig(n_mels=40, floor=cfg.floor)
    model = Detector(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    step_s = cfg.stride / 100
    for it in range(120):
        xs, ys = [], []
        for _ in range(8):
            # Shift the recording by padding or cutting silence at the start; also vary the gain.
            shift = int(rng.integers(-8000, 16000))
            a = np.concatenate([np.zeros(max(shift, 0), np.float32), audio[max(-shift, 0):]])[: 16000 * 5]
            a = np.pad(a, (0, 16000 * 5 - len(a))) * float(10 ** rng.uniform(-0.5, 0.3))
            a = a + rng.normal(0, 10 ** rng.uniform(-4, -2.5), len(a)).astype(np.float32)
            f = logmel(a.astype(np.float32), fe_cfg)
            f = f[: cfg.stride * (len(f) // cfg.stride)]
            end = KEYWORD_END_S + shift / 16000
            t = (np.arange(len(f) // cfg.stride) + 1) * step_s
            xs.append(f)
            ys.append(((t > end + 0.02) & (t < end + 0.4)).astype(np.float32))
        x, y = torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y, pos_weight=torch.tensor(4.0))
        opt.zero_grad()
        loss.backward()
        opt.step()
    export_detector(model.eval(), out, {"keyword": "activate", "threshold": 0.5, "smoothing_steps": 1,
                                        "refractory_s": 1.0, "keyword_duration_s": 0.5})


def _crops(audio_feats: np.ndarray, rng: np.random.Generator, it: int) -> tuple[list[np.ndarray], list[str]]:
    spans = [((0.9, 1.95), "activate"), (COMMAND_SPAN_S, COMMAND), ((0.0, 1.1), "")]
    xs, ts = [], []
    for k in range(3):
        (a, b), text = spans[k]
        lead = rng.uniform(0.0, 0.9) if it % 2 else rng.uniform(0.1, 0.4)   # as the listener cuts it: ~0.3 s
        s = max(0.0, a - (lead if text == COMMAND else rng.uniform(0.0, 0.2)))
        e = min(len(audio_feats) / 100, b + rng.uniform(0.0, 1.0))
        xs.append(audio_feats[int(s * 100) : int(e * 100)])
        ts.append(text)
    return xs, ts


def _fit(model, feats: np.ndarray, steps: int, lr: float, chunked: bool, seed: int) -> None:
    """CTC on random crops; chunked=True: the chunked loss (+ 0.3 x offline), as stream_finetune does."""
    import torch

    from speechseq.nn.streaming import chunked_forward
    from speechseq.text import encode

    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    ctc = torch.nn.CTCLoss(zero_infinity=True)
    model.train()
    for it in range(steps):
        xs, texts = _crops(feats, rng, it)
        n = max(len(x) for x in xs)
        x = torch.from_numpy(np.stack([np.pad(v, ((0, n - len(v)), (0, 0)), constant_values=float(v.min())) for v in xs]))
        lengths = torch.tensor([len(v) for v in xs])
        ids = [encode(t) for t in texts]
        targets = torch.tensor([c for t in ids for c in t], dtype=torch.long)
        target_lengths = torch.tensor([len(t) for t in ids])
        lp, out_len = model(x, lengths)
        loss = ctc(lp.transpose(0, 1), targets, out_len, target_lengths)
        if chunked:
            c, r = ((10, 5), (20, 10), (40, 20))[it % 3]
            lp_c = chunked_forward(model, x, c, r, lengths)
            loss = ctc(lp_c.transpose(0, 1), targets, out_len, target_lengths) + 0.3 * loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    model.eval()


def _train_recognizer(audio: np.ndarray, out: Path, stream_out: Path, seed: int = 0, steps: int = 1500,
                      stream_steps: int = 500) -> None:
    """The offline model (whole utterances), then its chunked twin fine-tuned from it, as shipped."""
    import torch

    from speechseq.frontend import FrontendConfig, logmel
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.export_recognizer import export_recognizer

    torch.manual_seed(seed)
    fe = FrontendConfig(n_mels=80)
    feats = logmel(audio, fe)
    model = Recognizer(RecognizerConfig(n_mels=80, front="conv", stride=2, front_dim=64, hidden=64, layers=2,
                                        dropout=0.0))
    model.set_normalization(torch.from_numpy(feats.mean(0)), torch.from_numpy(feats.std(0)))
    _fit(model, feats, steps, 1e-2, chunked=False, seed=seed)
    export_recognizer(model, out, {"note": "test fixture"}, fe.to_dict())
    _stream_twin(out, stream_out, feats, stream_steps, seed)


def _stream_twin(offline: Path, stream_out: Path, feats: np.ndarray, steps: int, seed: int = 0) -> None:
    import torch

    from speechseq.runtime.streaming_recognizer import source_digest
    from speechseq.train.export_streaming import export_streaming, recognizer_from_onnx

    torch.manual_seed(seed + 1)
    model, meta = recognizer_from_onnx(offline)
    _fit(model, feats, steps, 2e-3, chunked=True, seed=seed + 1)
    export_streaming(model, stream_out, {**meta, "source_digest": source_digest(meta)})


def make_tiny_models(out_dir: Path) -> TinyModels:
    from speechseq.audio import load_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    audio = load_audio(SAMPLE)
    m = TinyModels(out_dir / "activate.onnx", out_dir / "recognizer.onnx", out_dir / "recognizer.stream.onnx")
    _train_detector(audio, m.detector)
    _train_recognizer(audio, m.recognizer, m.stream)
    return m


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """The committed fixture models (tests/fixtures/listener), or freshly trained ones when absent."""
    m = TinyModels(FIXTURES / "activate.onnx", FIXTURES / "recognizer.onnx", FIXTURES / "recognizer.stream.onnx")
    if all(p.is_file() for p in (m.detector, m.recognizer, m.stream)):
        return m
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return make_tiny_models(tmp_path_factory.mktemp("tiny-listener-models"))
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__":  # regenerate the committed fixtures: python -m tests.listener_fixtures
    import torch

    torch.set_num_threads(1)
    made = make_tiny_models(FIXTURES)
    print("\n".join(f"wrote {p} ({p.stat().st_size} bytes)" for p in (made.detector, made.recognizer, made.stream)))
