"""A private PulseAudio daemon with a virtual microphone, for tests through a real audio stack.

    from tests.pulse import pulse_mic   # noqa: F401  (the fixture)

    def test_x(pulse_mic):
        pulse_mic.env                   # environment for subprocesses (XDG_RUNTIME_DIR, PULSE_SERVER)
        pulse_mic.play(wav)             # "speak" into the microphone (paplay into the null sink)

The daemon gets its own runtime directory, a 16 kHz mono null sink `vmic` whose monitor is the
default source (what is played into the sink is captured bit-exactly), and is stopped after
the test module. This process's environment is pointed at it for the module's duration too, so
sounddevice opened in-process (after `reinit_portaudio()`) records from it. Tests skip, saying
why, where PulseAudio is not installed (CI installs it: scripts/install-system.sh).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = ["PulseMic", "pulse_mic", "pulse_session", "start_pulse", "reinit_portaudio"]


@dataclass
class PulseMic:
    runtime_dir: Path
    env: dict
    sink: str = "vmic"

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, check=True, capture_output=True, text=True,
                              timeout=20).stdout

    def play(self, wav: str | os.PathLike, wait: bool = True) -> subprocess.Popen:
        p = subprocess.Popen(["paplay", f"--device={self.sink}", str(wav)], env=self.env)
        if wait:
            p.wait(timeout=120)
            if p.returncode:
                raise RuntimeError(f"paplay failed ({p.returncode})")
        return p

    @property
    def pid(self) -> int | None:
        f = self.runtime_dir / "pulse" / "pid"
        try:
            return int(f.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        pid = self.pid
        if pid is None:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


def start_pulse() -> PulseMic:
    missing = [t for t in ("pulseaudio", "pactl", "paplay") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"PulseAudio not installed ({', '.join(missing)} missing; scripts/install-system.sh installs it)")
    runtime = Path(tempfile.mkdtemp(prefix="speechseq-pa-"))
    runtime.chmod(0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/pulse/native",
           "PULSE_RUNTIME_PATH": str(runtime / "pulse")}
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit=yes", "--disable-shm=yes",
                    "--load=module-native-protocol-unix", "--log-target=stderr", "--log-level=error"],
                   env=env, check=True, timeout=30, stderr=subprocess.DEVNULL)
    mic = PulseMic(runtime, env)
    for _ in range(50):
        if (runtime / "pulse" / "native").exists():
            break
        time.sleep(0.1)
    mic.pactl("load-module", "module-null-sink", "sink_name=vmic", "rate=16000", "channels=1", "format=s16le")
    mic.pactl("set-default-source", "vmic.monitor")
    mic.pactl("set-default-sink", "vmic")
    return mic


def reinit_portaudio() -> None:
    """Make an already imported sounddevice see the current PulseAudio server (PortAudio lists devices once)."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@contextmanager
def pulse_session() -> Iterator[PulseMic]:
    """A private server for the duration of the block, this process's environment pointed at it."""
    mic = start_pulse()
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_RUNTIME_PATH")}
    os.environ.update({k: mic.env[k] for k in saved})
    try:
        yield mic
    finally:
        mic.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(mic.runtime_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pulse_mic() -> Iterator[PulseMic]:
    with pulse_session() as mic:
        yield mic
