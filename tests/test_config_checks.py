"""Configs refuse, when made, the values that cannot work (STYLE.md section 2: one ValueError naming the field and
its bound), instead of a ZeroDivisionError, a broadcast error or a silent NaN deep inside a later computation; and
every config a shipped model stores still constructs, its defaults unchanged."""
import json
from pathlib import Path

import numpy as np
import pytest

from speechseq.frontend import FrontendConfig, logmel

MODELS = Path(__file__).resolve().parents[1] / "models"
NAN, INF = float("nan"), float("inf")


# -- FrontendConfig ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, says", [
    ({"hop_length": 0}, "hop_length 0"),                  # was: ZeroDivisionError in the first frame count
    ({"hop_length": -160}, "hop_length -160"),            # was: "negative dimensions are not allowed"
    ({"hop_length": 160.5}, "hop_length 160.5"),          # was: "'float' object cannot be interpreted as an integer"
    ({"win_length": 400.0}, "win_length 400.0"),
    ({"n_fft": 256}, "win_length 400"),                   # was: "operands could not be broadcast together"
    ({"win_length": 0}, "win_length 0"),
    ({"n_mels": 0}, "n_mels 0"),                          # was: IndexError in the filterbank's table
    ({"n_mels": True}, "n_mels True"),
    ({"sample_rate": 0}, "sample_rate 0"),
    ({"sample_rate": 8000}, "fmax 7600.0"),               # was: silently 13 of 40 bands above Nyquist
    ({"fmin": 8000.0, "fmax": 100.0}, "fmax 100.0"),      # was: NaN features, no error
    ({"fmin": -20.0}, "fmin -20.0"),
    ({"fmax": NAN}, "fmax nan"),
    ({"floor": 0.0}, "floor 0.0"),                        # was: log(0) = -inf features
    ({"floor": NAN}, "floor nan"),                        # was: NaN features
    ({"floor": INF}, "floor inf"),
])
def test_frontend_config_refuses_settings_that_cannot_work(kwargs, says):
    with pytest.raises(ValueError, match=rf"^frontend settings out of range: .*{says} \("):
        FrontendConfig(**kwargs)


def test_frontend_config_at_8_khz_with_its_own_band_works():
    cfg = FrontendConfig(sample_rate=8000, fmax=3800.0)
    feats = logmel((0.1 * np.random.default_rng(0).standard_normal(8000)).astype(np.float32), cfg)
    assert feats.shape == (48, 40) and np.isfinite(feats).all() and cfg.frame_rate == 50.0
    assert FrontendConfig(n_fft=400).n_fft == 400 and FrontendConfig(hop_length=np.int64(80)).hop_length == 80


def test_frontend_config_defaults_are_unchanged():
    assert FrontendConfig().to_dict() == {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512,
                                          "n_mels": 40, "fmin": 20.0, "fmax": 7600.0, "floor": 1e-5}


def _shipped_metadata() -> dict[str, dict]:
    from speechseq.runtime.onnx import read_metadata

    found = {p.name: read_metadata(p) for p in sorted(MODELS.glob("*.onnx"))}
    if not found:
        pytest.skip("no shipped models")
    return found


def test_the_shipped_models_configs_still_construct_and_load():
    from speechseq.runtime.onnx import frontend_of

    frontends = 0
    for name, meta in _shipped_metadata().items():
        if "frontend" in meta:
            assert frontend_of(meta).to_dict() == meta["frontend"], name
            frontends += 1
    assert frontends == 6


# -- the torch models' configs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, says", [
    ({"feat_scale": 0.0}, "feat_scale 0.0"),      # was: a model whose every output is NaN, no error
    ({"feat_scale": NAN}, "feat_scale nan"),
    ({"feat_shift": INF}, "feat_shift inf"),
    ({"floor": 0.0}, "floor 0.0"),                # was: "math domain error"
    ({"dropout": 1.5}, "dropout 1.5"),
    ({"dropout": NAN}, "dropout nan"),
    ({"hidden": 2.5}, "hidden 2.5"),              # was: "hidden_size should be of type int" from torch
    ({"kernel": 9.0}, "kernel 9.0"),
    ({"norm_frames": 100.5}, "norm_frames 100.5"),
])
def test_detector_config_refuses_settings_that_cannot_work(kwargs, says):
    pytest.importorskip("torch")
    from speechseq.nn.detector import DetectorConfig

    with pytest.raises(ValueError, match=rf"^detector settings out of range: {says} \("):
        DetectorConfig(**kwargs)


@pytest.mark.parametrize("kwargs, says", [
    ({"vocab_size": 0}, "vocab_size 0"),          # was: a model of 0 outputs, no error
    ({"vocab_size": 1}, "vocab_size 1"),          # the blank alone: nothing to recognise
    ({"front_dim": 0}, "front_dim 0"),            # was: "input_size must be greater than zero" from torch
    ({"hidden": 0}, "hidden 0"),
    ({"kernel_size": -1}, "kernel_size -1"),      # odd, so it passed: "negative dimension -1" from torch
    ({"n_mels": 0}, "n_mels 0"),                  # was: a size mismatch in the first forward
    ({"stride": 2.0}, "stride 2.0"),              # was: "conv1d() received an invalid combination of arguments"
    ({"dropout": 1.5}, "dropout 1.5"),
    ({"dropout": 1.0}, "dropout 1.0"),
    ({"stride": 6}, "kernel_size 5"),             # was: taken, and frame 6j + 3 was never read by the conv front
])
def test_recognizer_config_refuses_settings_that_cannot_work(kwargs, says):
    pytest.importorskip("torch")
    from speechseq.nn.recognizer import RecognizerConfig

    with pytest.raises(ValueError, match=rf"^recognizer settings out of range: {says} \("):
        RecognizerConfig(**kwargs)


@pytest.mark.parametrize("kwargs, says", [
    ({"dropout": 1.5}, "dropout 1.5"),            # was: taken, then torch's error when the model is built
    ({"dropout": -1}, "dropout -1"),
    ({"dropout": NAN}, "dropout nan"),
    ({"hidden": 2.5}, "hidden 2.5"),              # was: taken, then torch's "should be of type int"
    ({"layers": True}, "layers True"),
])
@pytest.mark.parametrize("which", ["LMConfig", "DecoderConfig"])
def test_text_model_configs_refuse_settings_that_cannot_work(which, kwargs, says):
    pytest.importorskip("torch")
    from speechseq.nn import text

    with pytest.raises(ValueError, match=rf"^{'language model' if which == 'LMConfig' else 'attention decoder'} "
                                         rf"settings out of range: {says} \("):
        getattr(text, which)(**kwargs)


def test_the_shipped_models_torch_configs_still_construct():
    pytest.importorskip("torch")
    from speechseq.nn.detector import DetectorConfig
    from speechseq.nn.recognizer import RecognizerConfig
    from speechseq.nn.text import DecoderConfig, LMConfig

    kinds = {"detector": DetectorConfig.from_dict, "recognizer": lambda d: RecognizerConfig(**d),
             "recognizer-stream": lambda d: RecognizerConfig(**d), "lm": lambda d: LMConfig(**d),
             "attention-decoder": lambda d: DecoderConfig(**d)}
    made = [{k: v for k, v in kinds[meta["kind"]](meta["model_config"]).to_dict().items() if k in meta["model_config"]}
            == meta["model_config"] for meta in _shipped_metadata().values()]   # computer.onnx predates `lifter`
    assert made == [True] * 8


# -- the runtime's configs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, says", [
    ({"merge_gap_s": NAN}, "merge_gap_s nan"),    # was: taken, and no pause ever merged
    ({"min_speech_s": NAN}, "min_speech_s nan"),  # was: taken, and no blip ever dropped
    ({"pad_s": INF}, "pad_s inf"),                # was: "cannot convert float infinity to integer" per file
])
def test_region_config_refuses_durations_that_are_no_number(kwargs, says):
    from speechseq.runtime.speech_regions import RegionConfig

    with pytest.raises(ValueError, match=rf"^speech region settings out of range: {says} \("):
        RegionConfig(**kwargs)


@pytest.mark.parametrize("kwargs, says", [
    ({"end_silence_s": NAN}, "end_silence_s nan"),  # was: "cannot convert float NaN to integer" in TakeCutter
    ({"min_speech_s": NAN}, "min_speech_s nan"),
    ({"max_take_s": NAN}, "max_take_s nan"),
    ({"clip_samples": 0}, "clip_samples 0"),        # was: every take reported clipped (0 loud samples >= 0)
    ({"clip_samples": 2.5}, "clip_samples 2.5"),
    ({"clip_level": 0.0}, "clip_level 0.0"),        # was: every take reported clipped (|x| >= 0)
    ({"clip_level": NAN}, "clip_level nan"),        # was: no take ever clipped
    ({"quiet_dbfs": NAN}, "quiet_dbfs nan"),        # was: no take ever too quiet
])
def test_take_config_refuses_settings_that_cannot_work(kwargs, says):
    from speechseq.runtime.takes import TakeConfig

    with pytest.raises(ValueError, match=rf"^take settings out of range: {says} \("):
        TakeConfig(**kwargs)


@pytest.mark.parametrize("kwargs, says", [
    ({"silence_s": NAN}, "silence_s nan"),          # was: taken, and no silence ever ended an utterance
    ({"silence_s": 0.0}, "silence_s 0.0"),
    ({"max_utterance_s": NAN}, "max_utterance_s nan"),   # was: taken, and no utterance ever cut
    ({"no_speech_s": -1.0}, "no_speech_s -1.0"),
    ({"early_decode_s": NAN}, "early_decode_s nan"),
    ({"vad_threshold": 2.0}, "vad_threshold 2.0"),  # was: taken, and nothing ever speech
    ({"vad_threshold": NAN}, "vad_threshold nan"),
    ({"history_s": -1.0}, "history_s -1.0"),
    ({"start_offset_s": INF}, "start_offset_s inf"),
    ({"keyword_tail_s": NAN}, "keyword_tail_s nan"),
    ({"tail_gap_s": -0.1}, "tail_gap_s -0.1"),
    ({"pre_speech_s": NAN}, "pre_speech_s nan"),
])
def test_listener_config_refuses_settings_that_cannot_work(kwargs, says):
    from speechseq.runtime.listener import ListenerConfig

    with pytest.raises(ValueError, match=rf"^listener settings out of range: {says} \("):
        ListenerConfig(**kwargs)


def test_listener_config_keeps_what_the_listen_command_gives():
    from speechseq.runtime.listener import ListenerConfig

    from dataclasses import asdict

    given = [dict(silence_s=0.05, early_decode_s=None, no_speech_s=0.01, max_utterance_s=1.0, partials=False),
             dict(early_decode_s=0.5, start_offset_s=-0.2),   # later than the silence: never early; before the end
             dict(early_decode_s=0.0, vad_threshold=0.0, history_s=0.0, keyword_tail_s=0.0, tail_gap_s=0.0,
                  pre_speech_s=0.0, partial_decoder="stream"),    # the edges of each range are in it
             dict(vad_threshold=1.0, partial_decoder="final", partial_interval_s=0.01, partial_window_s=0.5)]
    for kwargs in given:
        kept = asdict(ListenerConfig(**kwargs))
        assert {k: kept[k] for k in kwargs} == kwargs            # taken as given, nothing rounded or replaced


@pytest.mark.parametrize("field", ["ctc", "attention", "lm", "length"])
def test_rescore_weights_refuse_a_weight_that_is_no_finite_number(field):
    from speechseq.runtime.attention import RescoreWeights

    with pytest.raises(ValueError, match=rf"^rescoring weights out of range: {field} nan \("):
        RescoreWeights(**{field: NAN})      # was: every hypothesis scored nan, the order arbitrary


# -- the training configs -----------------------------------------------------------------------------------------
TRAIN_CASES = [
    # LoopConfig: a log_every of 0 was a ZeroDivisionError at the first step, an ema_decay of 1.5 an average that
    # grows without bound, a NaN lr NaN weights: each only once training ran
    ("loop", "LoopConfig", {"epochs": 0}, "epochs 0"),
    ("loop", "LoopConfig", {"lr": NAN}, "lr nan"),
    ("loop", "LoopConfig", {"lr": 0.0}, "lr 0.0"),
    ("loop", "LoopConfig", {"ema_decay": 1.5}, "ema_decay 1.5"),
    ("loop", "LoopConfig", {"ema_decay": 1.0}, "ema_decay 1.0"),
    ("loop", "LoopConfig", {"log_every": 0}, "log_every 0"),
    ("loop", "LoopConfig", {"grad_clip": 0.0}, "grad_clip 0.0"),
    ("loop", "LoopConfig", {"grad_clip": NAN}, "grad_clip nan"),
    ("loop", "LoopConfig", {"weight_decay": -1e-4}, "weight_decay -0.0001"),
    ("loop", "LoopConfig", {"warmup_steps": -1}, "warmup_steps -1"),
    ("loop", "LoopConfig", {"lr_min_ratio": 1.5}, "lr_min_ratio 1.5"),
    ("loop", "LoopConfig", {"steps_per_epoch": 2.5}, "steps_per_epoch 2.5"),
    # AugmentConfig: speeds the wrong way round sized every batch by speed[0] (not the slowest: batches past their
    # budget), an rt60 of 0 divided by zero, a band_cut the wrong way round was torch's "from should be ... to"
    ("feataug", "AugmentConfig", {"speed": (1.12, 0.88)}, r"speed \(1.12, 0.88\)"),
    ("feataug", "AugmentConfig", {"speed": (0.0, 1.0)}, r"speed \(0.0, 1.0\)"),
    ("feataug", "AugmentConfig", {"warp": (1.1, NAN)}, r"warp \(1.1, nan\)"),
    ("feataug", "AugmentConfig", {"rt60": (0.0, 0.8)}, r"rt60 \(0.0, 0.8\)"),
    ("feataug", "AugmentConfig", {"snr_db": (35.0, 0.0)}, r"snr_db \(35.0, 0.0\)"),
    ("feataug", "AugmentConfig", {"reverb_gain": (-0.1, 0.5)}, r"reverb_gain \(-0.1, 0.5\)"),
    ("feataug", "AugmentConfig", {"band_cut": (75, 45)}, r"band_cut \(75, 45\)"),
    ("feataug", "AugmentConfig", {"speed": (0.9,)}, r"speed \(0.9,\)"),
    ("feataug", "AugmentConfig", {"warp_prob": 1.5}, "warp_prob 1.5"),
    ("feataug", "AugmentConfig", {"noise_prob": NAN}, "noise_prob nan"),
    ("feataug", "AugmentConfig", {"dither": -0.25}, "dither -0.25"),
    ("feataug", "AugmentConfig", {"freq_width": -1}, "freq_width -1"),
    ("feataug", "AugmentConfig", {"time_width": 2.5}, "time_width 2.5"),
    ("feataug", "AugmentConfig", {"time_masks_per_s": NAN}, "time_masks_per_s nan"),
    # TrainOptions, PretrainRecipe, TrainRecipe, BankConfig, VoiceOptions
    ("recognizer", "TrainOptions", {"batch_seconds": 0.0}, "batch_seconds 0.0"),
    ("recognizer", "TrainOptions", {"max_batch_size": 0}, "max_batch_size 0"),
    ("recognizer", "TrainOptions", {"workers": -1}, "workers -1"),
    ("recognizer", "TrainOptions", {"repeats": {"synth": -1.0}}, r"repeats \{'synth': -1.0\}"),
    ("detector_pretrain", "PretrainRecipe", {"batch_frames": 0}, "batch_frames 0"),
    ("detector_pretrain", "PretrainRecipe", {"val_share": 1.0}, "val_share 1.0"),
    ("detector_pretrain", "PretrainRecipe", {"ema_decay": 1.5}, "ema_decay 1.5"),
    ("detector", "TrainRecipe", {"batch": 0}, "batch 0"),
    ("detector", "TrainRecipe", {"lr": NAN}, "lr nan"),
    ("detector", "TrainRecipe", {"ema_decay": 1.5}, "ema_decay 1.5"),
    ("detector", "TrainRecipe", {"smoothing_steps": 0}, "smoothing_steps 0"),
    ("detector", "TrainRecipe", {"refractory_s": NAN}, "refractory_s nan"),
    ("detector", "TrainRecipe", {"fa_target_per_h": -1.0}, "fa_target_per_h -1.0"),
    ("detector", "TrainRecipe", {"domain_pool": "max"}, "domain_pool 'max'"),
    ("kwbank", "BankConfig", {"reverb_prob": 1.5}, "reverb_prob 1.5"),
    ("kwbank", "BankConfig", {"max_bg_s": 0.0}, "max_bg_s 0.0"),
    ("synth_sets", "VoiceOptions", {"workers": 0}, "workers 0"),
    ("synth_sets", "VoiceOptions", {"speed_min": 1.3}, "speed_max 1.2"),
    ("synth_sets", "VoiceOptions", {"speed_min": 0.1}, "speed_min 0.1"),      # was: an error per clip, in a worker
    ("synth_sets", "VoiceOptions", {"speed_max": 5.0}, "speed_max 5.0"),
    # KeywordSet, SentenceSet: a NaN neg_ratio was "cannot convert float NaN to integer" after the voices were listed,
    # no phrasing a ZeroDivisionError, 0 variations and 0 per engine no positive, n 0 or min_words > max_words an empty
    # set or "no usable sentences" after reading every text file
    ("synth_sets", "KeywordSet", {"variations": 0}, "variations 0"),
    ("synth_sets", "KeywordSet", {"variations": 2.5}, "variations 2.5"),
    ("synth_sets", "KeywordSet", {"min_per_engine": -1}, "min_per_engine -1"),
    ("synth_sets", "KeywordSet", {"phrasings": ()}, r"phrasings \(\)"),
    ("synth_sets", "KeywordSet", {"phrasings": "{}"}, "phrasings '{}'"),
    ("synth_sets", "KeywordSet", {"neg_ratio": NAN}, "neg_ratio nan"),
    ("synth_sets", "KeywordSet", {"neg_ratio": -0.5}, "neg_ratio -0.5"),
    ("synth_sets", "KeywordSet", {"alike_words": 0}, "alike_words 0"),
    ("synth_sets", "SentenceSet", {"text": (), "n": 0}, "n 0"),
    ("synth_sets", "SentenceSet", {"text": (), "min_words": 0}, "min_words 0"),
    ("synth_sets", "SentenceSet", {"text": (), "min_words": 5, "max_words": 4}, "max_words 4"),
    ("synth_sets", "SentenceSet", {"text": (), "max_words": NAN}, "max_words nan"),
    ("loop", "LoopConfig", {"seed": -1}, "seed -1"),    # torch.manual_seed took it as 2**64 - 1, without a word
    ("loop", "LoopConfig", {"seed": 1.5}, "seed 1.5"),  # ... and this as 1
    ("kwmix", "MixConfig", {"clip_s": 0.0}, "clip_s 0.0"),
    ("kwmix", "MixConfig", {"label_s": NAN}, "label_s nan"),
    ("kwmix", "MixConfig", {"reverb_prob": 1.5}, "reverb_prob 1.5"),
    ("kwmix", "MixConfig", {"snr_db": (20.0, 0.0)}, r"snr_db \(20.0, 0.0\)"),
    ("kwmix", "MixConfig", {"vtlp": (0.0, 1.12)}, r"vtlp \(0.0, 1.12\)"),
    ("kwmix", "MixConfig", {"max_pos": -1}, "max_pos -1"),
    ("kwmix", "MixConfig", {"range_db": NAN}, "range_db nan"),
]


@pytest.mark.parametrize("module, name, kwargs, says", TRAIN_CASES,
                         ids=[f"{n}-{next(iter(k))}-{i}" for i, (_, n, k, _) in enumerate(TRAIN_CASES)])
def test_training_configs_refuse_settings_that_cannot_work(module, name, kwargs, says):
    pytest.importorskip("torch")
    import importlib

    cls = getattr(importlib.import_module(f"speechseq.train.{module}"), name)
    with pytest.raises(ValueError, match=rf"^[a-z ]+ out of range: (.*, )?{says} \("):
        cls(**kwargs)


def test_training_configs_keep_their_defaults_and_the_values_in_use():
    pytest.importorskip("torch")
    from speechseq.train.detector import TrainRecipe
    from speechseq.train.detector_pretrain import PretrainRecipe
    from speechseq.train.feataug import AugmentConfig
    from speechseq.train.kwbank import BankConfig
    from speechseq.train.kwmix import MixConfig
    from speechseq.train.loop import LoopConfig
    from speechseq.train.recognizer import TrainOptions
    from speechseq.train.synth_sets import KeywordSet, SentenceSet, VoiceOptions

    for cls in (TrainRecipe, PretrainRecipe, AugmentConfig, BankConfig, MixConfig, LoopConfig, TrainOptions,
                VoiceOptions, KeywordSet):
        cls()
    SentenceSet(text=())                                                # the parser's defaults
    KeywordSet(variations=1, min_per_engine=0, neg_ratio=0.0)           # one clip a voice, no negatives
    SentenceSet(text=("a.txt",), n=1, min_words=4, max_words=4)
    LoopConfig(seed=0)
    AugmentConfig.off()
    LoopConfig(ema_decay=None, steps_per_epoch=None, grad_clip=INF)   # no average, a measured epoch, no clipping
    LoopConfig(ema_decay=0.0, steps_per_epoch=0)
    AugmentConfig(speed=[0.9, 1.1], snr_db=(0, 35))                     # a list from a JSON file, ints
    TrainRecipe(fa_target_per_h=0.0, val_neg_hours=0.0, val_positives=16)
    MixConfig.from_dict(MixConfig().to_dict() | {"snr_db": [0.0, 20.0]})
    for name, meta in _shipped_metadata().items():
        if "recipe" in meta:
            assert TrainRecipe(**meta["recipe"]).to_dict().items() >= meta["recipe"].items(), name


def test_train_recognizer_gives_a_long_stride_a_kernel_that_reads_every_frame():
    """--stride 8 with the conv front's kernel of 5 left 3 frames of every 8 unread (no --kernel option): the kernel
    grows to the odd number at or above the stride; the shipped stride 2 keeps 5."""
    pytest.importorskip("torch")
    from speechseq.cli import build_parser
    from speechseq.commands.train_recognizer import _check

    for stride, kernel in ((2, 5), (5, 5), (6, 7), (8, 9)):
        args = build_parser().parse_args(["train", "recognizer", "--manifest", "m.jsonl", "--out", "/nonexistent/run",
                                          "--stride", str(stride)])
        assert _check(args)[0].kernel_size == kernel
    args = build_parser().parse_args(["train", "recognizer", "--manifest", "m.jsonl", "--out", "/nonexistent/run",
                                      "--stride", "8", "--front", "stack"])
    assert _check(args)[0].kernel_size == 5      # unread by frame stacking: a run begun before resumes as it was
