# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real Wine parts for the tests: a prefix, PortAudio's ASIO host, the test program.

- PortAudio's ASIO-enabled DLL comes from the Windows wheel of
  ``sounddevice`` on PyPI, downloaded once and cached outside the repository
  (``$ASIOJACK_TEST_CACHE`` or ``~/.cache/asiojack-tests``), never committed.
- ``pahost.exe`` is tests/host/pahost.c built with MinGW.
- One prefix per test run (``wineboot --init`` takes ~10 s), with asiojack
  registered by the real ``asiojack register`` command; its wineserver is
  kept running (``wineserver -p``) for the run, which saves each new Wine
  process the start of a wineserver and of Wine's services.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[2]
PA_DLL = "libportaudio64bit-asio.dll"
PA_DLL32 = "libportaudio32bit-asio.dll"
WINE64 = "/usr/lib/wine/wine64"


def cache_dir() -> Path:
    """Where downloads are cached, outside the repository (created if missing)."""
    base = os.environ.get("ASIOJACK_TEST_CACHE") or str(Path.home() / ".cache" / "asiojack-tests")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def portaudio_dll(bits: int = 64) -> Path:
    """PortAudio's ASIO host DLL from sounddevice's Windows wheel (cached).

    ``bits`` 64: ``libportaudio64bit-asio.dll`` from the win_amd64 wheel;
    32: ``libportaudio32bit-asio.dll`` from the win32 wheel.
    """
    platform, name = ("win_amd64", PA_DLL) if bits == 64 else ("win32", PA_DLL32)
    target = cache_dir() / name
    if target.exists():
        return target
    download = cache_dir() / ("download" if bits == 64 else "download-win32")
    download.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "--platform", platform, "sounddevice",
                    "-d", str(download)], check=True, timeout=300)
    wheels = sorted(download.glob(f"sounddevice-*-{platform}.whl"))
    assert wheels, f"no sounddevice {platform} wheel in {download}"
    with zipfile.ZipFile(wheels[-1]) as whl:
        member = next(n for n in whl.namelist() if n.endswith("/" + name))
        # Per process: two test runs may fetch it at once.
        tmp = target.with_name(f"{name}.{os.getpid()}.part")
        tmp.write_bytes(whl.read(member))
        tmp.replace(target)
    return target


def read_until_started(proc: subprocess.Popen[str]) -> list[str]:
    """The host's lines up to its "started" event (PortAudio probes the driver first).

    Returns what it printed, for the caller's failure message; the caller
    checks ``proc.poll()`` to tell a start from an early exit.
    """
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if '"started"' in line:
            break
    return seen


def build_pahost(out_dir: Path) -> Path:
    """Build tests/host/pahost.c with MinGW into ``out_dir``."""
    exe = out_dir / "pahost.exe"
    subprocess.run(["x86_64-w64-mingw32-gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                    str(ROOT / "tests" / "host" / "pahost.c"), "-o", str(exe)], check=True)
    return exe


def wine_loader() -> str:
    """The 64-bit Wine loader to run programs with."""
    # Debian's `wine` wrapper complains about a missing wine32; wine64 doesn't.
    return WINE64 if os.path.exists(WINE64) else (shutil.which("wine64") or "wine")


@dataclass
class HostResult:
    """What pahost printed: its events and its final result line."""

    returncode: int
    events: list[dict[str, object]]
    result: dict[str, object]
    stderr: str

    def devices(self) -> list[dict[str, object]]:
        """The devices pahost listed."""
        return [e for e in self.events if e.get("event") == "device"]


class _Named(Protocol):
    @property
    def name(self) -> str:
        """The JACK server's name."""


class ServerLike(Protocol):
    """What a program needs to know of an asiojack server (harness.AsiojackServer)."""

    @property
    def runtime(self) -> Path:
        """Its runtime directory."""

    @property
    def config(self) -> Path:
        """Its configuration file."""

    @property
    def jackd(self) -> _Named:
        """Its JACK server."""


@dataclass
class WinePrefix:
    """A private prefix with asiojack registered, and how to run programs in it."""

    path: Path
    env: dict[str, str]
    pahost: Path
    portaudio: Path
    registered: str = ""   # what ``asiojack register`` printed when the prefix was made

    def run_env(self, extra: dict[str, str]) -> dict[str, str]:
        """The prefix's environment with ``extra`` added."""
        env = dict(self.env)
        env.update(extra)
        return env

    def server_env(self, server: ServerLike, **extra: str) -> dict[str, str]:
        """The environment of a program in this prefix that uses ``server`` (and its JACK)."""
        return self.run_env({"ASIOJACK_RUNTIME_DIR": str(server.runtime),
                             "JACK_DEFAULT_SERVER": server.jackd.name,
                             "ASIOJACK_CONFIG": str(server.config), **extra})

    def keep_wineserver(self) -> None:
        """Have a wineserver run for this prefix until :meth:`stop_wineserver`.

        ``wineserver -p`` (persistent): each Wine process then finds its
        server and Wine's services running instead of starting them, which
        is most of a short program's start-up.  If a server runs already
        (persistent or not), this does nothing.
        """
        keep_wineserver(["wineserver"], [wine_loader()], self.env)

    def stop_wineserver(self) -> None:
        """Kill this prefix's wineserver and every Wine process of the prefix."""
        subprocess.run(["wineserver", "-k"], env=self.env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
                       check=False)

    def host(self, *args: str, env: dict[str, str], timeout: float = 120) -> HostResult:
        """Run pahost.exe with PortAudio's DLL; parse its JSON lines."""
        cmd = [wine_loader(), str(self.pahost), str(self.portaudio), *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        return parse_host_output(proc.returncode, proc.stdout, proc.stderr)

    def popen_host(self, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
        """Start pahost with ``args`` under ``env``; text pipes for its output."""
        cmd = [wine_loader(), str(self.pahost), str(self.portaudio), *args]
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


def keep_wineserver(wineserver: list[str], loader: list[str], env: dict[str, str]) -> None:
    """Start a persistent wineserver (``wineserver -p``) and Wine's services under it.

    ``wineserver`` and ``loader`` are the commands that run them (with a
    container's entry in front).  Wine's services (services.exe, plugplay,
    winedevice, rpcss ...) are started by the first program and inherit its
    stderr: started by a test's program, they would hold that test's pipe
    open for as long as the server runs, and the test would wait for its
    end.  So a program with no pipes starts them here.  If a server runs
    already, this does nothing.
    """
    null = subprocess.DEVNULL
    started = subprocess.run([*wineserver, "-p"], env=env, stdin=null, stdout=null, stderr=null,
                             timeout=60, check=False)
    if started.returncode == 0:
        subprocess.run([*loader, "cmd", "/c", "exit"], env=env, stdin=null, stdout=null,
                       stderr=null, timeout=120, check=False)


def parse_host_output(returncode: int, stdout: str, stderr: str) -> HostResult:
    """Split pahost's output into its JSON events and its result line."""
    events = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    result = events[-1] if events and "result" in events[-1] else {}
    return HostResult(returncode, events, result, stderr)


def make_prefix(base: Path, persistent: bool = False) -> WinePrefix:
    """Create a prefix, register asiojack with the real CLI, build the host.

    ``persistent``: the prefix's wineserver is kept running from before the
    registration on (:meth:`WinePrefix.keep_wineserver`), until the caller's
    :meth:`WinePrefix.stop_wineserver`.
    """
    prefix = base / "prefix"
    data_home = base / "data"
    env = dict(os.environ)
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", XDG_DATA_HOME=str(data_home),
               # PortAudio needs winealsa.drv loaded, but ALSA itself is muted.
               ALSA_CONFIG_PATH="/dev/null", DISPLAY="", WINEDLLOVERRIDES="mscoree,mshtml=")
    subprocess.run([wine_loader(), "wineboot", "--init"], env=env, check=True,
                   capture_output=True, timeout=300)
    subprocess.run(["wineserver", "-w"], env=env, timeout=120)
    made = WinePrefix(prefix, env, Path(), Path())
    if persistent:
        made.keep_wineserver()
    reg = subprocess.run([sys.executable, "-m", "pyjack_side", "register", "--prefix",
                          str(prefix)], env=env, capture_output=True, text=True, timeout=300,
                         cwd=base)
    assert reg.returncode == 0, reg.stderr + reg.stdout
    env["WINEDLLPATH"] = str(data_home / "asiojack" / "wine")
    made.pahost, made.portaudio, made.registered = build_pahost(base), portaudio_dll(), reg.stdout
    return made
