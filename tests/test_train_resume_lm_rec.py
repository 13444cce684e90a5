"""Reruns of `train lm` and `train recognizer` into an existing --out: the same command resumes; other data, another
model size or a damaged last.pt is one error line before anything is trained; and data too thin to train on, or
rows left out, are said (tiny runs of seconds, on tone bursts standing in for speech)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

torch = pytest.importorskip("torch")

PHRASES = ("turn on the light", "open the door", "what time is it", "play some music")
TINY_REC = ("--hidden", "8", "--layers", "1", "--no-augment", "--epochs", "1")
TINY_LM = ("--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256", "--epochs", "1")


def run(capsys, *argv) -> tuple[int, str]:
    """speechseq.cli.main(argv): (exit code, stderr); never a traceback."""
    torch.set_num_threads(1)
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _manifest(folder: Path, name: str, texts: list[str], seconds: list[float] | None = None) -> Path:
    """A JSONL manifest of tone bursts (stand-ins for spoken clips), one per text, 0.6-1.3 s unless given."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        n = int(16000 * (seconds[i] if seconds else 0.6 + 0.1 * (i % 8)))
        t = np.arange(n) / 16000
        sf.write(folder / f"{name}-{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t) * np.sin(np.pi * t / t[-1]),
                 16000)
        rows.append({"audio_filepath": f"{name}-{i}.wav", "text": text})
    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("data")
    (d / "big.txt").write_text("\n".join(f"sentence number {i} of the corpus" for i in range(120)))
    (d / "small.txt").write_text("\n".join(["the cat sat", "a dog ran", "we ate soup"] * 20))
    return {"a": _manifest(d / "a", "a", [PHRASES[i % 4] for i in range(12)]),
            "b": _manifest(d / "b", "b", [PHRASES[i % 4] for i in range(5)]),
            "one": _manifest(d / "one", "one", [PHRASES[0]]),
            "big": d / "big.txt", "small": d / "small.txt"}


@pytest.fixture(scope="module")
def rec_run(data, tmp_path_factory) -> Path:
    """A one-epoch recogniser run on manifest a."""
    out = tmp_path_factory.mktemp("rec") / "r"
    assert main(["train", "recognizer", "--manifest", str(data["a"]), "--out", str(out), *TINY_REC]) == 0
    return out


@pytest.fixture(scope="module")
def lm_run(data, tmp_path_factory) -> Path:
    """A one-epoch LM run on big.txt (5 % held out)."""
    out = tmp_path_factory.mktemp("lm") / "lm"
    assert main(["train", "lm", "--text", str(data["big"]), "--out", str(out), *TINY_LM]) == 0
    return out


def test_recognizer_rerun_on_other_data_is_refused_and_the_same_command_resumes(data, rec_run, capsys):
    base = ("train", "recognizer", "--out", rec_run, *TINY_REC[:-1], "2")
    fix = f"use a new --out, or delete {rec_run} to start over"
    code, err = run(capsys, *base, "--manifest", data["b"])
    assert code == 1 and f"speechseq: error: {rec_run} holds a run on other data (--manifest was {data['a']}): {fix}" \
        in err and "training on" not in err
    code, err = run(capsys, *base, "--manifest", data["a"], "--split", "train")
    assert code == 1 and "(--split was none)" in err
    code, err = run(capsys, *base, "--manifest", data["a"], "--val-manifest", data["b"])
    assert code == 1 and "(--val-manifest was none)" in err
    assert len(json.loads((rec_run / "history.json").read_text())) == 1
    code, err = run(capsys, *base, "--manifest", data["a"])
    assert code == 0 and "training on 11 utterances" in err and f"resuming from {rec_run / 'last.pt'}" in err
    assert len(json.loads((rec_run / "history.json").read_text())) == 2


def test_recognizer_features_of_other_data_are_made_again_when_no_training_is_kept(data, tmp_path, capsys):
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", out, *TINY_REC)[0] == 0
    (out / "last.pt").unlink()  # nothing trained is left: the cache m0 of manifest a must not stand for b
    code, err = run(capsys, "train", "recognizer", "--manifest", data["b"], "--out", out, *TINY_REC)
    assert code == 0 and "training on 4 utterances" in err
    assert json.loads((out / "features" / "sources.json").read_text())["m0"] == [str(data["b"].resolve()), None]


def test_another_model_size_is_refused_before_loading_the_weights(data, rec_run, lm_run, capsys):
    code, err = run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", rec_run,
                    *TINY_REC[2:], "--hidden", "16")
    assert code == 1 and f"speechseq: error: {rec_run} was made with --hidden 8 ({rec_run / 'last.pt'}), not 16: " \
                          f"use a new --out, or delete {rec_run} to start over" in err
    code, err = run(capsys, "train", "lm", "--text", data["big"], "--out", lm_run, *TINY_LM[2:], "--hidden", "12")
    assert code == 1 and f"{lm_run} was made with --hidden 8 ({lm_run / 'last.pt'}), not 12" in err
    code, err = run(capsys, "train", "lm", "--text", data["big"], "--out", lm_run, *TINY_LM, "--rnn", "gru")
    assert code == 1 and "was made with --rnn lstm" in err


def test_lm_rerun_on_other_text_is_refused_and_best_is_never_chosen_across_unlike_scores(data, lm_run, capsys):
    best = (lm_run / "best.pt").read_bytes()
    code, err = run(capsys, "train", "lm", "--text", data["small"], "--out", lm_run, *TINY_LM[:-1], "2")
    assert code == 1 and f"{lm_run} holds a run on other data (--text was {data['big']})" in err
    code, err = run(capsys, "train", "lm", "--text", data["big"], "--heldout-percent", "0", "--out", lm_run, *TINY_LM)
    assert code == 1 and "(--heldout-percent was 5.0)" in err
    # a run made before the data were recorded: its best.pt, chosen by held-out perplexity, is not compared with
    # the training loss of a run without held-out sentences
    ck = torch.load(lm_run / "last.pt", weights_only=False)
    del ck["extra"]["sources"]
    older = lm_run.parent / "older"
    older.mkdir()
    torch.save(ck, older / "last.pt")
    (older / "best.pt").write_bytes(best)
    code, err = run(capsys, "train", "lm", "--text", data["small"], "--heldout-percent", "0", "--out", older,
                    *TINY_LM[:-1], "2")
    assert code == 1 and f"{older}/best.pt was chosen by val_ppl, this run would choose by loss" in err
    assert (older / "best.pt").read_bytes() == best and (lm_run / "best.pt").read_bytes() == best
    code, err = run(capsys, "train", "lm", "--text", data["big"], "--out", lm_run, *TINY_LM[:-1], "2")
    assert code == 0 and f"resuming from {lm_run / 'last.pt'}" in err and "best epoch" in err


@pytest.mark.parametrize("command", ["lm", "recognizer"])
def test_a_damaged_last_checkpoint_is_one_line_with_its_path_and_advice(command, data, tmp_path, capsys):
    out = tmp_path / "run"
    source = ("--text", data["big"], *TINY_LM) if command == "lm" else ("--manifest", data["a"], *TINY_REC)
    assert run(capsys, "train", command, *source, "--out", out)[0] == 0
    whole = (out / "last.pt").read_bytes()
    for cut in (0, 1000, len(whole) // 2):
        (out / "last.pt").write_bytes(whole[:cut])
        code, err = run(capsys, "train", command, *source, "--out", out)
        last = err.splitlines()[-1]
        assert code == 1 and last.startswith(f"speechseq: error: {out / 'last.pt'}: cannot read the checkpoint") and \
            last.endswith(f": delete it to start over, or copy {out / 'best.pt'} over it to go on from the best epoch")
        assert err.count("speechseq: error:") == 1 and "training on" not in err


def test_one_utterance_is_too_few_to_hold_some_out(data, tmp_path, capsys):
    code, err = run(capsys, "train", "recognizer", "--manifest", data["one"], "--out", tmp_path / "r", *TINY_REC)
    assert code == 1 and "speechseq: error: 1 utterance in --manifest: too few to hold some out for validation " \
                         "and train on the rest; give --val-manifest or more data" in err
    assert not (tmp_path / "r" / "last.pt").exists()
    code, err = run(capsys, "train", "recognizer", "--manifest", data["one"], "--val-manifest", data["b"],
                    "--out", tmp_path / "r", *TINY_REC)  # the advice works in the same --out
    assert code == 0 and "training on 1 utterance (" in err and "validating on 5" in err


def test_texts_with_no_usable_character_are_an_error_and_leave_no_cache(data, tmp_path, capsys):
    rows = [json.loads(line) for line in data["a"].read_text().splitlines()]
    cyr = data["a"].with_name("cyr.jsonl")
    cyr.write_text("".join(json.dumps({**r, "text": "привет мир"}) + "\n" for r in rows))
    out = tmp_path / "r"
    code, err = run(capsys, "train", "recognizer", "--manifest", cyr, "--out", out, *TINY_REC)
    assert code == 1 and f"speechseq: error: {cyr}: no utterance has text in a-z ' after normalisation (12 rows)" in err
    assert not list(out.glob("features/*"))
    cyr.write_text(data["a"].read_text())  # corrected in place: the rerun trains
    code, err = run(capsys, "train", "recognizer", "--manifest", cyr, "--out", out, *TINY_REC)
    assert code == 0 and "training on 11 utterances" in err


def test_batch_seconds_below_every_clip_is_an_error_and_some_left_out_a_warning_line(data, tmp_path, capsys):
    code, err = run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", tmp_path / "r1", *TINY_REC,
                    "--batch-seconds", "0.3")
    longest = max(sf.info(p).duration for p in data["a"].parent.glob("a-*.wav"))
    assert code == 1 and "speechseq: error: no training batch: every utterance is longer than --batch-seconds 0.3" \
        in err and "the longest clip lasts 1." in err and "give --batch-seconds 2 or more" in err
    assert longest == pytest.approx(1.3) and not (tmp_path / "r1" / "best.pt").exists()
    code, err = run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", tmp_path / "r2", *TINY_REC,
                    "--batch-seconds", "1.05")
    assert code == 0 and "UserWarning" not in err and "train_loss=" in err
    warned = [line for line in err.replace("\r", "\n").splitlines() if "longer than" in line]
    assert warned == ["speechseq: warning: 3 of 11 training utterances longer than batch_seconds=1.05 (the longest "
                      "1.28 s) are left out"]


def test_rows_left_out_are_counted_in_one_warning(data, tmp_path, capsys):
    folder = data["a"].parent
    rows = [json.loads(line) for line in data["a"].read_text().splitlines()]
    sf.write(folder / "blip.wav", np.zeros(50), 16000)  # shorter than one frame
    rows += [{**rows[0], "text": "!!!"}, {**rows[1], "text": ""}, {"audio_filepath": "blip.wav", "text": "a blip"}]
    path = folder / "dropped.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = run(capsys, "train", "recognizer", "--manifest", path, "--out", tmp_path / "r", *TINY_REC)
    assert code == 0 and "speechseq: warning: a: 3 of 15 utterances left out (2 with no text in a-z ' after " \
                         "normalisation, 1 with audio shorter than one frame)" in err
    assert "training on 11 utterances" in err

    text = tmp_path / "dup.txt"
    text.write_text("\n".join(["the cat sat", "a dog ran", "we ate soup", "the cat sat", "привет", "", "?"] * 30))
    code, err = run(capsys, "train", "lm", "--text", text, "--out", tmp_path / "lm", *TINY_LM, "--heldout-percent", "0")
    assert code == 0 and "speechseq: warning: 60 of 180 lines of --text left out: no two characters of a-z ' " \
                         "after normalisation" in err
    assert "3 sentences (117 duplicate lines dropped) (3 train, 0 held out)" in err


def test_a_run_folder_moved_with_its_data_still_resumes(data, tmp_path, capsys):
    import shutil

    from speechseq.commands.runs import run_path

    assert run_path(tmp_path / "run" / "synth" / "p.jsonl", tmp_path / "run") == "OUT/synth/p.jsonl"
    assert run_path(data["big"], tmp_path / "run") == str(data["big"].resolve())
    first = tmp_path / "runA"
    first.mkdir()
    shutil.copy(data["big"], first / "corpus.txt")                  # the data inside the run folder
    assert main(["train", "lm", "--text", str(first / "corpus.txt"), "--out", str(first), *TINY_LM]) == 0
    moved = tmp_path / "runB"
    first.rename(moved)
    capsys.readouterr()
    tiny = [a if a != "1" or TINY_LM[i - 1] != "--epochs" else "2" for i, a in enumerate(TINY_LM)]
    assert main(["train", "lm", "--text", str(moved / "corpus.txt"), "--out", str(moved), *tiny]) == 0
    assert "resuming from" in capsys.readouterr().err


def test_recognizer_rerun_with_other_training_options_is_refused_and_epochs_may_change(data, tmp_path, capsys):
    """A rerun with another --lr, --seed, --batch-seconds, --repeat or augmentation went on silently, training
    the run's later epochs by other options than its first (the detector's command refuses such a rerun)."""
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", out, *TINY_REC)[0] == 0
    fix = f"rerun with its options to resume it (--epochs, --workers and --device may change), use a new --out, " \
          f"or delete {out} to start over"
    base = ("train", "recognizer", "--manifest", data["a"], "--out", out, "--hidden", "8", "--layers", "1",
            "--epochs", "2")
    for extra, said in [(("--no-augment", "--lr", "0.01"), "--lr 0.0015, not 0.01"),
                        (("--no-augment", "--seed", "3"), "--seed 0, not 3"),
                        (("--no-augment", "--batch-seconds", "40"), "--batch-seconds 160, not 40"),
                        (("--no-augment", "--repeat", "2"), "--repeat none, not 2"),
                        ((), "--no-augment, not without it")]:
        code, err = run(capsys, *base, *extra)
        assert code == 1 and f"speechseq: error: {out} holds a run made with {said}: {fix}" in err, (extra, err)
        assert "training on" not in err
    code, err = run(capsys, *base, "--no-augment")
    assert code == 0 and f"resuming from {out / 'last.pt'}" in err


def test_recognizer_warm_up_is_a_tenth_of_the_run_at_most(data, tmp_path, capsys):
    """Warm-up was 5 steps per training utterance (up to 500): 55 steps of a 2-step run, whose rate never
    reached the peak --lr names; it is at most a tenth of the run's steps (one at least)."""
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", data["a"], "--out", out, *TINY_REC[:-1], "2")[0] == 0
    ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    steps = ck["step"]
    assert 1 <= steps < 20
    assert ck["loop_config"]["warmup_steps"] == max(1, steps // 10)


def test_ctrl_c_stops_a_recognizer_run_with_batch_workers_at_once(data, tmp_path):
    """Ctrl+C (to the whole process group, as a terminal sends it) while --workers processes make batches hung
    for good, with no word: the workers, forked inside the training loop, took its interrupt handler."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "r"
    argv = [sys.executable, "-m", "speechseq", "train", "recognizer", "--manifest", str(data["a"]), "--out", str(out),
            "--hidden", "8", "--layers", "1", "--no-augment", "--epochs", "500", "--workers", "2",
            "--batch-seconds", "3"]
    p = subprocess.Popen(argv, env={**os.environ, "OMP_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "last.pt").exists():
            time.sleep(0.05)
        time.sleep(1.0)
        os.killpg(p.pid, signal.SIGINT)
        err = p.communicate(timeout=60)[1]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130 and "interrupted: epoch" in err and "Traceback" not in err, err
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # no batch worker left behind
        os.killpg(p.pid, 0)


def test_lm_warm_up_and_weight_average_fit_a_short_run(data, tmp_path, capsys):
    """A fixed 100-step warm-up and a 0.995 weight average: a 2-epoch run of 32 steps never reached the peak --lr
    (0.3 x it at most), and the average it validated and kept in best.pt held 85 % of the random start (1,123 ARCTIC
    prompts, 3 epochs: held-out perplexity 31.5 against 21.6 for the weights trained). Now, as in `train recognizer`,
    warm-up is a tenth of the run at most and the average leaves e ** -5 of the start (over 20 steps at least)."""
    out = tmp_path / "lm"
    assert run(capsys, "train", "lm", "--text", data["big"], "--out", out, *TINY_LM[:-1], "2")[0] == 0
    ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    steps = ck["step"]
    assert 10 <= steps < 100
    assert ck["loop_config"]["warmup_steps"] == max(1, steps // 10)
    assert ck["loop_config"]["ema_decay"] == pytest.approx(max(0.95, 1 - 5 / steps))


def test_lm_rerun_with_other_training_options_is_refused_and_epochs_may_change(data, lm_run, capsys):
    """A rerun with another --lr, --seed or --batch-tokens went on silently, training the run's later epochs by other
    options than its first (batches of another size under the first run's schedule)."""
    fix = f"rerun with its options to resume it (--epochs, --threads and --device may change), use a new --out, " \
          f"or delete {lm_run} to start over"
    base = ("train", "lm", "--text", data["big"], "--out", lm_run, *TINY_LM[:-1], "2")
    for extra, said in [(("--lr", "0.01"), "--lr 0.002, not 0.01"), (("--seed", "3"), "--seed 0, not 3"),
                        (("--batch-tokens", "512"), "--batch-tokens 256, not 512")]:
        code, err = run(capsys, *base, *extra)   # the last --batch-tokens given is the one taken
        assert code == 1 and f"speechseq: error: {lm_run} holds a run made with {said}: {fix}" in err, (extra, err)
        assert "resuming from" not in err
    code, err = run(capsys, *base, "--threads", "2")
    assert code == 0 and f"resuming from {lm_run / 'last.pt'}" in err
