"""Inference needs no torch: the runtime imports and runs with torch made unimportable."""
import subprocess
import sys
import textwrap

import pytest

BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is blocked in this test")
    sys.meta_path.insert(0, _NoTorch())
""")


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


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
        print(len(names))
    """)
    assert r.returncode == 0, r.stderr


def test_cli_runs_without_torch(demo_wav):
    r = _run(f"""
        from speechseq.cli import main
        code = main(["features", "--json", {str(demo_wav)!r}])
        assert "torch" not in sys.modules
        sys.exit(code)
    """)
    assert r.returncode == 0, r.stderr
    assert '"frames": 515' in r.stdout
