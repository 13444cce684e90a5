"""Training the recogniser: a tiny model learns three synthesized sentences exactly, and the
`speechseq train recognizer` command trains, validates, checkpoints and exports."""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.metrics import cer, wer  # noqa: E402
from speechseq.nn.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from speechseq.train.feataug import AugmentConfig  # noqa: E402
from speechseq.train.featbank import featurize  # noqa: E402
from speechseq.train.recognizer import (FRONTEND, TrainOptions, ctc_loss_fn, feature_stats, make_batches,  # noqa: E402
                                        recognize_bank)
from speechseq.train.synth import Voice, synthesize  # noqa: E402

SENTENCES = ("turn on the light", "open the door", "what time is it")


class _Utt:
    def __init__(self, text: str, audio: np.ndarray) -> None:
        self.text, self.audio, self.offset, self.end = text, audio, None, None


@pytest.fixture(scope="module")
def three_sentences():
    utts = [_Utt(t, synthesize(t, Voice("espeak-ng", "en-us"))) for t in SENTENCES]
    return featurize(utts, FRONTEND, "synth", load=lambda u: u.audio, progress=False)


def test_tiny_model_overfits_three_sentences_to_zero_cer(three_sentences):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    bank = three_sentences
    model = Recognizer(RecognizerConfig(hidden=48, front_dim=48, layers=2, dropout=0.0))
    mean, std = feature_stats(bank)
    model.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
    opts = TrainOptions(augment=AugmentConfig.off())
    batch = next(make_batches(bank, 0, opts, augment=False))
    loss_fn = ctc_loss_fn(opts)
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    first, hyps = None, []
    for step in range(400):
        model.train()
        loss, _ = loss_fn(model, batch)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        if step % 20 == 19:
            hyps = recognize_bank(model, bank)
            if cer(bank.texts, hyps).rate == 0.0:
                break
    assert hyps == list(SENTENCES), hyps
    assert float(loss) < 0.1 * first


def test_train_eval_export_commands(tmp_path, three_sentences, capsys):
    from speechseq.cli import main
    from speechseq.runtime.onnx import read_metadata
    from speechseq.runtime.recognizer import Recognizer as OnnxRecognizer

    import soundfile as sf

    rows = []
    for k, t in enumerate(SENTENCES * 4):
        audio = synthesize(t, Voice("espeak-ng", ("en-us", "en-gb", "en-us+f3", "en-gb+m3")[k // 3]))
        sf.write(tmp_path / f"{k}.wav", audio, 16000)
        rows.append({"audio_filepath": f"{k}.wav", "duration": len(audio) / 16000, "text": t})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    args = ["train", "recognizer", "--manifest", str(tmp_path / "m.jsonl"), "--val-manifest", str(tmp_path / "m.jsonl"),
            "--out", str(out), "--hidden", "32", "--layers", "1", "--no-augment", "--lr", "5e-3"]
    assert main(args + ["--epochs", "2"]) == 0
    said = capsys.readouterr().err   # the checkpoint, and how to run it (the export below, as said)
    assert f"best checkpoint: {out / 'best.pt'}" in said
    assert f"speechseq export {out / 'best.pt'} --out MODEL.onnx --int8" in said
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 2 and "val_wer" in hist[0] and (out / "curve.png").exists()
    assert main(args + ["--epochs", "3"]) == 0  # resumes: one more epoch
    assert len(json.loads((out / "history.json").read_text())) == 3
    assert main(["export", str(out / "best.pt"), "--out", str(tmp_path / "r.onnx"), "--int8"]) == 0
    meta = read_metadata(tmp_path / "r.int8.onnx")
    assert meta["kind"] == "recognizer" and meta["model_config"]["hidden"] == 32
    assert isinstance(OnnxRecognizer(tmp_path / "r.onnx").recognize(synthesize("yes", Voice("espeak-ng", "en-us"))).text,
                      str)
    assert main(["eval", "recognizer", "--manifest", str(tmp_path / "m.jsonl"), "--model", str(tmp_path / "r.int8.onnx"),
                 "--json", str(tmp_path / "e.json")]) == 0
    res = json.loads((tmp_path / "e.json").read_text())
    # the WER is the one of the hypotheses it lists; the RTF a positive figure (its size is the machine's, benchmarked)
    assert res["utterances"] == 12 and res["wer"] == pytest.approx(100 * wer(res["refs"], res["hyps"]).rate)
    assert np.isfinite(res["rtf"]) and res["rtf"] > 0
    assert len(res["hyps"]) == 12 and res["refs"][0] == SENTENCES[0]
