"""`speechseq train detector` as the README runs it: synthetic clips only, no background recordings."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("onnx")

from speechseq.commands.train_detector import generated_backgrounds  # noqa: E402

from . import cli_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _clips(tmp_path, word: str, n: int) -> list[str]:
    """n short tone bursts written as WAV files (stand-ins for spoken clips)."""
    paths = []
    for i in range(n):
        t = np.arange(int(16000 * (0.3 + 0.1 * i))) / 16000
        p = tmp_path / f"{word}-{i}.wav"
        sf.write(p, 0.4 * np.sin(2 * np.pi * (200 + 50 * i) * t), 16000)
        paths.append(str(p))
    return paths


def test_generated_backgrounds_validate_a_run_without_background_recordings(tmp_path):
    from speechseq.train.kwbank import BankItem

    items = [BankItem(p, "neg") for p in _clips(tmp_path, "neg", 6)] + \
        [BankItem(p, "val_neg") for p in _clips(tmp_path, "held", 2)] + [BankItem(str(tmp_path / "gone.wav"), "neg")]
    alone = generated_backgrounds(items, seconds=2)
    given = generated_backgrounds(items + [BankItem("room.wav", "val_bg")], seconds=2)
    assert sorted(r for _, r in alone.values()) == ["bg"] * 4 + ["val_bg"] * 3
    assert sorted(given) == ["babble", "brown", "pink", "white"]
    for name, (audio, _) in given.items():           # the training draws are the same either way
        np.testing.assert_array_equal(alone[name][0], audio)
    for k in ("white", "pink", "brown"):             # validation noise is a draw of its own
        assert alone[f"val-{k}"][0].shape == alone[k][0].shape == (32000,)
        assert abs(np.corrcoef(alone[f"val-{k}"][0], alone[k][0])[0, 1]) < 0.5
    assert "val-babble" not in alone                 # sound-alikes' babble is too keyword-like to validate on
    b = alone["babble"][0]                           # the 6 readable negatives (the missing one left out), peak 0.5
    assert np.max(np.abs(b)) == pytest.approx(0.5) and 0.1 < np.mean(np.abs(b) > 1e-4) < 1.0


def _yes_no_synth(tmp_path) -> Path:
    """A make_synth_data.py-style folder: "yes" and "no" in six espeak-ng voices, two of them held out."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system.sh)")
    from speechseq.train.synth import Voice, synthesize

    synth = tmp_path / "kw-yes"
    (synth / "audio").mkdir(parents=True)
    voices = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-us+m3"]
    for word, manifest in (("yes", "positives.jsonl"), ("no", "negatives.jsonl")):
        rows = []
        for i, v in enumerate(voices):
            name = f"audio/{word}-{i}.wav"
            sf.write(synth / name, 0.5 * synthesize(word, Voice("espeak-ng", v)), 16000)
            rows.append({"audio_filepath": name, "text": word, "engine": "espeak-ng", "voice": v,
                         "heldout": i >= 4})
        (synth / manifest).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return synth


def _yes_argv(synth: Path, out: Path, *options: str) -> list[str]:
    return ["train", "detector", "--keyword", "yes", "--synth", str(synth), "--out", str(out), "--epochs", "1",
            "--steps", "3", "--batch", "8", "--workers", "1", *options]


def _train_yes_process(synth: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """The run as a command of its own (`python -m speechseq`): what a user's shell starts."""
    return subprocess.run([sys.executable, "-m", "speechseq", *_yes_argv(synth, out, *options)],
                          capture_output=True, text=True, timeout=300)


def _train_yes(synth: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """The same run in this process (speechseq.cli.main): no interpreter and torch to start again for each of a
    test's runs (~10 s each); the exit code, stdout and stderr as the command's."""
    return _in_process(_yes_argv(synth, out, *options))


def _in_process(argv: list[str]) -> subprocess.CompletedProcess:
    code, stdout, stderr = cli_run.run(*argv)
    return subprocess.CompletedProcess(["speechseq", *argv], code, stdout, stderr)


@pytest.fixture(scope="module")
def validated_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """The "yes" / "no" folder, and the README's custom-keyword run on it (--synth only, --average 3) as a command
    of its own into OUT: (the folder, OUT, the command's result). Made once: the test of that run asserts on it, and
    the --init test starts from OUT, reading it only."""
    root = tmp_path_factory.mktemp("validated")
    synth, out = _yes_no_synth(root), root / "run"
    return synth, out, _train_yes_process(synth, out, "--average", "3")  # the command itself: its stderr is real


def test_train_detector_with_synthetic_clips_only_is_validated(validated_run):
    """The README's custom-keyword path (--synth only): each epoch reports false rejects at the target
    false-accept rate, and the exported model carries the threshold that validation chose."""
    from speechseq.metrics import threshold_text
    from speechseq.runtime.onnx import read_metadata

    _, out, r = validated_run
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no --backgrounds" in r.stderr and "no held-out" not in r.stderr
    assert "Converting a tensor" not in r.stderr and "batch_size other than 1" not in r.stderr  # export is quiet
    history = json.loads((out / "history.json").read_text())
    assert {"val_frr_at_fa", "val_threshold", "val_fa_per_h"} <= set(history[-1])
    meta = read_metadata(out / "yes.onnx")
    assert meta["threshold"] == pytest.approx(history[-1]["val_threshold"])
    assert meta["metrics"]["val_frr_at_fa"] == history[-1]["val_frr_at_fa"]
    assert meta["members"] == 1 and "warps" not in meta
    assert meta["mix"]["range_db"] == 60.0  # trained on the frames the runtime's floor guard gives, by default
    frr, th = 100 * history[-1]["val_frr_at_fa"], history[-1]["val_threshold"]
    assert f"threshold {threshold_text(th)}: on held-out clips it missed {frr:.1f} %" in r.stdout  # the run's summary
    # the exported weights are the mean of the last epochs' (one here), validated afresh: the same numbers
    assert meta["checkpoint"] == "mean of the EMA weights of epochs 1" and (out / "final.pt").is_file()
    assert "(mean of the EMA weights of epochs 1)" in r.stdout


def synth_run_argv(out) -> list[str]:
    """`train detector` of "yes" into `out` that synthesizes its own data with flite, at the least that trains: one
    epoch of two steps."""
    return ["train", "detector", "--keyword", "yes", "--out", str(out), "--synth-engines", "flite", "--epochs", "1",
            "--steps", "2", "--batch", "8", "--workers", "1"]


def test_train_detector_synthesizes_its_data_when_given_none(tmp_path):
    """`speechseq train detector --keyword K --out OUT` alone: the keyword and negatives are synthesized into OUT/synth
    (as `speechseq synth keyword` makes them), trained on and validated on their held-out voices; a rerun
    resumes without synthesizing again."""
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (scripts/install-system.sh)")
    out = tmp_path / "run"
    argv = synth_run_argv(out)
    r = subprocess.run([sys.executable, "-m", "speechseq", *argv], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f'synthesizing "yes" and negatives into {out / "synth"}' in r.stderr  # a line of progress, not a result
    pos = [json.loads(line) for line in (out / "synth/positives.jsonl").read_text().splitlines()]
    neg = [json.loads(line) for line in (out / "synth/negatives.jsonl").read_text().splitlines()]
    assert len(pos) >= 100 and len(neg) == len(pos) and {p["engine"] for p in pos} == {"flite"}  # >= 100 an engine
    assert {p["text"] for p in pos} == {"yes"} and not any(n["text"] == "yes" for n in neg)
    assert any(p["heldout"] for p in pos) and not all(p["heldout"] for p in pos)
    assert "no held-out" not in r.stderr                       # validated on the held-out voices' clips
    assert (out / "yes.onnx").is_file() and "threshold" in r.stdout
    again = _in_process(argv)               # resumed (in this process from here on): nothing made again
    assert again.returncode == 0, again.stderr[-2000:]
    assert "synthesizing" not in again.stderr
    # the same command's --synth-engines made the data it resumes on: not "ignored here" (it was said on every rerun)
    assert "ignored" not in again.stderr, again.stderr[-2000:]
    text = tmp_path / "phrases.txt"
    text.write_text("a few words of text\n")
    other = _in_process(argv + ["--synth-text", str(text)])
    assert other.returncode == 0, other.stderr[-2000:]                 # a synthesis option the bank was not made with
    assert "synthesizing" not in other.stderr and "--synth-text" in other.stderr and "ignored" in other.stderr
    base = ["train", "detector", "--keyword", "yes", "--epochs", "1"]
    bad = _in_process(base + ["--out", str(tmp_path / "other"), "--synth-engines", "nope"])
    assert bad.returncode == 2 and "invalid choice: 'nope'" in bad.stderr and "Traceback" not in bad.stderr
    gone = tmp_path / "gone.txt"  # a missing text file: one line, before anything is synthesized
    bad = _in_process(base + ["--out", str(tmp_path / "third"), "--synth-text", str(gone)])
    assert bad.returncode == 1 and f"--synth-text: {gone}: no such file" in bad.stderr
    assert "synthesizing" not in bad.stderr and not (tmp_path / "third/synth").exists()


def test_train_detector_exports_the_warped_ensemble(tmp_path):
    """With --warps 0.85 1.1 the exported model hears the input at mel warps 0.85, 1 and 1.1 and fires on the
    highest posterior, at the threshold validation chose for that ensemble; a rerun with other warps
    re-exports from the finished run, and one without them the model alone."""
    import onnxruntime as ort
    import torch

    from speechseq.nn.detector import Detector, DetectorConfig
    from speechseq.runtime.onnx import read_metadata

    synth, out = _yes_no_synth(tmp_path), tmp_path / "run"
    r = _train_yes(synth, out, "--warps", "0.85", "1.1")
    assert r.returncode == 0, r.stderr[-2000:]
    meta = read_metadata(out / "yes.onnx")
    assert meta["warps"] == [0.85, 1.0, 1.1] and meta["members"] == 3 and meta["combine"] == "max"
    assert meta["layers"] == 3 * DetectorConfig().layers                    # the members' GRU states, stacked
    assert meta["checkpoint"] == "the EMA weights of epoch 1, heard at mel warps 0.85, 1, 1.1"
    assert meta["threshold"] == meta["metrics"]["val_threshold"]            # the ensemble's own validation,
    assert meta["val_neg_hours"] >= 2.9                                     # on 3 h of mixes, not the epochs' 1 h
    assert f"threshold {meta['threshold']:.2f}:" in r.stdout
    # the file's posterior is the maximum of the best epoch's model over the three warped inputs
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=False)
    model = Detector(DetectorConfig.from_dict(ck["model_config"]))
    model.load_state_dict(ck["model"])
    model.eval()
    x = torch.randn(1, 48, 40) * 3 - 6
    with torch.no_grad():
        each = [torch.sigmoid(model.warped(a)(x)) for a in (0.85, 1.0, 1.1)]
    sess = ort.InferenceSession(str(out / "yes.onnx"))
    ctx = np.full((1, meta["context"], 40), np.log(meta["frontend"]["floor"]), np.float32)
    probs = sess.run(["probs"], {"features": x.numpy(), "context": ctx,
                                 "hidden": np.zeros((meta["layers"], 1, meta["hidden"]), np.float32)})[0]
    np.testing.assert_allclose(probs, torch.stack(each).amax(0).numpy(), atol=1e-5)
    assert not np.allclose(each[0].numpy(), each[2].numpy(), atol=1e-3)    # the warps do change what it hears
    r = _train_yes(synth, out, "--warps", "0.9")                            # resumed: re-exported at other warps
    assert r.returncode == 0, r.stderr[-2000:]
    assert read_metadata(out / "yes.onnx")["warps"] == [0.9, 1.0]
    assert _train_yes(synth, out).returncode == 0                           # without --warps: the model alone
    assert "warps" not in read_metadata(out / "yes.onnx") and read_metadata(out / "yes.onnx")["members"] == 1
    assert _train_yes(synth, out, "--warps", "3").returncode != 0           # out of range: an error, not a run


def test_held_out_sound_alikes_do_not_set_the_threshold(tmp_path):
    """Validation counts false accepts per hour of ordinary words and phrases: held-out sound-alikes
    ("amalia" for "amelia") are left out of it; the training ones stay negatives, as do held-out words."""
    from speechseq.commands.train_detector import items_from

    rows = [("amalia", "sound-alike", False), ("emilia", "sound-alike", True), ("window", "word", True),
            ("the old house", "phrase", False)]
    (tmp_path / "negatives.jsonl").write_text("".join(
        json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t, "kind": k, "heldout": h, "engine": "pico"}) + "\n"
        for i, (t, k, h) in enumerate(rows)))
    got = [(it.text, it.role) for it in items_from([str(tmp_path / "negatives.jsonl")], "neg", "amelia")]
    assert got == [("amalia", "neg"), ("window", "val_neg"), ("the old house", "neg")]


def test_manifests_evaluation_rows_are_never_trained_on_whatever_their_case(tmp_path):
    """train detector left out a manifest's dev and test rows but trained on Speech Commands' validation rows, and
    read a manifest named X.JSONL as an audio file (since the file lists call a manifest named as audio one)."""
    from speechseq.commands.train_detector import items_from

    rows = [("window", "train"), ("garden", "validation"), ("river", "test"), ("the old house", None)]
    (tmp_path / "NEG.JSONL").write_text("".join(
        json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t, **({"split": sp} if sp else {})}) + "\n"
        for i, (t, sp) in enumerate(rows)))
    got = sorted(it.text for it in items_from([str(tmp_path / "NEG.JSONL")], "neg", "amelia"))
    assert got == ["the old house", "window"]


def test_reweight_sources_scales_the_named_sources_only():
    from speechseq.train.kwbank import reweight_sources

    bank = {"meta": {"roles": {"pos": {"sources": ["espeak-ng", "piper", "mine"]}}},
            "pos/source": np.array([0, 1, 2, 1], np.int16), "pos/weight": np.array([1.0, 1.0, 2.0, 0.5], np.float32)}
    out = reweight_sources(bank, "pos", {"piper": 4.0, "festival": 4.0})
    np.testing.assert_allclose(out["pos/weight"], [1.0, 4.0, 2.0, 2.0])
    np.testing.assert_allclose(bank["pos/weight"], [1.0, 1.0, 2.0, 0.5])  # the bank given is left as it was
    assert reweight_sources(bank, "neg", {"piper": 4.0}) == bank          # a role the bank lacks: unchanged


def _run_with_snapshots(run, epochs=4) -> list[dict]:
    """A run directory as `train_detector` leaves it (last.pt, snapshots/epoch_*.pt) with random tiny
    weights; returns the snapshots' state dicts."""
    import torch

    from speechseq.nn.detector import Detector, DetectorConfig

    cfg = DetectorConfig(conv_channels=8, hidden=8, layers=1)
    (run / "snapshots").mkdir(parents=True)
    states = []
    for epoch in range(1, epochs + 1):
        torch.manual_seed(epoch)
        states.append(Detector(cfg).eval().state_dict())
        torch.save({"model": states[-1], "epoch": epoch}, run / "snapshots" / f"epoch_{epoch:03d}.pt")
    torch.save({"kind": "detector", "model": states[-1], "model_config": cfg.to_dict(), "epoch": epochs,
                "extra": {"keyword": "yes"}}, run / "last.pt")
    return states


def test_averaged_checkpoint_is_the_mean_of_the_last_snapshots(tmp_path):
    import torch

    from speechseq.train.detector import averaged_checkpoint

    states = _run_with_snapshots(tmp_path)
    ck = averaged_checkpoint(tmp_path, 3)
    w = "conv.weight"
    torch.testing.assert_close(ck["model"][w], (states[1][w] + states[2][w] + states[3][w]) / 3)
    assert ck["averaged"] == ["epoch_002.pt", "epoch_003.pt", "epoch_004.pt"]
    assert ck["extra"] == {"keyword": "yes"}                     # no validation given: nothing measured
    with pytest.raises(FileNotFoundError):
        averaged_checkpoint(tmp_path / "snapshots", 3)


def test_detector_epochs_exports_single_epochs_and_means(tmp_path):
    """scripts/detector_epochs.py: one ONNX file per epoch asked for and per span averaged, each the
    weights it names (a missing epoch is an error, not a traceback)."""
    import torch

    from speechseq.runtime.detector import KeywordModel

    states = _run_with_snapshots(tmp_path / "run")
    script = [sys.executable, str(ROOT / "scripts" / "detector_epochs.py"), str(tmp_path / "run")]
    r = subprocess.run([*script, "--epochs", "2-3", "--average", "2-4", "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    names = sorted(p.parent.name for p in (tmp_path / "out").glob("*/yes.onnx"))
    assert names == ["a02-04", "e02", "e03"] and r.stdout.split() == [str(tmp_path / "out" / n / "yes.onnx")
                                                                      for n in ("e02", "e03", "a02-04")]
    w = "conv.weight"
    mean = torch.load(tmp_path / "out" / "a02-04" / "ck.pt", weights_only=False)["model"][w]
    torch.testing.assert_close(mean, (states[1][w] + states[2][w] + states[3][w]) / 3)
    e3 = torch.load(tmp_path / "out" / "e03" / "ck.pt", weights_only=False)["model"][w]
    torch.testing.assert_close(e3, states[2][w])
    assert KeywordModel(tmp_path / "out" / "e03" / "yes.onnx").keyword == "yes"
    r = subprocess.run([*script, "--epochs", "4-6", "--out", str(tmp_path / "out2")], capture_output=True, text=True)
    assert r.returncode == 2 and "epoch_005.pt" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("flag", [["--average", "-1"], ["--natural-weight", "0"], ["--range-db", "-1"],
                                  ["--seed", str(2**64)], ["--init", ""]])
def test_train_detector_rejects_bad_settings(tmp_path, flag):
    """A seed torch cannot take was a traceback once the feature bank was built; `--init ""` (a variable left
    unset) trained from random weights without a word."""
    r = subprocess.run([sys.executable, "-m", "speechseq", "train", "detector", "--keyword", "yes", "--out",
                        str(tmp_path / "run"), "--positives", str(tmp_path), *flag], capture_output=True, text=True)
    assert r.returncode != 0 and flag[0] in r.stderr and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]   # the error's one line (after argparse's usage), before any work
    assert "error:" in last and flag[0] in last and not (tmp_path / "run").exists()


def test_train_detector_init_starts_from_a_trained_run(tmp_path, validated_run):
    """--init RUN starts the whole model, output layer included, from that run's best.pt (fine-tuning to a
    speaker's own clips): at a learning rate of ~0 the first epoch's weights are the run's, where a run
    without it starts elsewhere; a checkpoint that is not a detector's is a clear error."""
    import torch

    from speechseq.runtime.detector import KeywordModel

    synth, run, made = validated_run       # a run of 1 epoch on the same folder, started from random weights
    assert made.returncode == 0, made.stderr[-2000:]
    base = torch.load(run / "best.pt", map_location="cpu", weights_only=False)["model"]

    def first_epoch(out, *options):
        r = _train_yes(synth, out, "--lr", "1e-12", "--seed", "1", *options)
        assert r.returncode == 0, r.stderr[-2000:]
        return torch.load(out / "snapshots" / "epoch_001.pt", map_location="cpu", weights_only=False)["model"]

    tuned = first_epoch(tmp_path / "tuned", "--init", str(run))
    fresh = first_epoch(tmp_path / "fresh")
    for k in ("conv.weight", "gru.weight_hh_l1", "out.weight", "out.bias"):
        torch.testing.assert_close(tuned[k], base[k], atol=1e-6, rtol=0)
        assert (fresh[k] - base[k]).abs().max() > 1e-3
    assert (tmp_path / "tuned" / "yes.onnx").is_file()
    # an exported file (a shipped model) as the start: its posteriors carry over, though not its parametrisation
    first_epoch(tmp_path / "tuned-onnx", "--init", str(run / "yes.onnx"))
    feats = np.random.default_rng(0).normal(-6.0, 3.0, (48, 40)).astype(np.float32)
    start, from_file, other = (KeywordModel(d / "yes.onnx") for d in (run, tmp_path / "tuned-onnx",
                                                                        tmp_path / "fresh"))
    posts = [m.run(feats, *m.initial_state())[0] for m in (start, from_file, other)]
    assert np.abs(posts[0] - posts[1]).max() < 0.1 * np.abs(posts[0] - posts[2]).max()
    mine = tmp_path / "mine"                          # a speaker's own clips, no real backgrounds: a warning
    mine.mkdir()
    _clips(mine, "yes", 3)
    r = _train_yes(synth, tmp_path / "own", "--init", str(run), "--positives", f"{mine}:50")
    assert r.returncode == 0 and "--init with your own --positives but no --backgrounds" in r.stderr
    r = _train_yes(synth, tmp_path / "bad", "--init", str(run / "bank.npz"))
    assert r.returncode != 0 and "--init" in r.stderr and "Traceback" not in r.stderr
    r = _train_yes(synth, tmp_path / "bad2", "--init", str(tmp_path / "nowhere"))
    assert r.returncode != 0 and "no such checkpoint" in r.stderr and "Traceback" not in r.stderr


def test_a_folder_of_recordings_with_bad_and_odd_files(tmp_path):
    """The course's raw_data/activates as people fill it: a subfolder, FLAC, an upper-case .WAV in stereo at
    44.1 kHz, .DS_Store and a folder named x.wav among the clips are taken as they are; an empty file, a text
    file named .wav, a 10-ms clip and a 30-s "positive" are each one line on stderr and skipped (the two last
    were trained on: a 30-s clip never fits a 10-s example); the line the command prints counts what it used."""
    import contextlib
    import io

    from speechseq.cli import main
    from speechseq.train.kwbank import load_bank

    act, neg = tmp_path / "raw_data" / "activates", tmp_path / "raw_data" / "negatives"
    act.mkdir(parents=True)
    neg.mkdir()
    _clips(act, "yes", 6)
    _clips(neg, "no", 6)
    (act / "sub").mkdir()
    tone = 0.4 * np.sin(2 * np.pi * 300 * np.arange(int(44100 * 0.4)) / 44100)
    sf.write(act / "sub" / "yes-6.flac", tone[::3][:6400], 14700)
    sf.write(act / "yes-7.WAV", np.stack([tone, 0.5 * tone], axis=1), 44100)
    (act / ".DS_Store").write_bytes(b"\0\1" * 32)
    (act / "x.wav").mkdir()
    (act / "empty.wav").write_bytes(b"")
    (act / "text.wav").write_text("not audio\n")
    burst = 0.4 * np.sin(2 * np.pi * 300 * np.arange(16000 // 100) / 16000)
    sf.write(act / "tiny.wav", burst, 16000)                        # 10 ms
    said = np.zeros(30 * 16000)
    for s in (0, 10, 20, 29):                                       # "yes" said four times in 30 s
        said[s * 16000: s * 16000 + 4800] = 0.4 * np.sin(2 * np.pi * 300 * np.arange(4800) / 16000)
    sf.write(act / "long.wav", said, 16000)
    room = np.random.default_rng(3).standard_normal(12 * 16000) * 0.01   # a room, given as a negative: said once
    sf.write(neg / "room.wav", room, 16000)
    out, stdout, stderr = tmp_path / "run", io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "detector", "--keyword", "yes", "--out", str(out), "--positives", str(act),
                     "--negatives", str(neg), "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1"])
    err = stderr.getvalue().replace("\r", "\n")
    assert code == 0, err[-2000:]
    for name in ("empty.wav", "text.wav", "tiny.wav", "long.wav"):
        assert len([line for line in err.splitlines() if "skipped" in line and name in line]) == 1, name
        assert name not in stdout.getvalue()
    assert "x.wav" not in err and ".DS_Store" not in err
    roles = load_bank(out / "bank.npz")["meta"]["roles"]
    used = roles["pos"]["clips"] + roles.get("val_pos", {}).get("clips", 0)
    assert used == 8 and roles["neg"]["clips"] + roles.get("val_neg", {}).get("clips", 0) == 7
    assert "data: 8 positives" in err and "7 negatives" in err and "; 4 files skipped" in err
    assert "1 negative clip(s) last longer than a 10 s training mix" in err
    _clips(act, "more-yes", 1)                                       # a take added to the folder since
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "detector", "--keyword", "yes", "--out", str(out), "--positives", str(act),
                     "--negatives", str(neg), "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1"])
    err = stderr.getvalue()
    assert code == 1 and "the same folders now hold" in err and "13 positive" in err, err[-1000:]
    (act / "more-yes-0.wav").unlink()                                # as many files again, but one re-recorded
    t = np.arange(int(16000 * 0.3)) / 16000
    sf.write(act / "yes-0.wav", 0.4 * np.sin(2 * np.pi * 260 * t), 16000)   # same length, other samples
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "detector", "--keyword", "yes", "--out", str(out), "--positives", str(act),
                     "--negatives", str(neg), "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1"])
    err = stderr.getvalue()
    assert code == 1 and "other files than the folders now hold" in err, err[-1000:]


def test_finetune_weight_average_leaves_little_of_the_start():
    from speechseq.train.detector import finetune_ema_decay

    assert finetune_ema_decay(600) ** 600 < 0.01 < 0.999 ** 600      # the README's 3 x 200 steps
    assert finetune_ema_decay(10 ** 6) == 0.999 and finetune_ema_decay(10) == 0.95


def test_average_without_held_out_clips_is_said_not_applied(tmp_path):
    """With nothing held out, best.pt (lowest training loss) is exported and --average is not applied: the warning
    said the first and not the second."""
    synth = _yes_no_synth(tmp_path)
    for manifest in ("positives.jsonl", "negatives.jsonl"):
        rows = [{**json.loads(line), "heldout": False} for line in (synth / manifest).read_text().splitlines()]
        (synth / manifest).write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = _train_yes(synth, tmp_path / "run", "--average", "2")
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no held-out" in r.stderr and "--average and --warps are not applied either (best.pt is exported)" in r.stderr


def _train_main(*argv: str) -> tuple[int, str]:
    """`speechseq train detector ARGV` in this process: (exit code, stderr)."""
    import contextlib
    import io

    from speechseq.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "detector", "--keyword", "yes", "--epochs", "1", "--steps", "2", "--batch", "4",
                     "--workers", "1", *argv])
    return code, stderr.getvalue()


def test_a_device_torch_cannot_use_is_one_line_before_any_work(tmp_path, monkeypatch):
    """--device cuda where torch sees no GPU (or a name torch knows no device by) was a traceback from deep in the
    mixer, after the feature bank had been built: one line, before anything is made."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    pos, neg = tmp_path / "pos", tmp_path / "neg"
    pos.mkdir()
    neg.mkdir()
    _clips(pos, "yes", 3)
    _clips(neg, "no", 3)
    for device, said in (("cuda", "--device cuda: torch sees no CUDA GPU here (use --device cpu)"),
                         ("gpu", "--device gpu: not a device torch knows")):
        out = tmp_path / f"run-{device}"
        code, err = _train_main("--out", str(out), "--positives", str(pos), "--negatives", str(neg),
                                "--device", device)
        assert code == 1 and said in err and "Traceback" not in err, err[-1500:]
        assert not (out / "bank.npz").exists()


def test_a_damaged_feature_bank_is_one_line_saying_what_to_do(tmp_path):
    """OUT/bank.npz cut short (a copy of the run folder, a full disk): one line naming it, where it was a
    BadZipFile traceback."""
    pos, neg, out = tmp_path / "pos", tmp_path / "neg", tmp_path / "run"
    for d in (pos, neg, out):
        d.mkdir()
    _clips(pos, "yes", 3)
    _clips(neg, "no", 3)
    for damage in (b"PK\x03\x04 cut short", b"not a bank at all"):
        (out / "bank.npz").write_bytes(damage)
        code, err = _train_main("--out", str(out), "--positives", str(pos), "--negatives", str(neg))
        assert code == 1 and "Traceback" not in err, err[-1500:]
        assert f"{out / 'bank.npz'}: cannot read the feature bank" in err and "delete it" in err


def test_a_manifest_that_is_not_jsonl_is_one_line_naming_its_line(tmp_path):
    from speechseq.commands.train_detector import items_from
    from speechseq.errors import SpeechseqError

    m = tmp_path / "clips.jsonl"
    for text, said in (('{"audio_filepath": "a.wav", "text": "yes"}\nnot json\n', f"{m}:2: not a JSON object"),
                       ('{"path": "a.wav", "text": "yes"}\n', f"{m}:1: no \"audio_filepath\""),
                       ('["a.wav"]\n', f"{m}:1: not a JSON object")):
        m.write_text(text)
        with pytest.raises(SpeechseqError, match="^" + said.replace("[", r"\[")):
            items_from([str(m)], "pos", "yes")
    m.write_bytes(b'{"audio_filepath": "a.wav"}\n\xff\xfe\n')
    with pytest.raises(SpeechseqError, match="not a UTF-8 text file"):
        items_from([str(m)], "neg", "yes")
    # a byte order mark and a null text are read as they are meant
    m.write_text('\ufeff{"audio_filepath": "a.wav", "text": null}\n', encoding="utf-8")
    assert [(Path(i.path).name, i.text) for i in items_from([str(m)], "neg", "yes")] == [("a.wav", "")]


def test_background_manifest_rows_that_say_the_keyword_are_left_out(tmp_path):
    """Real speech given as --backgrounds is mixed in as audio without the keyword (and its held-out rows count
    false accepts): a manifest row whose text says the keyword is left out, as among the negatives."""
    from speechseq.commands.train_detector import items_from

    rows = [("please activate the lights", "x"), ("the old house", "y"), ("it was activated", "z"),
            ("a quiet room", "w")]
    (tmp_path / "manifest.jsonl").write_text("".join(
        json.dumps({"audio_filepath": f"audio/{name}.wav", "text": t}) + "\n" for t, name in rows))
    got = [it.text for it in items_from([str(tmp_path / "manifest.jsonl")], "bg", "activate")]
    assert got == ["the old house", "a quiet room"]


def test_a_keyword_without_ascii_letters_keeps_the_manifests_rows(tmp_path):
    """The keyword check reads a-z only: for a keyword of none ("привет") it found the keyword in every text, so a
    manifest's negatives and backgrounds were all dropped ("no training negatives" for a synthesized set)."""
    from speechseq.commands.train_detector import items_from

    (tmp_path / "negatives.jsonl").write_text("".join(
        json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t, "heldout": False}) + "\n"
        for i, t in enumerate(["the old house", "window", "добрый день"])))
    for role in ("neg", "bg"):
        got = [it.text for it in items_from([str(tmp_path / "negatives.jsonl")], role, "привет")]
        assert got == ["the old house", "window", "добрый день"]
    assert [it.text for it in items_from([str(tmp_path / "negatives.jsonl")], "neg", "Window ")] == [
        "the old house", "добрый день"]


def test_a_source_held_out_whole_is_said_never_trained_on(tmp_path):
    """15 % of files are held out by a hash of the name: a source of one file can be held out whole (the README's
    `--backgrounds ../shared/data/noise`: doing_the_dishes.wav is), so it is never trained on. That was said
    nowhere (the data line did not count held-out backgrounds); a warning names the source."""
    from speechseq.train.manifests import name_pct

    pos, neg, room = tmp_path / "pos", tmp_path / "neg", tmp_path / "room"
    for d in (pos, neg, room):
        d.mkdir()
    _clips(pos, "yes", 6)
    _clips(neg, "no", 6)
    assert name_pct("room-4.wav") < 15 <= name_pct("yes-0.wav")
    sf.write(room / "room-4.wav", (0.05 * np.random.default_rng(0).standard_normal(16000 * 4)).astype(np.float32),
             16000)
    code, err = _train_main("--out", str(tmp_path / "run"), "--positives", str(pos), "--negatives", str(neg),
                            "--backgrounds", str(room))
    assert code == 0, err[-2000:]
    assert f"--backgrounds {room}: its 1 file is held out for validation" in err and "never trained on" in err
    assert "1 background file (1 held out)" in err
    assert f"--positives {pos}:" not in err and f"--negatives {neg}:" not in err  # they are trained on


def test_a_threshold_from_few_held_out_clips_is_warned_of(tmp_path):
    """Validation on a handful of held-out clips (3 of 20 keyword recordings, 1 of 6 negatives) chose the exported
    threshold without a word: a warning says how few they are and where to choose it instead."""
    pos, neg = tmp_path / "pos", tmp_path / "neg"
    pos.mkdir()
    neg.mkdir()
    _clips(pos, "yes", 20)   # yes-14, 18 and 19 are held out (15 % by a hash of the name), no-5 among the negatives
    _clips(neg, "no", 6)
    code, err = _train_main("--out", str(tmp_path / "run"), "--positives", str(pos), "--negatives", str(neg))
    assert code == 0, err[-2000:]
    assert "no held-out" not in err                                     # validated, on few clips
    assert "validation holds 3 held-out keyword clips and 1 held-out negative clip:" in err
    assert "eval detector" in err and "--save-threshold" in err


def test_a_keyword_spelled_otherwise_resumes_its_run_under_the_first_spelling(tmp_path):
    """`--keyword STRASSE` on a run of "Straße" resumes it (the same keyword), but exported STRASSE.onnx beside
    Straße.onnx and recorded the new spelling; and --init of that run warned that it was a detector of another
    keyword (it compared with .lower(), which leaves "ß" as it is, where runs compare with same_keyword)."""
    import torch

    from speechseq.runtime.onnx import read_metadata

    pos, neg, out = tmp_path / "pos", tmp_path / "neg", tmp_path / "run"
    for d in (pos, neg):
        d.mkdir()
    _clips(pos, "yes", 6)
    _clips(neg, "no", 6)
    data = ("--positives", str(pos), "--negatives", str(neg))
    code, err = _train_main("--keyword", "Straße", "--out", str(out), *data)
    assert code == 0, err[-1500:]
    code, err = _train_main("--keyword", "STRASSE", "--out", str(out), "--epochs", "2", *data)
    assert code == 0, err[-1500:]
    assert "epoch 2/2" in err
    assert f"--keyword 'STRASSE': {out} holds the run of 'Straße', the same keyword: resumed under its spelling" in err
    assert sorted(p.name for p in out.glob("*.onnx")) == ["Straße.onnx"]
    assert read_metadata(out / "Straße.onnx")["keyword"] == "Straße"
    assert torch.load(out / "last.pt", map_location="cpu", weights_only=False)["extra"]["keyword"] == "Straße"
    code, err = _train_main("--keyword", "STRASSE", "--out", str(tmp_path / "tuned"), "--init", str(out), *data)
    assert code == 0, err[-1500:]
    assert "is a detector of" not in err and (tmp_path / "tuned" / "STRASSE.onnx").is_file()


def test_train_detector_refuses_a_synth_folder_of_another_keyword(tmp_path):
    """`--synth` made by `synth keyword --keyword "hey robot"` given for --keyword activate trained activate.onnx of
    "hey robot" clips without a word; a folder of the keyword (in a phrasing too: "hey, activate!") is taken."""
    folder = tmp_path / "kw-hey-robot"
    folder.mkdir()
    (folder / "positives.jsonl").write_text("".join(json.dumps({"audio_filepath": f"audio/{i}.wav", "duration": 0.5,
                                                                "text": t}) + "\n"
                                                    for i, t in enumerate(["hey robot", "Hey, robot?"])))
    (folder / "negatives.jsonl").write_text("")
    base = ["train", "detector", "--synth", str(folder), "--epochs", "1"]
    r = _in_process(base + ["--keyword", "activate", "--out", str(tmp_path / "run")])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith(
        "its keyword clips say 'hey robot' / 'Hey, robot?', not 'activate' (made by `speechseq synth keyword "
        "--keyword ...` for another keyword): give the folder made for this one")
    assert not (tmp_path / "run" / "bank.npz").exists()
    r = _in_process(base + ["--keyword", "Hey Robot", "--out", str(tmp_path / "run2")])
    assert "its keyword clips say" not in r.stderr      # the same keyword: read on (its made-up clips then fail)


def _base_run(tmp_path) -> tuple[str, ...]:
    """A tiny "yes" detector trained into tmp_path/base from made-up clips; the data options that made it."""
    pos, neg = tmp_path / "pos", tmp_path / "neg"
    for d in (pos, neg):
        d.mkdir()
    _clips(pos, "yes", 6)
    _clips(neg, "no", 6)
    data = ("--positives", str(pos), "--negatives", str(neg))
    code, err = _train_main("--out", str(tmp_path / "base"), *data)
    assert code == 0, err[-1500:]
    return data


def test_a_rerun_names_the_same_init_checkpoint_however_it_is_given(tmp_path, monkeypatch):
    """`--init base` and `--init base/best.pt` (the same weights), or the same relative path given from another
    working directory, were refused on a rerun as "holds a run made with --init base": the paths were compared as
    typed (resolved from where the rerun ran). The checkpoint file read is compared; another one is still refused."""
    data = _base_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, err = _train_main("--out", "tuned", "--init", "base", *data)
    assert code == 0, err[-1500:]
    code, err = _train_main("--out", "tuned", "--init", "base/best.pt", "--epochs", "2", *data)
    assert code == 0 and "epoch 2/2" in err, err[-1500:]
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    code, err = _train_main("--out", "../tuned", "--init", "../base", "--epochs", "3", *data)
    assert code == 0 and "epoch 3/3" in err, err[-1500:]
    code, err = _train_main("--out", "../tuned", "--init", "../base/yes.onnx", "--epochs", "4", *data)
    assert code == 1 and "--init" in err.splitlines()[-1] and "epoch 4/4" not in err, err[-1500:]


def test_a_fine_tuned_model_records_its_init_as_given_not_the_machines_path(tmp_path, monkeypatch):
    """`--init RUN|MODEL.onnx` was recorded resolved: a fine-tuned model's metadata (recipe.finetune) held the
    absolute path of this machine (a home folder in a model shared with others, and another on every machine). It
    holds the file as the command named it (a run's best.pt; an absolute path under the home folder as ~/...) and
    the sha256 of its bytes, the same start wherever it is."""
    import hashlib

    from speechseq.runtime.onnx import read_metadata

    data = _base_run(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    sha = {name: hashlib.sha256((tmp_path / "base" / name).read_bytes()).hexdigest()
           for name in ("best.pt", "yes.onnx")}
    for out, init, recorded, file in (("tuned", "base", "base/best.pt", "best.pt"),
                                      ("tuned-onnx", str(tmp_path / "base" / "yes.onnx"), "~/base/yes.onnx",
                                       "yes.onnx")):
        code, err = _train_main("--out", out, "--init", init, *data)
        assert code == 0, err[-1500:]
        meta = read_metadata(tmp_path / out / "yes.onnx")
        assert (meta["recipe"]["finetune"], meta["recipe"]["finetune_sha256"]) == (recorded, sha[file]), out
        assert str(tmp_path) not in json.dumps(meta), out
    # a rerun compares the bytes: the same file named from elsewhere resumes; other bytes under the name do not
    import torch

    monkeypatch.chdir(tmp_path / "pos")
    code, err = _train_main("--out", "../tuned", "--init", "../base/best.pt", "--epochs", "2", *data)
    assert code == 0 and "epoch 2/2" in err, err[-1500:]
    monkeypatch.chdir(tmp_path)
    best = torch.load(tmp_path / "base" / "best.pt", map_location="cpu", weights_only=False)
    torch.save({**best, "extra": {**best["extra"], "note": "trained on"}}, tmp_path / "base" / "best.pt")
    code, err = _train_main("--out", "tuned", "--init", "base", "--epochs", "3", *data)
    assert code == 1 and err.splitlines()[-1].startswith(
        f"speechseq: error: tuned holds a run made with --init ../base/best.pt (sha256 {sha['best.pt'][:12]}), not "
        f"base/best.pt (sha256 {hashlib.sha256((tmp_path / 'base' / 'best.pt').read_bytes()).hexdigest()[:12]}): "
        "rerun with its options"), err[-1500:]
    # a run recorded before the bytes were (its file resolved) is compared by its path, as it was
    last = torch.load(tmp_path / "tuned" / "last.pt", map_location="cpu", weights_only=False)
    recipe = {k: v for k, v in last["extra"]["recipe"].items() if k != "finetune_sha256"}
    recipe["finetune"] = str(tmp_path / "base" / "best.pt")
    torch.save({**last, "extra": {**last["extra"], "recipe": recipe}}, tmp_path / "tuned" / "last.pt")
    code, err = _train_main("--out", "tuned", "--init", "base", "--epochs", "3", *data)
    assert code == 0 and "epoch 3/3" in err, err[-1500:]


def _made_synth_folder(tmp_path) -> Path:
    """A `speechseq synth keyword --keyword yes` folder: audio/ holding two "yes" clips and two negatives, and the
    two manifests that say which is which."""
    synth = tmp_path / "kw-yes"
    (synth / "audio").mkdir(parents=True)
    for word, manifest, kind in (("yes", "positives.jsonl", "keyword"), ("no", "negatives.jsonl", "word")):
        rows = [{"audio_filepath": f"audio/{Path(p).name}", "duration": 0.4, "text": word, "kind": kind,
                 "engine": "espeak-ng", "heldout": False} for p in _clips(synth / "audio", word, 2)]
        (synth / manifest).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return synth


def test_a_synth_folder_given_as_recordings_is_refused_naming_synth(tmp_path):
    """`speechseq synth keyword`'s folder given as --positives instead of --synth: its audio/ holds the keyword's
    clips and as many negatives, and the folder was read as recordings, every clip one role, so its sound-alikes,
    words and phrases were trained as the keyword (runs/s44/amelia/synth: 6,116 positives, 3,058 of them
    negatives), and as --negatives the keyword as a negative. One line says to give it as --synth; its manifests
    named on their own are read as before."""
    from speechseq.commands.train_detector import items_from
    from speechseq.errors import SpeechseqError

    synth = _made_synth_folder(tmp_path)
    for role in ("pos", "neg", "bg"):
        with pytest.raises(SpeechseqError, match="^" + str(synth) + r": a `speechseq synth keyword` folder .* give it "
                                                 r"as --synth " + str(synth)):
            items_from([str(synth)], role, "yes")
    assert sorted(i.text for i in items_from([str(synth / "positives.jsonl")], "pos", "yes")) == ["yes", "yes"]
    neg = tmp_path / "neg"
    neg.mkdir()
    _clips(neg, "no", 3)
    code, err = _train_main("--out", str(tmp_path / "run"), "--positives", str(synth), "--negatives", str(neg))
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith(f"speechseq: error: {synth}: a `speechseq synth keyword` folder")
    assert err.strip().endswith("every clip in it would be a keyword clip)")
    assert not (tmp_path / "run" / "bank.npz").exists()


def test_positive_manifest_rows_that_say_other_words_are_left_out(tmp_path, capsys):
    """A manifest given as --positives whose rows say other words than the keyword (the Precise set's
    manifest.jsonl: amelia, android, hey chatterbox, not-wake-word phrases and noise, 392 rows) trained every row
    as the keyword: for --keyword amelia 169 of them were not "amelia". Where other rows say the keyword, rows
    whose text says another word are left out, with a warning counting them; rows without a text are kept; a
    manifest of which no row says it is read whole, with a warning."""
    from speechseq.commands.train_detector import items_from

    rows = ["amelia", "android", "Amelia!", "a cheddar block", "(background noise, no speech)", "", "hey amelia"]
    m = tmp_path / "manifest.jsonl"
    m.write_text("".join(json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t}) + "\n"
                         for i, t in enumerate(rows)))
    capsys.readouterr()
    assert [i.text for i in items_from([str(m)], "pos", "amelia")] == ["amelia", "Amelia!", "", "hey amelia"]
    err = capsys.readouterr().err
    assert f"{m}: 3 of its 7 rows say other words than 'amelia' ('android', 'a cheddar block', ...): left out of " \
           "the positives" in err
    assert [i.text for i in items_from([str(m)], "neg", "amelia")] == ["android", "a cheddar block",
                                                                       "(background noise, no speech)", ""]
    m.write_text("".join(json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t}) + "\n"
                         for i, t in enumerate(["android", "android"])))
    capsys.readouterr()
    assert [i.text for i in items_from([str(m)], "pos", "amelia")] == ["android", "android"]
    assert f"{m}: none of its 2 rows says 'amelia' ('android'): all trained on as its recordings" in \
        capsys.readouterr().err


def test_a_clip_given_as_a_positive_and_as_a_negative_is_refused(tmp_path):
    """The course's layout with its parent folder given as --positives (`--positives raw_data --negatives
    raw_data/negatives --backgrounds raw_data/backgrounds`): every negative and background was trained as the
    keyword too, and as audio without it, without a word. One line counts the files given both ways."""
    raw = tmp_path / "raw_data"
    for d in ("activates", "negatives", "backgrounds"):
        (raw / d).mkdir(parents=True)
    _clips(raw / "activates", "yes", 4)
    _clips(raw / "negatives", "no", 3)
    _clips(raw / "backgrounds", "room", 2)
    code, err = _train_main("--out", str(tmp_path / "run"), "--positives", str(raw), "--negatives",
                            str(raw / "negatives"), "--backgrounds", str(raw / "backgrounds"))
    assert code == 1 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"speechseq: error: 5 files are given both as keyword recordings (--positives) and as audio without the "
        f"keyword (--backgrounds, --negatives), such as {raw / 'backgrounds' / 'room-0.wav'}: a clip is one or the "
        f"other (give --positives the keyword's recordings alone)")
    assert not (tmp_path / "run" / "bank.npz").exists()


def test_file_names_not_in_utf8_are_trained_on(tmp_path):
    """Clips with Latin-1 names (b"caf\\xe9-1.wav", as an old archive or a Windows share gives them) in the
    positives folder: the hash that holds 15 % of files out encoded each name as UTF-8, a UnicodeEncodeError
    traceback before any work. They are read, held out by their bytes, and a rerun resumes."""
    import os

    pos, neg = tmp_path / "pos", tmp_path / "neg"
    pos.mkdir()
    neg.mkdir()
    for i, p in enumerate(_clips(pos, "yes", 4)):
        os.rename(os.fsencode(p), os.fsencode(pos) + b"/caf\xe9-%d.wav" % i)
    _clips(neg, "no", 3)
    argv = ("--out", str(tmp_path / "run"), "--positives", str(pos), "--negatives", str(neg))
    code, err = _train_main(*argv)
    assert code == 0 and "Traceback" not in err, err[-2000:]
    assert "data: 4 positives" in err and "; 0 files skipped" in err
    code, err = _train_main(*argv)
    assert code == 0 and "resuming from" in err and "other files" not in err, err[-2000:]


@pytest.mark.parametrize("keyword", ["r2d2", "café", "hey mr robot"])
def test_a_keyword_the_synthesis_normalizes_is_said_by_its_clips(tmp_path, capsys, keyword):
    """`synth keyword` writes each clip's text normalized ("r two d two" for r2d2, "cafe" for café, "hey mister
    robot"): its positives.jsonl, given as --synth, was refused as another keyword's clips, and read without
    --synth (OUT/synth) or as --positives beside rows typed as the keyword, its rows were other words (a warning
    that none says the keyword; left out beside rows that do)."""
    from speechseq.commands.train_detector import _check_synth_keyword, items_from
    from speechseq.text import normalize

    folder = tmp_path / "kw"
    folder.mkdir()
    for rows in ([normalize(keyword)] * 3, [normalize(keyword)] * 3 + [keyword]):
        (folder / "positives.jsonl").write_text("".join(json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t})
                                                        + "\n" for i, t in enumerate(rows)))
        _check_synth_keyword(folder, keyword)   # no error
        capsys.readouterr()
        assert [i.text for i in items_from([str(folder / "positives.jsonl")], "pos", keyword)] == rows
        assert "rows say" not in capsys.readouterr().err


@pytest.mark.parametrize("keyword", ["a" * 300, "日本語のキーワード" * 10])
def test_a_keyword_too_long_for_its_model_file_name_is_refused_before_any_work(tmp_path, keyword):
    """A keyword of 300 letters, or of 90 Japanese characters (3 bytes each), trained (and synthesized, without
    --synth and --positives) to its end, then failed to export OUT/KEYWORD.onnx: "File name too long". Refused in one
    line naming the limit before any work, OUT not made; the longest keyword that fits trains and exports."""
    import os

    pos, neg, out = tmp_path / "pos", tmp_path / "neg", tmp_path / "run"
    for d in (pos, neg):
        d.mkdir()
    _clips(pos, "yes", 6)
    _clips(neg, "no", 6)
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    code, err = _train_main("--keyword", keyword, "--out", str(out), "--positives", str(pos), "--negatives", str(neg))
    assert code == 1 and "\n" not in err.strip(), err[-2000:]
    size = len(os.fsencode(f"{keyword}.onnx"))
    assert err.strip() == (f"speechseq: error: keyword {keyword!r}: its model would be named {keyword}.onnx, {size} "
                           f"bytes, more than the {limit} a file name may have in {tmp_path}: give a shorter keyword")
    assert not out.exists()
    fits = "k" * (limit - len(".onnx"))
    code, err = _train_main("--keyword", fits, "--out", str(out), "--positives", str(pos), "--negatives", str(neg))
    assert code == 0, err[-2000:]
    assert (out / f"{fits}.onnx").is_file()
