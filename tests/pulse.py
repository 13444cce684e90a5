"""A private PulseAudio daemon with a virtual microphone, for tests through a real audio stack.

    from tests.pulse import pulse_mic   # noqa: F401  (the fixture)

    def test_x(pulse_mic):
        pulse_mic.env                   # environment for subprocesses (XDG_RUNTIME_DIR, PULSE_SERVER, PULSE_*_PATH)
        pulse_mic.play(wav)             # "speak" into the microphone (paplay into the null sink)

The daemon gets its own folder, a 16 kHz mono null sink `vmic` whose monitor is the default source (what is
played into the sink is captured bit-exactly), and is stopped after the test module. This process's
environment is pointed at it for the module's duration too, so sounddevice opened in-process (after
`reinit_portaudio()`) records from it. Its config, state and runtime paths (cookie, socket, pid file) are in
its folder, which is removed with it: nothing goes to ~/.config/pulse or /tmp/pulse-XXXX (see
`private_pulse_paths`). Tests skip, saying why, where PulseAudio is not installed (CI installs it:
scripts/install-system.sh).
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

__all__ = ["PulseMic", "pulse_mic", "pulse_session", "start_pulse", "reinit_portaudio", "private_pulse_paths",
           "FOREIGN_PULSE_VARS"]

# What would point a client at a server or a cookie other than the one of its folder.
FOREIGN_PULSE_VARS = ("PULSE_SERVER", "PULSE_COOKIE", "PULSE_CLIENTCONFIG", "PULSE_SINK", "PULSE_SOURCE")


def private_pulse_paths(root: Path) -> dict[str, str]:
    """PulseAudio's config, state and runtime paths and its cookie in `root` (pulseaudio(1): PULSE_CONFIG_PATH,
    PULSE_STATE_PATH, PULSE_RUNTIME_PATH; PULSE_COOKIE, which a client takes as $HOME/.config/pulse/cookie whatever
    PULSE_CONFIG_PATH says), for a daemon and its clients: the cookie, the `<machine-id>-runtime` link a client
    without XDG_RUNTIME_DIR makes to a /tmp/pulse-XXXX folder, the socket and the pid file go there instead of
    ~/.config/pulse. Its client.conf turns autospawn off: a client that finds no server does not start one."""
    paths = {"PULSE_CONFIG_PATH": root / "config", "PULSE_STATE_PATH": root / "state",
             "PULSE_RUNTIME_PATH": root / "pulse"}
    for p in paths.values():
        p.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / "config" / "client.conf").write_text("autospawn = no\n")
    return {**{k: str(v) for k, v in paths.items()}, "PULSE_COOKIE": str(root / "config" / "cookie")}


@dataclass
class PulseMic:
    runtime_dir: Path                # the server's folder: runtime (pulse/), config/, state/, home/
    env: dict
    sink: str = "vmic"

    @property
    def _tool_env(self) -> dict:
        """The daemon's and the PulseAudio tools' environment: env, with a HOME of its own as well."""
        return {**self.env, "HOME": str(self.runtime_dir / "home")}

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self._tool_env, check=True, capture_output=True, text=True,
                              timeout=20).stdout

    def play(self, wav: str | os.PathLike, wait: bool = True) -> subprocess.Popen:
        p = subprocess.Popen(["paplay", f"--device={self.sink}", str(wav)], env=self._tool_env)
        if wait:
            p.wait(timeout=120)
            if p.returncode:
                raise RuntimeError(f"paplay failed ({p.returncode})")
        return p

    def serve(self) -> None:
        """Start the daemon on this folder (again, after `stop`), with the virtual microphone as default source."""
        (self.runtime_dir / "home").mkdir(mode=0o700, exist_ok=True)
        subprocess.run(["pulseaudio", "-D", "-n", "--exit-idle-time=-1", "--disallow-exit=yes", "--disable-shm=yes",
                        f"--load=module-native-protocol-unix auth-cookie=\"{self.env['PULSE_COOKIE']}\"",
                        "--log-target=stderr", "--log-level=error"],
                       env=self._tool_env, check=True, timeout=30, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if (self.runtime_dir / "pulse" / "native").exists():
                break
            time.sleep(0.1)
        self.pactl("load-module", "module-null-sink", f"sink_name={self.sink}", "rate=16000", "channels=1",
                   "format=s16le")
        self.pactl("set-default-source", f"{self.sink}.monitor")
        self.pactl("set-default-sink", self.sink)

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
    """A started server in a new folder of its own; the caller stops it and removes `runtime_dir`."""
    missing = [t for t in ("pulseaudio", "pactl", "paplay") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"PulseAudio not installed ({', '.join(missing)} missing; scripts/install-system.sh installs it)")
    runtime = Path(tempfile.mkdtemp(prefix="speechseq-pa-"))
    runtime.chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_PULSE_VARS}
    env.update(private_pulse_paths(runtime), XDG_RUNTIME_DIR=str(runtime), PULSE_SERVER=f"unix:{runtime}/pulse/native")
    mic = PulseMic(runtime, env)
    try:
        mic.serve()
    except BaseException:
        mic.stop()
        shutil.rmtree(runtime, ignore_errors=True)
        raise
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
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_RUNTIME_PATH",
                                            "PULSE_CONFIG_PATH", "PULSE_STATE_PATH", "PULSE_COOKIE")}
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
