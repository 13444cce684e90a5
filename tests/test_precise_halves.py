"""scripts/precise_halves.py: a wake word's clips in the halves detector_tradeoff.py scores, as links."""
import subprocess
import sys
from pathlib import Path

from speechseq.train.manifests import name_pct

from .fake_precise import write_fake_data

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "precise_halves.py"


def test_halves_split_the_clips_by_the_tradeoff_hash(tmp_path):
    data, out = tmp_path / "data", tmp_path / "halves"
    write_fake_data(data, ("android", "amelia"), per_word=12, not_wake=6)
    r = subprocess.run([sys.executable, str(SCRIPT), "--keyword", "android", "--out", str(out), "--data", str(data)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    dev, test = (sorted(p.name for p in (out / "android" / h).iterdir()) for h in ("dev", "test"))
    assert sorted(dev + test) == sorted(f"android-{i}.wav" for i in range(12)) and not set(dev) & set(test)
    assert all(name_pct(n) % 2 == 0 for n in dev) and all(name_pct(n) % 2 == 1 for n in test)
    unseen = sorted(p.name for p in (out / "android" / "unseen").iterdir())
    assert unseen == sorted(f"amelia__amelia-{i}.wav" for i in range(12))     # another keyword's clips
    speech = list((out / "android" / "real-speech").iterdir())
    assert len(speech) == 12 + len(list((out / "android" / "threshold-choice").iterdir()))
    assert (out / "android" / "dev" / dev[0]).resolve() == (data / "precise" / "android" / dev[0]).resolve()
    again = subprocess.run([sys.executable, str(SCRIPT), "--keyword", "android", "--out", str(out), "--data", str(data)],
                           capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == r.stdout                   # rerun: the same folders
    r = subprocess.run([sys.executable, str(SCRIPT), "--keyword", "robot", "--out", str(out), "--data", str(data)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "no Precise clips" in r.stderr
