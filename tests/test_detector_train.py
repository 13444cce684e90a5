"""Training a detector: a tiny model learns "yes" against "no" in seconds; a killed run resumes."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from speechseq.frontend import FrontendConfig, logmel  # noqa: E402
from speechseq.nn.detector import DetectorConfig  # noqa: E402
from speechseq.train.augment import coloured_noise  # noqa: E402
from speechseq.train.kwbank import BankConfig, clip_features, dequantize, quantize, save_bank  # noqa: E402
from speechseq.train.manifests import name_pct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def _train_script():
    """scripts/train_detectors.py as a module."""
    from tests.script_loader import load_script

    return load_script("train_detectors")
TINY = DetectorConfig(conv_channels=24, kernel=7, stride=4, hidden=24, layers=2, dropout=0.1)
VOICES = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-us+m3", "en-gb-x-rp+f2", "en-us-nyc"]


def _role(bank: dict, role: str, clips: list[np.ndarray], source: str = "espeak-ng") -> None:
    feats = [clip_features(c, BankConfig(reverb_prob=0, colour_prob=0)) for c in clips]
    q = [quantize(f) for f, _, _ in feats]
    bank[f"{role}/q"] = np.concatenate(q)
    bank[f"{role}/offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in q])]).astype(np.int64)
    bank[f"{role}/end"] = np.array([e for _, e, _ in feats], np.int32)
    bank[f"{role}/power"] = np.array([p for _, _, p in feats], np.float32)
    bank[f"{role}/weight"] = np.ones(len(q), np.float32)
    bank[f"{role}/source"] = np.zeros(len(q), np.int16)
    bank["meta"]["roles"][role] = {"clips": len(q), "hours": 0.0, "sources": [source], "per_source": {}}


@pytest.fixture(scope="module")
def yes_no_bank(tmp_path_factory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system.sh)")
    from speechseq.train.synth import Voice, synthesize

    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}, "keyword": "yes"}}
    clips = {w: [0.5 * synthesize(w, Voice("espeak-ng", v), speed, pitch) for v in VOICES
                 for speed, pitch in ((1.0, 1.0), (0.85, 1.2), (1.2, 0.85))] for w in ("yes", "no")}
    _role(bank, "pos", clips["yes"][:-3])
    _role(bank, "neg", clips["no"][:-3])
    _role(bank, "val_pos", clips["yes"][-3:])
    _role(bank, "val_neg", clips["no"][-3:])
    for role, seed in (("bg", 1), ("val_bg", 2)):
        q = quantize(logmel(0.01 * coloured_noise("pink", 16000 * 30, np.random.default_rng(seed)), FrontendConfig()))
        bank.update({f"{role}/q": q, f"{role}/offsets": np.array([0, len(q)]), f"{role}/end": np.array([-1], np.int32),
                     f"{role}/power": np.array([float(np.exp(dequantize(q)).sum(1).mean())], np.float32),
                     f"{role}/weight": np.ones(1, np.float32), f"{role}/source": np.zeros(1, np.int16)})
        bank["meta"]["roles"][role] = {"clips": 1, "hours": 0.008, "sources": ["pink"], "per_source": {}}
    path = tmp_path_factory.mktemp("bank") / "yesno.npz"
    save_bank(bank, path)
    return path


def _recipe(**kw):
    from speechseq.train.detector import TrainRecipe

    base = dict(batch=16, steps_per_epoch=40, epochs=3, lr=5e-3, val_positives=24, val_neg_hours=0.02, ema_decay=0.9)
    return TrainRecipe(**{**base, **kw})


def test_tiny_model_separates_yes_from_no(yes_no_bank, tmp_path):
    from speechseq.train.detector import train_detector
    from speechseq.train.kwbank import load_bank
    from speechseq.train.kwmix import MixConfig, Mixer
    from speechseq.train.loop import load_checkpoint
    from speechseq.train.export_detector import detector_from_checkpoint

    torch.set_num_threads(1)
    bank = load_bank(yes_no_bank)
    mix = MixConfig(clip_s=3.0, max_pos=2, max_neg=2, snr_db=(10.0, 25.0), reverb_prob=0.0)
    history = train_detector(bank, tmp_path / "run", "yes", _recipe(), TINY, mix, progress=False)
    assert len(history) == 3 and history[-1]["train_loss"] < history[0]["train_loss"]
    assert {"val_frr_at_fa", "val_threshold", "val_fa_per_h"} <= set(history[-1])
    assert (tmp_path / "run" / "best.pt").exists() and (tmp_path / "run" / "curve.png").exists()
    model = detector_from_checkpoint(load_checkpoint(tmp_path / "run" / "best.pt"))
    # fresh mixes: one "yes" (positive) or one "no" (negative) each, over the noise
    mixer = Mixer(bank, mix, TINY.stride, roles=("val_pos", "val_neg", "val_bg"))
    rng = np.random.default_rng(9)
    xp, yp = mixer.batch(rng, 32, min_pos=1, max_pos=1, max_neg=0, specaug=False)
    xn, _ = mixer.batch(rng, 32, max_pos=0, max_neg=1, specaug=False)
    with torch.no_grad():
        pp, pn = torch.sigmoid(model(xp)), torch.sigmoid(model(xn))
    yes = np.array([float(p[y > 0].max()) for p, y in zip(pp, yp)])
    no = pn.max(dim=1).values.numpy()
    assert np.median(yes) > 0.5 > np.median(no)
    assert (yes > 0.5).mean() >= 0.7 and (no > 0.5).mean() <= 0.3
    # hard-negative mining's scores: a "yes" put among the negatives would be the one mined
    from speechseq.train.mining import clip_scores

    yes_s, no_s = clip_scores(model, bank, "pos"), clip_scores(model, bank, "neg")
    assert np.median(yes_s) > 0.5 > np.median(no_s)


def test_a_short_run_from_random_weights_saves_an_average_of_what_it_learnt(yes_no_bank, tmp_path):
    """A run from random weights averaged them at the recipe's 0.999 whatever its length: after 1 epoch x 50 steps
    the weights validated, saved (best.pt, the epoch's snapshot) and exported held 0.999 ** 50 = 95 % of the random
    start. The decay is now at most 1 - 2 / (the run's steps) (0.95 at least), which the shipped 10 x 200 steps and
    longer runs meet at 0.999 exactly."""
    from speechseq.nn.detector import Detector
    from speechseq.train.detector import train_detector
    from speechseq.train.kwbank import load_bank
    from speechseq.train.kwmix import MixConfig
    from speechseq.train.loop import load_checkpoint

    torch.set_num_threads(1)
    recipe = _recipe(epochs=1, steps_per_epoch=50, batch=8, val_positives=8, val_neg_hours=0.005, ema_decay=0.999)
    train_detector(load_bank(yes_no_bank), tmp_path / "run", "yes", recipe, TINY, MixConfig(clip_s=2.0),
                   progress=False)
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    decay = last["loop_config"]["ema_decay"]
    assert decay == pytest.approx(1 - 2 / 50) and decay ** 50 < 0.14
    torch.manual_seed(recipe.seed)
    start = Detector(TINY).state_dict()
    saved = load_checkpoint(tmp_path / "run" / "best.pt")["model"]
    names = [k for k, v in start.items() if v.is_floating_point() and "running" not in k]

    def dist(state: dict) -> float:
        return float(sum(((state[k].float() - start[k].float()) ** 2).sum() for k in names) ** 0.5)

    assert dist(saved) > 0.3 * dist(last["model"])  # the average went with training (0.47; at 0.999, 0.02)
    # the shipped recipe (scripts/train_detectors.py: 10 x 200 steps) and longer runs keep the recipe's decay
    from speechseq.train.detector import TrainRecipe, run_ema_decay

    for epochs in (10, 20, 100):
        assert run_ema_decay(TrainRecipe(epochs=epochs, steps_per_epoch=200)) == 0.999
    assert run_ema_decay(TrainRecipe(epochs=1, steps_per_epoch=500)) == pytest.approx(0.996)
    assert run_ema_decay(TrainRecipe(epochs=1, steps_per_epoch=10)) == 0.95   # never over fewer than 20 steps
    assert run_ema_decay(TrainRecipe(epochs=1, steps_per_epoch=50, ema_decay=0.9)) == 0.9   # a lower one asked for
    # fine-tuning keeps its own cap (e ** -5 of the weights it starts from)
    assert run_ema_decay(TrainRecipe(epochs=3, steps_per_epoch=200, finetune="x.pt")) == pytest.approx(1 - 5 / 600)


RESUME = r'''
import sys, time, numpy as np, torch
torch.set_num_threads(1)
from speechseq.train import detector as d
from speechseq.train.kwbank import load_bank
from speechseq.train.kwmix import MixConfig, Mixer
from speechseq.nn.detector import DetectorConfig
slow = float(sys.argv[3])
orig = Mixer.batch
def batch(self, *a, **k):
    time.sleep(slow)
    return orig(self, *a, **k)
Mixer.batch = batch
cfg = DetectorConfig(conv_channels=8, kernel=7, stride=4, hidden=8, layers=1, dropout=0.0)
recipe = d.TrainRecipe(batch=4, steps_per_epoch=6, epochs=3, val_positives=4, val_neg_hours=0.005)
d.train_detector(load_bank(sys.argv[1]), sys.argv[2], "yes", recipe, cfg, MixConfig(clip_s=2.0), progress=False)
'''


def test_killed_run_resumes_from_its_checkpoint(yes_no_bank, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", RESUME, str(yes_no_bank), str(out)]
    proc = subprocess.Popen(cmd + ["0.15"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while not (out / "last.pt").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = json.loads((out / "history.json").read_text())
    assert 1 <= len(first) < 3  # killed in the middle of the run
    r = subprocess.run(cmd + ["0.0"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"resuming from {out / 'last.pt'}: epoch {len(first)} of 3 done" in r.stderr
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[: len(first)] == first  # finished epochs are kept, not redone
    assert len(list((out / "snapshots").glob("epoch_*.pt"))) == 3


def _softplus(x: float) -> float:
    return float(np.log1p(np.exp(x)))


def test_event_max_loss_takes_each_stretch_peak_and_the_worst_step_away_from_keywords():
    from speechseq.train.detector import event_max_loss

    logits = torch.tensor([[0.3, 2.0, -1.0, 0.5, -0.2, 1.5, 4.0, -3.0, 0.7, -0.5],
                           [-2.0, -1.0, -0.5, 0.1, -4.0, -4.0, -4.0, -4.0, -4.0, -4.0]], requires_grad=True)
    labels = torch.zeros(2, 10)
    labels[0, 4:6] = 1.0      # stretch 1: peak 1.5
    labels[0, 8] = 1.0        # stretch 2: peak 0.7
    pos, neg = event_max_loss(logits, labels, guard_before=1, guard_after=1)
    # stretches: -log(sigmoid(peak)) = softplus(-peak); clip 0's far steps are 0..2 (3..9 are near a
    # stretch), worst 2.0; clip 1 has no stretch, worst 0.1
    assert pos.item() == pytest.approx((_softplus(-1.5) + _softplus(-0.7)) / 2, abs=1e-6)
    assert neg.item() == pytest.approx((_softplus(2.0) + _softplus(0.1)) / 2, abs=1e-6)
    (pos + neg).backward()
    touched = (logits.grad != 0).nonzero().tolist()
    assert touched == [[0, 1], [0, 5], [0, 8], [1, 3]]   # only the peaks learn


def test_event_max_loss_without_keywords_or_without_negatives():
    from speechseq.train.detector import event_max_loss

    logits = torch.tensor([[-1.0, 0.5, -2.0]])
    pos, neg = event_max_loss(logits, torch.zeros(1, 3))
    assert pos.item() == 0.0 and neg.item() == pytest.approx(_softplus(0.5), abs=1e-6)
    pos, neg = event_max_loss(logits, torch.ones(1, 3))      # one stretch over the whole clip
    assert pos.item() == pytest.approx(_softplus(-0.5), abs=1e-6) and neg.item() == 0.0


def test_validation_scores_only_the_positives_its_mixes_hold():
    """Validation's positive mixes (4 s: one keyword, sometimes one negative) drop the longer clip when the two
    do not fit: a keyword of ~2 s is then not in the mix at all. Such an example has no keyword to miss, so it is
    not scored; a model firing everywhere misses none of the rest."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    tone = (0.5 * np.sin(np.arange(16000 * 3) * 2 * np.pi * 700 / 16000)).astype(np.float32)
    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}}}
    _role(bank, "val_pos", [tone[:35200]])                  # 2.2 s: with a 1.9-s negative it fills more than 4 s
    _role(bank, "val_neg", [tone[:30400]])
    q = quantize(logmel(0.01 * coloured_noise("pink", 16000 * 12, np.random.default_rng(1)), FrontendConfig()))
    bank.update({"val_bg/q": q, "val_bg/offsets": np.array([0, len(q)]), "val_bg/end": np.array([-1], np.int32),
                 "val_bg/power": np.array([float(np.exp(dequantize(q)).sum(1).mean())], np.float32),
                 "val_bg/weight": np.ones(1, np.float32)})
    recipe = TrainRecipe(val_positives=64, val_neg_hours=0.01, smoothing_steps=1)
    validation = Validation(bank, MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    assert any((y.sum(1) == 0).any() for y in validation.pos_y)   # some mixes lost their keyword

    class Everywhere(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], x.shape[1] // 4), 2.0)   # p = 0.88 at every step

    out = validation(Everywhere())
    assert out["val_frr_at_05"] == 0.0


def test_training_with_the_event_loss_logs_both_terms_and_learns(yes_no_bank, tmp_path):
    from speechseq.train.detector import train_detector
    from speechseq.train.kwbank import load_bank
    from speechseq.train.kwmix import MixConfig

    torch.set_num_threads(1)
    mix = MixConfig(clip_s=3.0, max_pos=2, max_neg=2, snr_db=(10.0, 25.0), reverb_prob=0.0)
    history = train_detector(load_bank(yes_no_bank), tmp_path / "run", "yes",
                             _recipe(epochs=2, event_loss_weight=1.0), TINY, mix, progress=False)
    first, last = history
    assert 0 < last["train_event_pos"] < first["train_event_pos"]
    assert 0 < last["train_event_neg"] and np.isfinite(last["train_loss"])


def test_every_recipe_variant_of_the_training_script_builds_its_configs():
    """scripts/train_detectors.py's VARIANTS name real fields with valid values: each variant's model,
    mixing and recipe overrides make configs, and its engine weights name synthesis engines (or the spliced
    real voice of scripts/make_splice_data.py)."""
    from dataclasses import replace

    from speechseq.train.detector import TrainRecipe
    from speechseq.train.kwmix import MixConfig
    from speechseq.train.splice import ENGINE as SPLICE
    from speechseq.train.synth import ENGINES

    script = _train_script()
    assert {"", "natural", "natural-lift13"} <= set(script.VARIANTS)
    for name, (bgw, mixo, reco, modo, *engines) in script.VARIANTS.items():
        assert set(bgw) <= set(script.BG_WEIGHTS), name
        DetectorConfig(**modo)
        replace(MixConfig(), **mixo)
        TrainRecipe(**reco)
        assert all(set(e) <= set(ENGINES) | {SPLICE} for e in engines), name
    assert DetectorConfig(**script.VARIANTS["natural-lift13"][3]).lifter == 13


def test_training_script_banks_join_an_extra_synthesis_folder(tmp_path):
    """--extra-synth: another synthesis folder's keyword clips and sentences join the main folder's
    (their held-out voices as validation), and the real amelia clips are taken once, from the main."""
    script = _train_script()

    def write(path, rows):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))

    def clip(name, engine, text, held=False):
        return {"audio_filepath": f"audio/{name}.wav", "engine": engine, "text": text, "heldout": held}

    main, extra, data = tmp_path / "synth", tmp_path / "synth-new", tmp_path / "data"
    write(main / "kw-amelia" / "positives.jsonl", [clip("p1", "flite", "amelia"), clip("p2", "flite", "amelia", True)])
    write(main / "kw-amelia" / "negatives.jsonl", [clip("n1", "flite", "ophelia")])
    write(extra / "kw-amelia" / "positives.jsonl", [clip("q1", "rhvoice", "amelia"), clip("q2", "rhvoice", "amelia", True)])
    write(extra / "kw-amelia" / "negatives.jsonl", [clip("m1", "rhvoice", "amalia")])
    real = [{"audio_filepath": f"amelia/{i}.wav", "kind": "wake-word", "text": "amelia"} for i in range(40)]
    write(data / "precise" / "manifest.jsonl", real)
    items = script.kw_items(main, "amelia", data) + script.kw_items(extra, "amelia", data, real=False)
    roles = {}
    for i in items:
        roles.setdefault(i.role, []).append(i)
    assert sorted((i.source, Path(i.path).name) for i in roles["pos"]) == [("flite", "p1.wav"), ("rhvoice", "q1.wav")]
    assert sorted(Path(i.path).name for i in roles["val_pos"]) == ["p2.wav", "q2.wav"]
    assert sorted(Path(i.path).name for i in roles["neg"]) == ["m1.wav", "n1.wav"]
    n_real = sum(name_pct(r["audio_filepath"]) % 2 == 0 for r in real)
    assert 0 < len(roles["real_pos"]) == n_real < 40  # the dev half, once
    assert all(str(i.path).startswith(str(data)) for i in roles["real_pos"])
    # sentences: the same hash split in both folders; texts with the keyword are left out
    rows = [clip(f"s{i}", "rhvoice", f"sentence number {i}") for i in range(60)] + [clip("k", "rhvoice", "hello amelia there")]
    write(extra / "sentences" / "train.jsonl", rows)
    sent = script.sentence_items(extra, ["amelia"])
    assert all("amelia" not in i.text for i in sent)
    assert {i.role for i in sent} == {"neg", "tune_bg"}
    expect = sum(name_pct(r["audio_filepath"]) < script.SENTENCE_SPLIT[1] for r in rows[:60])
    assert len(sent) == expect


def test_a_precise_keyword_is_measured_never_a_background(tmp_path):
    """Training a Precise wake word (android): its real clips leave the background speech and its
    dev half is measured ("real_pos"); the other wake words stay backgrounds; amelia never is one."""
    from .fake_precise import write_fake_data

    script = _train_script()
    data = tmp_path / "data"
    rows = write_fake_data(data, ("amelia", "android", "hey chatterbox"), 20, 4)
    (data / "noise").mkdir()

    def bg_words(keywords):
        return {Path(i.path).parent.name for i in script.bg_items(data, keywords)}

    assert bg_words(["activate", "computer"]) == {"android", "hey-chatterbox", "nww"}   # the shipped banks
    assert bg_words(["android", "activate"]) == {"hey-chatterbox", "nww"}
    synth = tmp_path / "synth"
    for kw in ("android", "activate"):
        (synth / f"kw-{kw}").mkdir(parents=True)
        for kind in ("positives", "negatives"):
            (synth / f"kw-{kw}" / f"{kind}.jsonl").write_text("")
    real = [i for i in script.kw_items(synth, "android", data) if i.role == "real_pos"]
    expect = sum(name_pct(r["audio_filepath"]) % 2 == 0 for r in rows[20:40])
    assert 0 < len(real) == expect < 20 and all("/android/" in i.path for i in real)
    assert not script.kw_items(synth, "activate", data)  # no real recordings of it: none measured


def test_gradient_reversal_flips_and_scales_the_gradient_only():
    from speechseq.train.domain import ramp, reverse_gradient

    x = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = reverse_gradient(x, 0.25)
    assert torch.equal(y, x)
    (y * torch.tensor([1.0, 2.0, 4.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.25, -0.5, -1.0]))
    steps = [ramp(p) for p in np.linspace(0, 1, 11)]
    assert steps[0] == 0.0 and all(b > a for a, b in zip(steps, steps[1:])) and 0.99 < steps[-1] < 1.0


def _with_real_speech(bank_path: Path) -> dict:
    """The yes/no bank with a second background stream, "kathleen": noise bursts standing in for real
    speech (the pink stream stays, the noise)."""
    from speechseq.train.kwbank import load_bank

    bank = load_bank(bank_path)
    rng = np.random.default_rng(5)
    env = np.repeat(rng.random(100) > 0.4, 4800)
    talk = quantize(logmel(0.05 * coloured_noise("brown", len(env), rng) * env, FrontendConfig()))
    q = np.concatenate([bank["bg/q"], talk])
    bank.update({"bg/q": q, "bg/offsets": np.array([0, len(bank["bg/q"]), len(q)]),
                 "bg/end": np.array([-1, -1], np.int32), "bg/power": np.array([bank["bg/power"][0], 1.0], np.float32),
                 "bg/weight": np.ones(2, np.float32), "bg/source": np.array([1, 0], np.int16)})
    bank["meta"]["roles"]["bg"] = {"clips": 2, "hours": 0.02, "sources": ["kathleen", "pink"], "per_source": {}}
    return bank


def test_domain_data_mixes_synthetic_and_real_speech_alike(yes_no_bank):
    from speechseq.train.domain import DomainData, chop_role
    from speechseq.train.kwmix import MixConfig

    bank = _with_real_speech(yes_no_bank)
    lengths = np.array([40, 60, 90])
    real = chop_role(bank, "bg", np.array([False, True]), lengths, np.random.default_rng(0))
    n = np.diff(real["offsets"])
    assert len(n) > 10 and n.max() <= 90 and n.min() >= 40 and n.sum() <= bank["bg/offsets"][2] - bank["bg/offsets"][1]
    assert np.all(real["power"] > 0) and np.array_equal(real["end"], n)
    data = DomainData(bank, MixConfig(clip_s=3.0), 4, clips_per_example=(1, 2))
    assert data.summary["synthetic_clips"] == len(bank["neg/end"])
    x, y, ends = data.batch(np.random.default_rng(1), 5)
    assert x.shape == (10, 300, 40) and torch.isfinite(x).all()
    assert y.tolist() == [1.0] * 5 + [0.0] * 5
    # every example holds 1-2 clips, each marked by up to 0.4 s (10 output steps) after its end
    assert ends.shape == (10, 75) and all(1 <= int(e.sum()) <= 20 for e in ends)
    only_noise = _with_real_speech(yes_no_bank)
    only_noise["bg/source"] = np.array([1, 1], np.int16)  # no real speech among the backgrounds
    with pytest.raises(ValueError, match="real speech and noise"):
        DomainData(only_noise, MixConfig(clip_s=3.0), 4)


@pytest.mark.parametrize("pool", ["mean", "end"])
def test_domain_adversarial_training_trains_its_critic_and_resumes_it(yes_no_bank, tmp_path, pool):
    """The critic is trained beside the detector (its weights move, its loss is logged); its state is
    saved with each epoch and a resumed run continues its step count."""
    from dataclasses import replace

    from speechseq.train.detector import train_detector
    from speechseq.train.kwmix import MixConfig

    torch.set_num_threads(1)
    mix = MixConfig(clip_s=3.0, max_pos=2, max_neg=2, snr_db=(10.0, 25.0), reverb_prob=0.0)
    bank = _with_real_speech(yes_no_bank)
    run = tmp_path / "run"
    recipe = _recipe(epochs=1, domain_weight=0.5, domain_clips=8, domain_pool=pool)
    train_detector(bank, run, "yes", recipe, TINY, mix, progress=False)
    first = torch.load(run / "critic-001.pt", weights_only=False)
    assert first["step"] == 40
    epoch_one = (run / "last.pt").read_bytes()
    history = train_detector(bank, run, "yes", replace(recipe, epochs=2), TINY, mix, progress=False)
    second = torch.load(run / "critic-002.pt", weights_only=False)
    assert len(history) == 2 and second["step"] == 2 * 40
    assert all(0.0 <= h["train_domain_acc"] <= 1.0 and 0.0 < h["train_domain_loss"] < 5.0 for h in history)
    moved = [float((second["critic"][k] - v).abs().max()) for k, v in first["critic"].items()]
    assert min(moved) > 1e-4
    if pool == "mean":
        # interrupted after epoch 2's critic was written, before its last.pt: the resume redoes epoch 2 from
        # epoch 1's critic, not from one an epoch ahead of the detector
        (run / "last.pt").write_bytes(epoch_one)
        train_detector(bank, run, "yes", replace(recipe, epochs=2), TINY, mix, progress=False)
        redone = torch.load(run / "critic-002.pt", weights_only=False)
        assert redone["step"] == 2 * 40
        train_detector(bank, run, "yes", replace(recipe, epochs=3), TINY, mix, progress=False)
        assert sorted(f.name for f in run.glob("critic-*.pt")) == ["critic-002.pt", "critic-003.pt"]


def test_real_dev_clips_join_the_positives_at_their_share_with_the_label_at_the_words_end():
    """train_detectors.py --real-dev-share: a Precise keyword's dev-half clips (padded recordings) are
    drawn as that share of the positives, each ending where its speech ends, not where its padding does."""
    script = _train_script()

    def role(bank, name, clips, sources):
        q = [quantize(c) for c in clips]
        bank[f"{name}/q"] = np.concatenate(q)
        bank[f"{name}/offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in q])]).astype(np.int64)
        bank[f"{name}/end"] = np.array([len(x) for x in q], np.int32)
        bank[f"{name}/power"] = np.ones(len(q), np.float32)
        bank[f"{name}/weight"] = np.full(len(q), 2.0, np.float32)
        bank[f"{name}/source"] = np.zeros(len(q), np.int16)
        bank["meta"]["roles"][name] = {"clips": len(q), "hours": 0.0, "sources": sources, "per_source": {}}

    # a padded recording: the padding (0.1 s of silence and 0.5 s of quiet noise before, 1 s + 0.1 s after), and
    # inside it the recording's own noise floor, louder than the padding's, around the word
    pad, floor, loud = (np.full((1, 40), v, np.float32) for v in (-14.0, -9.0, -5.0))
    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}, "texts": {}}}
    role(bank, "pos", [np.repeat(loud, 60, 0)] * 4, ["espeak-ng"])
    role(bank, "real_pos", [np.concatenate([np.repeat(pad, 60, 0), np.repeat(floor, 20, 0), np.repeat(loud, 40 + 10 * i, 0),
                                            np.repeat(floor, 30, 0), np.repeat(pad, 110, 0)]) for i in range(2)],
         ["precise-android"])
    merged = script.with_real_positives(bank, 0.2)
    src = np.array(merged["meta"]["roles"]["pos"]["sources"])[merged["pos/source"]]
    real = src == "precise-android"
    assert real.sum() == 2 and (~real).sum() == 4 and len(merged["real_pos/end"]) == 2
    assert abs(merged["pos/weight"][real].sum() / merged["pos/weight"].sum() - 0.2) < 1e-6
    assert merged["pos/end"][real].tolist() == [60 + 20 + 40 + 3, 60 + 20 + 50 + 3]  # the word's end, not the recording's
    assert merged["pos/end"][~real].tolist() == [60] * 4
    with pytest.raises(SystemExit, match="must lie in"):
        script.with_real_positives(bank, 1.0)
    del bank["real_pos/q"]
    with pytest.raises(SystemExit, match="no real clips"):
        script.with_real_positives(bank, 0.2)


def test_domain_adversarial_run_resumed_ends_with_the_weights_of_one_never_stopped(yes_no_bank, tmp_path, monkeypatch):
    """The critic's last gradients of an epoch were applied at the next step, so a resumed run (its critic read back
    without them) lost them and trained on from another critic: the resume must end where the whole run ends."""
    from speechseq.train import loop
    from speechseq.train.detector import train_detector
    from speechseq.train.kwmix import MixConfig

    torch.set_num_threads(1)
    bank = _with_real_speech(yes_no_bank)
    cfg = DetectorConfig(conv_channels=8, kernel=7, stride=4, hidden=8, layers=1, dropout=0.1)
    recipe = _recipe(batch=4, steps_per_epoch=4, epochs=2, val_positives=4, val_neg_hours=0.005,
                     domain_weight=0.5, domain_clips=4)
    mix = MixConfig(clip_s=2.0)
    train_detector(bank, tmp_path / "whole", "yes", recipe, cfg, mix, progress=False)
    save, kept = loop.save_checkpoint, {}

    def keep_epoch_one(obj, path):
        save(obj, path)
        if path.name == "last.pt" and obj["epoch"] == 1:
            kept["last"] = path.read_bytes()

    monkeypatch.setattr(loop, "save_checkpoint", keep_epoch_one)
    train_detector(bank, tmp_path / "cut", "yes", recipe, cfg, mix, progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", save)
    (tmp_path / "cut" / "last.pt").write_bytes(kept["last"])     # killed after epoch 1: epoch 2 redone
    train_detector(bank, tmp_path / "cut", "yes", recipe, cfg, mix, progress=False)
    whole, cut = (torch.load(tmp_path / d / "last.pt", weights_only=False)["model"] for d in ("whole", "cut"))
    assert all(torch.equal(whole[k], cut[k]) for k in whole)


def _tone_validation_bank(pos_s: float) -> dict:
    tone = (0.5 * np.sin(np.arange(int(16000 * pos_s)) * 2 * np.pi * 700 / 16000)).astype(np.float32)
    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}}}
    _role(bank, "val_pos", [tone])
    _role(bank, "val_neg", [tone[:8000]])
    q = quantize(logmel(0.01 * coloured_noise("pink", 16000 * 12, np.random.default_rng(1)), FrontendConfig()))
    bank.update({"val_bg/q": q, "val_bg/offsets": np.array([0, len(q)]), "val_bg/end": np.array([-1], np.int32),
                 "val_bg/power": np.array([float(np.exp(dequantize(q)).sum(1).mean())], np.float32),
                 "val_bg/weight": np.ones(1, np.float32)})
    return bank


def test_validation_whose_keywords_never_fit_a_mix_is_a_clear_error():
    """Held-out keyword clips longer than the validation mixes were never in one: every epoch missed 1.0 of
    none, epoch 1 stayed best and the summary said it missed 100 %. One line instead, before any training. (The
    mixes grow to a training mix's 10 s for long clips: a 5-s take fits one now, a 12-s clip none.)"""
    from speechseq.errors import SpeechseqError
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    recipe = TrainRecipe(val_positives=16, val_neg_hours=0.01)
    with pytest.raises(SpeechseqError, match="none of the 1 held-out keyword clips fits a 10-s validation mix"):
        Validation(_tone_validation_bank(12.0), MixConfig(reverb_prob=0.0), recipe, 4, "cpu")


def test_validation_without_mixes_counts_false_accepts_on_a_short_background_not_nan():
    """No validation mix (val_neg_hours 0) and 12 s of held-out background: that background made no 30-s row,
    so there was no audio to count false accepts on (an error, where the rate would have been NaN). Each held-out
    file is now a stream of its own (as `detect` hears a file), so its 12 s count, and the rate is a number."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    recipe = TrainRecipe(val_positives=16, val_neg_hours=0.0)
    bank = _tone_validation_bank(0.5)
    validation = Validation(bank, MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    assert validation.neg_hours == pytest.approx(len(bank["val_bg/q"]) / 100 / 3600)

    class Quiet(torch.nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], x.shape[1] // 4), -3.0)

    out = validation(Quiet())
    assert out["val_fa_per_h"] == 0.0 and out["val_fa_per_h_at_05"] == 0.0 and np.isfinite(out["val_frr_at_fa"])


def test_validation_scores_no_keyword_in_the_steps_where_no_event_starts():
    """A keyword whose label starts inside the stream's settling steps (the first 0.32 s, where the runtime starts
    no event) was scored by the posterior there too: the output's settling bump counted as a detection."""
    from speechseq.runtime.detector import settle_steps
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    recipe = TrainRecipe(val_positives=4, val_neg_hours=0.01, smoothing_steps=1)
    validation = Validation(_tone_validation_bank(0.5), MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    settle = settle_steps(0.04)
    y = torch.zeros(2, 100)
    y[0, 2:12] = 1.0           # labels from step 2: the stream still settles until step 8
    y[1, 40:50] = 1.0
    validation.pos_x, validation.pos_y = [torch.zeros(2, 400, 40)], [y]

    class Early(torch.nn.Module):
        """p = 0.88 in the steps before `settle` and at steps 40..49; 0.05 elsewhere."""

        def forward(self, x):
            out = torch.full((x.shape[0], x.shape[1] // 4), -3.0)
            out[:, :settle] = 2.0
            out[:, 40:50] = 2.0
            return out

    out = validation(Early())
    assert out["val_frr_at_05"] == 0.5     # the first keyword is missed as the runtime misses it; the second found


def test_the_critic_skips_gradients_that_are_not_finite():
    """A batch train_loop skipped for its non-finite loss left the critic NaN gradients, applied at the next
    step: a NaN critic, and every later batch non-finite. They are skipped, as the detector's are."""
    from speechseq.train.detector import _Adversary
    from speechseq.train.domain import Critic

    adv = object.__new__(_Adversary)
    adv.critic = Critic(8)
    adv.opt = torch.optim.AdamW(adv.critic.parameters(), lr=0.1)
    before = [p.detach().clone() for p in adv.critic.parameters()]
    for p in adv.critic.parameters():
        p.grad = torch.full_like(p, float("nan"))
    adv._step_critic()
    assert all(torch.equal(a, p) for a, p in zip(before, adv.critic.parameters()))
    assert all(p.grad is None for p in adv.critic.parameters())
    for p in adv.critic.parameters():
        p.grad = torch.ones_like(p)
    adv._step_critic()
    assert not all(torch.equal(a, p) for a, p in zip(before, adv.critic.parameters()))


def test_end_offset_table_is_the_median_first_crossing_at_every_threshold():
    """Two posteriors from their label start: a ramp reaching 1 at step 10 and a jump at step 4. The offset at each
    threshold is the median of their first crossings less (w - 1) / 2 steps, in seconds; a threshold neither reaches
    is left out."""
    from speechseq.train.detector_validation import THRESHOLDS, end_offset_table

    ramp = np.linspace(0.0, 0.9, 10, dtype=np.float32)      # 0.1 a step: reaches 0.5 at step 5, never 0.95
    jump = np.r_[np.zeros(4), np.full(8, 0.99)].astype(np.float32)
    table = end_offset_table([ramp, jump, np.zeros(0, np.float32)], smoothing_steps=3, step_s=0.04)
    at = dict(zip(table["threshold"], table["end_offset_s"]))
    assert table["threshold"] == [t for t in THRESHOLDS.tolist() if t <= 0.99]
    assert at[0.5] == pytest.approx(0.04 * ((5 + 4) / 2 - 1))
    assert at[0.05] == pytest.approx(0.04 * ((1 + 4) / 2 - 1))
    assert at[0.95] == pytest.approx(0.04 * (4 - 1))          # the jump alone
    assert end_offset_table([], 3, 0.04) == {"threshold": [], "end_offset_s": []}


def test_a_trained_models_end_offset_follows_the_threshold_it_runs_at(yes_no_bank, tmp_path):
    """Validation measured the end offset at its own threshold only (0.97 for activate), and the runtime used it at
    any: events' ends 50 ms early at activate's shipped 0.75, 90 ms at 0.5. The offset is measured at every
    threshold now, kept with the checkpoint and the exported model, and read at the threshold a detector runs at;
    end_offset_s, for older readers, is the table's at the exported threshold."""
    from speechseq.runtime.detector import Detector
    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.detector import train_detector
    from speechseq.train.export_detector import export_checkpoint
    from speechseq.train.kwbank import load_bank
    from speechseq.train.kwmix import MixConfig
    from speechseq.train.loop import load_checkpoint

    torch.set_num_threads(1)
    mix = MixConfig(clip_s=3.0, max_pos=2, max_neg=2, snr_db=(10.0, 25.0), reverb_prob=0.0)
    history = train_detector(load_bank(yes_no_bank), tmp_path / "run", "yes", _recipe(epochs=2), TINY, mix,
                             progress=False)
    table = history[-1]["val_end_offset_table"]
    assert len(table["threshold"]) == len(table["end_offset_s"]) >= 10
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    rec = history[best["best"]["epoch"] - 1]
    assert "val_end_offset_table" not in load_checkpoint(tmp_path / "run" / "snapshots" / "epoch_001.pt")["extra"][
        "metrics"]
    model = tmp_path / "yes.onnx"
    export_checkpoint(tmp_path / "run" / "best.pt", model)
    meta = read_metadata(model)
    assert meta["end_offset_table"] == rec["val_end_offset_table"] and "val_end_offset_table" not in meta["metrics"]
    th, off = (np.array(meta["end_offset_table"][k]) for k in ("threshold", "end_offset_s"))
    assert meta["end_offset_s"] == pytest.approx(np.interp(meta["threshold"], th, off), abs=5e-4)
    lo, hi = float(th[0]), float(th[-1])
    got = {t: Detector.load(model, threshold=t).end_offsets[0] for t in (lo, hi)}
    assert got == pytest.approx({lo: off[0], hi: off[-1]})
    assert got[hi] > got[lo]                 # a higher threshold is crossed later


def _tone(seconds: float, hz: float) -> np.ndarray:
    return (0.5 * np.sin(np.arange(int(16000 * seconds)) * 2 * np.pi * hz / 16000)).astype(np.float32)


def _low_tone_share(validation) -> tuple[float, int]:
    """The share of validation's positive mixes whose keyword is the low (700 Hz) tone, by the loudest mel band of
    the frames just before its label, and how many mixes hold a keyword."""
    low = []
    for x, y in zip(validation.pos_x, validation.pos_y):
        for row, lab in zip(x.numpy(), y.numpy()):
            on = np.flatnonzero(lab)
            if len(on):
                band = int(np.argmax(row[max(0, on[0] * 4 - 20): on[0] * 4 - 2].mean(0)))
                low.append(band < 20)
    return float(np.mean(low)), len(low)


def _two_tone_bank(own: np.ndarray, own_weight: float, others: list[np.ndarray]) -> dict:
    """A validation bank: held-out keyword clips `others` (3000 Hz tones) and one of the user's own, `own`, of
    weight `own_weight`; a held-out negative (a 5-kHz tone) and 12 s of held-out pink noise."""
    bank = _tone_validation_bank(0.5)
    _role(bank, "val_pos", others + [own])
    bank["val_pos/weight"][-1] = own_weight
    _role(bank, "val_neg", [_tone(0.5, 5000)])
    return bank


def test_validation_weighs_each_held_out_keyword_clip_once():
    """--positives my-clips:50 beside synthetic clips: a held-out clip of the user's kept its weight in validation,
    so the 1 of 11 held-out clips made 83 % of the validation positives (the weight is how often training draws a
    clip). Each held-out clip is drawn alike."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    bank = _two_tone_bank(_tone(0.6, 700), 50.0, [_tone(0.5, 3000)] * 10)
    recipe = TrainRecipe(val_positives=256, val_neg_hours=0.01)
    share, n = _low_tone_share(Validation(bank, MixConfig(reverb_prob=0.0), recipe, 4, "cpu"))
    assert n == 256 and 0.03 < share < 0.17, share                        # 1 of 11: 9 %


def test_a_long_held_out_take_reaches_validation():
    """A person's take of 4.5 s (kept: takes up to kwbank.MAX_TAKE_S, 5 s, are) never fit a 4-s validation mix, so
    it was never measured, without a word. The mixes are made long enough for the longest held-out clip."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwbank import MAX_TAKE_S
    from speechseq.train.kwmix import MixConfig

    assert 4.5 < MAX_TAKE_S
    bank = _two_tone_bank(_tone(4.5, 700), 1.0, [_tone(0.5, 3000)])
    recipe = TrainRecipe(val_positives=128, val_neg_hours=0.01)
    validation = Validation(bank, MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    share, n = _low_tone_share(validation)
    assert n == 128 and 0.35 < share < 0.65, share                        # each of the two clips half the time
    assert validation.pos_y[0].shape[1] == 1000 // 4                      # 10-s mixes (4 s where every clip fits)


def test_validation_keeps_its_keywords_on_their_own_whatever_the_follow_share():
    """train detector --follow-share places a share of training's keywords followed at once by other speech; the
    validation mixes (the threshold, the epoch kept) keep the keyword on its own, as the recipe always validated it:
    with follow_share 1 (every positive followed, where a negative fits), the same mixes as with 0."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig, Mixer

    recipe = TrainRecipe(val_positives=32, val_neg_hours=0.01, smoothing_steps=1)
    bank = _tone_validation_bank(0.6)
    alone = Validation(bank, MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    followed = Validation(bank, MixConfig(reverb_prob=0.0, follow_share=1.0), recipe, 4, "cpu")
    for a, b in zip([*alone.pos_x, *alone.pos_y], [*followed.pos_x, *followed.pos_y]):
        assert torch.equal(a, b)
    # where training's mixes do follow them (the option reaches the mixer): other batches than without
    roles = ("val_pos", "val_neg", "val_bg")
    mixes = [Mixer(bank, MixConfig(reverb_prob=0.0, clip_s=4.0, follow_share=s), 4, "cpu", roles=roles)
             .batch(np.random.default_rng(0), 16, min_pos=1, max_pos=1, max_neg=1, specaug=False)[0] for s in (0, 1)]
    assert not torch.equal(*mixes)
