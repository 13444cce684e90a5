"""Review of the shared CLI helpers (speechseq/commands/common.py): folders reached through symbolic links, training
devices torch names but cannot train on, and an output file named as a folder."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.commands.common import checked_device, expand_inputs, output_file
from speechseq.errors import SpeechseqError


def _wav(path, seconds: float = 0.3):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(0).normal(0, 0.1, int(16000 * seconds)).astype(np.float32), 16000)
    return path


def test_audio_in_a_linked_folder_is_read_and_a_link_loop_ends(tmp_path, capsys):
    """A data folder whose speakers are symbolic links to folders elsewhere (a common layout on shared disks): the
    files in the linked folders were silently left out (a training on a fraction of its data), and a folder of only
    linked folders was "holds no audio files". Linked folders are read, each real folder once, so a loop ends."""
    _wav(tmp_path / "real" / "spk1" / "a.wav")
    _wav(tmp_path / "real" / "spk2" / "c.wav")
    (tmp_path / "real" / "spk1" / "up").symlink_to("..")     # a loop: real/spk1/up/spk1/up/...
    data = tmp_path / "data"
    _wav(data / "b.wav")
    (data / "spk1").symlink_to(tmp_path / "real" / "spk1")
    (data / "self").symlink_to(".")                           # another loop
    assert expand_inputs([str(data)]) == [data / "b.wav", data / "spk1" / "a.wav",
                                          data / "spk1" / "up" / "spk2" / "c.wav"]  # real/spk2, through the loop
    only_links = tmp_path / "links"
    only_links.mkdir()
    (only_links / "spk2").symlink_to(tmp_path / "real" / "spk2")
    assert expand_inputs([str(only_links)]) == [only_links / "spk2" / "c.wav"]
    assert capsys.readouterr().err == ""


def test_hidden_audio_is_still_counted_through_links(tmp_path, capsys):
    _wav(tmp_path / "real" / ".cache" / "h.wav")
    _wav(tmp_path / "real" / "a.wav")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "r").symlink_to(tmp_path / "real")
    assert expand_inputs([str(tmp_path / "data")]) == [tmp_path / "data" / "r" / "a.wav"]
    assert "1 hidden audio file left out" in capsys.readouterr().err


@pytest.mark.parametrize("device", ["meta", "xpu", "vulkan"])
def test_a_device_torch_names_but_cannot_train_on_is_one_line(device, tmp_path, capsys):
    """--device meta (or xpu, vulkan on a torch built without them) passed the check, and `train lm` ended in a
    traceback from inside torch ("Tensor.item() cannot be called on meta tensors", "Torch not compiled with XPU
    enabled") after OUT was made."""
    torch = pytest.importorskip("torch")
    usable = False
    try:
        torch.ones(1, device=device).cpu()
        usable = True
    except Exception:  # noqa: BLE001
        pass
    if usable:
        pytest.skip(f"this torch trains on {device}")
    with pytest.raises(SpeechseqError, match=f"--device {device}: torch cannot train on it here"):
        checked_device(device)
    text = tmp_path / "t.txt"
    text.write_text("hello world\nthe cat sat\n" * 5)
    out = tmp_path / "run"
    assert main(["train", "lm", "--text", str(text), "--out", str(out), "--epochs", "1", "--device", device]) == 1
    assert f"--device {device}: torch cannot train on it here" in capsys.readouterr().err
    assert not out.exists()
    assert checked_device("cpu") == "cpu"


def test_an_output_file_named_with_a_trailing_slash_is_a_folder_not_a_file(tmp_path):
    """`eval recognizer --json results/` (a folder meant, not there yet) wrote the JSON to a file named "results"."""
    with pytest.raises(SpeechseqError, match=r"--json .*results/: names a folder; give a file name"):
        output_file(f"{tmp_path}/results/", "--json")
    assert output_file(f"{tmp_path}/results/r.json", "--json") == tmp_path / "results" / "r.json"


def test_a_manifest_named_as_audio_is_called_a_manifest(tmp_path, capsys):
    """`speechseq detect dev.jsonl` (eval and train read manifests, detect, transcribe and features read audio)
    said "cannot decode audio: not audio in a format speechseq reads ..., or damaged"."""
    wav = _wav(tmp_path / "a.wav")
    manifest = tmp_path / "dev.jsonl"
    manifest.write_text('{"audio_filepath": "a.wav", "text": "hi"}\n')
    assert main(["features", "--json", str(manifest), str(wav)]) == 1
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1
    assert f"{manifest}: a JSONL manifest, not an audio file: name its audio files" in err and "decode" not in err
    with pytest.raises(SpeechseqError, match="a JSONL manifest, not an audio file"):
        expand_inputs([str(manifest)])


def test_an_empty_output_path_is_one_line_not_the_working_directory(tmp_path, monkeypatch, capsys):
    """`--out ""` (a variable left unset in a script) made output_dir write the run into the working directory, and
    output_file call it "--out .: is a directory": one line naming the empty path, before any work."""
    from speechseq.commands.common import output_dir

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpeechseqError, match=r"^--out '': an empty path names no folder$"):
        output_dir("", "--out")
    with pytest.raises(SpeechseqError, match=r"^--json '': an empty path names no file$"):
        output_file("", "--json")
    text = tmp_path / "t.txt"
    text.write_text("hello world\nthe cat sat\n" * 5)
    assert main(["train", "lm", "--text", str(text), "--out", "", "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "speechseq: error: --out '': an empty path names no folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]   # nothing written where the command ran
    assert output_dir(tmp_path / "run", "--out") == tmp_path / "run" and (tmp_path / "run").is_dir()


def test_transcribe_output_dir_empty_is_one_line_not_stdout(tmp_path, capsys):
    """`transcribe --output-dir ""` was taken as no --output-dir: the outputs went to stdout without a word."""
    sample = Path(__file__).resolve().parents[1] / "data" / "samples" / "activate_kitchen_lights.wav"
    assert main(["transcribe", str(sample), "--output-dir", "", "--decoder", "greedy"]) == 1
    out = capsys.readouterr()
    assert out.out == "" and out.err.strip() == "speechseq: error: --output-dir '': an empty path names no folder"


@pytest.mark.parametrize("command", [["train", "lm", "--text", "t.txt"], ["train", "recognizer", "--manifest", "m"],
                                     ["train", "detector", "--keyword", "yes"]])
def test_a_seed_torch_cannot_take_is_a_usage_error(command, tmp_path, capsys):
    """--seed of 2**64 or more was a torch traceback once the work had begun (train lm, recognizer, detector)."""
    with pytest.raises(SystemExit) as err:
        main([*command, "--out", str(tmp_path / "run"), "--seed", str(2**64)])
    assert err.value.code == 2
    assert "argument --seed: must be < 2**64" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_dash_for_standard_input_is_said_to_be_unsupported(tmp_path, monkeypatch):
    """`speechseq transcribe -` said '-: no such file', as if a file named '-' were missing: audio is not read from
    standard input, which is now said, with what to do instead; a real file named '-' is still read."""
    from speechseq.commands.common import expand_inputs

    monkeypatch.chdir(tmp_path)
    skipped: list[str] = []
    assert expand_inputs(["-"], skipped=skipped) == [] and skipped == ["-"]
    with pytest.raises(SpeechseqError, match="standard input"):
        expand_inputs(["-"])
    (tmp_path / "-").write_bytes(b"RIFF")
    assert expand_inputs(["-"]) == [Path("-")]


def test_an_output_folder_on_a_read_only_file_system_says_so(tmp_path):
    """An existing --out folder on a read-only file system (a read-only mount, a live image) was "cannot write in it
    (permission denied)", sending the user to chmod; the system's reason is said. Needs a real read-only bind mount
    (root): skipped where none can be made."""
    import subprocess

    from speechseq.commands.common import output_dir

    src, ro = tmp_path / "src", tmp_path / "ro"
    src.mkdir()
    ro.mkdir()
    made = subprocess.run(["mount", "-o", "ro,bind", str(src), str(ro)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"no read-only bind mount here: {made.stderr.decode(errors='replace').strip()}")
    try:
        # a bind mount is read-only from its remount on some kernels: made sure of
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True)
        if os.access(ro, os.W_OK) or not os.statvfs(ro).f_flag & os.ST_RDONLY:
            pytest.skip("the bind mount is not read-only here")
        with pytest.raises(SpeechseqError, match=rf"^--out {re.escape(str(ro))}: cannot write in it "
                                                 r"\(read-only file system\)$"):
            output_dir(ro, "--out")
        with pytest.raises(SpeechseqError, match=rf"^--out {re.escape(str(ro / 'run'))}: cannot create it "
                                                 r"\(Read-only file system\)$"):
            output_dir(ro / "run", "--out")
    finally:
        subprocess.run(["umount", str(ro)], check=True)
    assert output_dir(src, "--out") == src                  # the same folder, writable, is taken
