"""Training's validation and threshold choice hear each negative file (and each mix) as `detect` hears a file:
alone, followed by the second of quiet noise after it (eval detector's `negative_posteriors(..., tail=True)`), so
that a word at a stream's very end can fire, as the posterior of a detector rises only after a word ends."""
import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from speechseq.frontend import FrontendConfig, logmel  # noqa: E402
from speechseq.nn.detector import DetectorConfig  # noqa: E402
from speechseq.train.augment import coloured_noise  # noqa: E402
from speechseq.train.kwbank import BankConfig, BankItem, build_bank  # noqa: E402
from tests.test_detector_train import _role as _bank_role  # noqa: E402  (a tiny bank's role of clips)

SR = 16000


class AfterWord(torch.nn.Module):
    """A detector's timing without a network: p 0.95 at an output step (4 frames) whose last 20 frames are quiet
    and whose 20 frames before held a loud one (a word ended 0.2-0.4 s ago), p 0.05 elsewhere. A frame is loud
    when its loudest band is 6 nepers over the quietest frame's so far. Causal, as a detector is."""

    cfg = DetectorConfig(stride=4)

    def forward(self, x):
        level = x.amax(-1)
        loud = (level > torch.cummin(level, 1).values + 6.0).float()
        c = torch.nn.functional.pad(torch.cumsum(loud, 1), (1, 0))       # c[:, i]: loud frames before frame i
        f = torch.arange(x.shape[1] // 4) * 4 + 4                         # each step's end (exclusive)
        lo, mid = (f - 40).clamp(min=0), (f - 20).clamp(min=0)
        fire = (c[:, f] - c[:, mid] == 0) & (c[:, mid] - c[:, lo] > 0)
        return torch.where(fire, 3.0, -3.0)


def _tone(seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(np.arange(int(SR * seconds)) * 2 * np.pi * 700 / SR)).astype(np.float32)


def _ending_with_a_word(path, seconds: float, seed: int):
    """`seconds` of a quiet room whose last 0.5 s holds a word (a tone): the word ends with the file."""
    audio = 0.01 * coloured_noise("pink", int(SR * seconds), np.random.default_rng(seed))
    audio[-SR // 2:] += _tone(0.5)
    sf.write(path, audio.astype(np.float32), SR)
    return str(path)


def _role(bank: dict, role: str, clips: list[np.ndarray]) -> None:
    _bank_role(bank, role, clips, source="tone")


@pytest.fixture(scope="module")
def two_rooms(tmp_path_factory) -> dict:
    """A bank whose held-out background is two 16-s recordings of one source, each ending with a word."""
    d = tmp_path_factory.mktemp("rooms")
    items = [BankItem(_ending_with_a_word(d / f"room{i}.wav", 16.0, i), "val_bg", 1.0, "room") for i in range(2)]
    return build_bank(items, BankConfig(), workers=1)


def test_the_bank_keeps_where_each_background_file_starts_through_merge_and_select(tmp_path):
    from speechseq.train.kwbank import file_offsets, merge_banks, select_clips

    items = [BankItem(_ending_with_a_word(tmp_path / f"r{i}.wav", s, i), "bg", 1.0, src)
             for i, (s, src) in enumerate(((2.0, "a"), (3.0, "a"), (1.5, "b")))]
    bank = build_bank(items, BankConfig(), workers=1)
    n = [len(logmel(sf.read(tmp_path / f"r{i}.wav", dtype="float32")[0], FrontendConfig())) for i in range(3)]
    assert bank["bg/offsets"].tolist() == [0, n[0] + n[1], sum(n)]          # one stream per source, as before
    assert bank["bg/files"].tolist() == [0, n[0], n[0] + n[1], sum(n)]      # and where each file starts in them
    older = {k: v for k, v in bank.items() if k != "bg/files"}              # a bank built before files were kept
    merged = merge_banks([(bank, {"bg": "bg"}), (older, {"bg": "bg"})])
    assert file_offsets(merged, "bg").tolist() == [0, n[0], n[0] + n[1], sum(n), sum(n) + n[0] + n[1], 2 * sum(n)]
    only_b = select_clips(bank, "bg", np.array([False, True]))
    assert only_b["bg/files"].tolist() == [0, n[2]]
    only_a = select_clips(merged, "bg", np.array([True, False, False, True]))
    assert only_a["bg/files"].tolist() == [0, n[0], n[0] + n[1], n[0] + n[1] + n[2]]


def test_the_threshold_choice_counts_a_word_at_a_files_end_as_detect_does(two_rooms):
    """The two recordings end to end, cut into 30-s rows: the first one's word was followed by the second's room,
    the second's fell on the row's end and never fired (1 false accept, in 30.0 s: the last 2 s were dropped).
    Each file streamed alone and followed by detect's quiet second: both fire, in the files' 32.0 s."""
    from speechseq.train.detector import TrainRecipe, choose_threshold

    frames = len(two_rooms["val_bg/q"])
    _, table = choose_threshold(AfterWord(), two_rooms, TrainRecipe(smoothing_steps=1), lowest=0.0)
    at = table["threshold"].index(0.5)
    assert table["val_bg"]["fa_per_h"][at] == pytest.approx(2 / (frames / 100 / 3600), abs=0.01)
    assert table["val_bg"]["hours"] == round(frames / 100 / 3600, 3)


def _validation_bank(rooms: dict) -> dict:
    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}}}
    _role(bank, "val_pos", [_tone(3.8)])        # with its 0.1 s pads, the whole 4-s validation mix: it ends there
    _role(bank, "val_neg", [_tone(0.5)])
    bank.update({k: v for k, v in rooms.items() if k.startswith("val_bg/")})
    bank["meta"]["roles"]["val_bg"] = rooms["meta"]["roles"]["val_bg"]
    return bank


MIX = dict(reverb_prob=0.0, tempo=(1.0, 1.0), vtlp=(1.0, 1.0), snr_db=(30.0, 30.0), quiet_prob=0.0,
           level_dbfs=(-30.0, -20.0), floor_dbfs=(-75.0, -70.0))


def test_validation_finds_a_keyword_that_ends_with_its_mix(two_rooms):
    """Every held-out keyword ends 0.1 s before its 4-s mix does, and the detector fires 0.2 s after a word: each
    was scored in the mix's last steps only and missed (100 % false rejects at 0.5). Followed by the quiet second,
    each is found, as eval detector finds a keyword at a recording's end (positives padded 1 s after)."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    recipe = TrainRecipe(val_positives=16, val_neg_hours=0.0, smoothing_steps=1)
    validation = Validation(_validation_bank(two_rooms), MixConfig(**MIX), recipe, 4, "cpu")
    out = validation(AfterWord())
    assert out["val_frr_at_05"] == 0.0


def test_validation_counts_a_word_at_a_held_out_recordings_end(two_rooms):
    """The held-out recordings' false accepts per hour, as the threshold choice's: 2 in their own 32 s (it was 1
    in the 30 s of the one row the two made)."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    frames = len(two_rooms["val_bg/q"])
    recipe = TrainRecipe(val_positives=16, val_neg_hours=0.0, smoothing_steps=1)
    validation = Validation(_validation_bank(two_rooms), MixConfig(**MIX), recipe, 4, "cpu")
    assert validation.neg_hours == pytest.approx(frames / 100 / 3600)
    out = validation(AfterWord())
    assert out["val_fa_per_h_at_05"] == pytest.approx(2 / (frames / 100 / 3600))
