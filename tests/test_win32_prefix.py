# SPDX-License-Identifier: LGPL-2.1-or-later
"""A 32-bit prefix (WINEARCH=win32): ``asiojack register`` installs the i386 driver.

The prefix is made by the 32-bit Wine loader, registered with the real
``asiojack register``, and a 32-bit PortAudio host (``pahost.c`` built by
i686 MinGW, ``libportaudio32bit-asio.dll`` from sounddevice's win32 wheel)
lists and streams through asiojack in it.  These tests need wine32: without
it they fail, saying how to install it safely.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AsiojackServer, Jackd, start_server

from asiojack_rig.winehost import ROOT, keep_wineserver, parse_host_output, portaudio_dll
from pyjack_side import wine

WINE32_INSTALL = ("dpkg --add-architecture i386 && apt-get update && apt-get install wine64 "
                  "wine32:i386 libwine:amd64 libwine:i386 (one command, so that apt keeps "
                  "wine64; check /usr/lib/wine/wine64 afterwards)")


def require_wine32() -> str:
    """The 32-bit Wine loader (Debian: /usr/lib/wine/wine from wine32:i386)."""
    debian = Path("/usr/lib/wine")
    if (debian / "wine64").exists():
        if (debian / "wine").exists():
            return str(debian / "wine")
        pytest.fail(f"these tests need 32-bit Wine (wine32:i386 is not installed): "
                    f"{WINE32_INSTALL}")
    found = shutil.which("wine")
    if found is None:
        pytest.fail(f"these tests need 32-bit Wine: {WINE32_INSTALL}")
    return found


class Win32Prefix:
    """A WINEARCH=win32 prefix and how to run things in it."""

    def __init__(self, base: Path) -> None:
        self.loader = require_wine32()
        self.path = base / "prefix32"
        self.data = base / "data"
        self.env = dict(os.environ, WINEPREFIX=str(self.path), WINEARCH="win32",
                        WINEDEBUG="-all", XDG_DATA_HOME=str(self.data),
                        ALSA_CONFIG_PATH="/dev/null", DISPLAY="",
                        WINEDLLOVERRIDES="mscoree,mshtml=")
        subprocess.run([self.loader, "wineboot", "--init"], env=self.env, check=True,
                       capture_output=True, timeout=300)
        subprocess.run(["wineserver", "-w"], env=self.env, timeout=120)
        # Kept running for the module (each test runs `asiojack register`,
        # i.e. several Wine programs): each finds its wineserver started.
        keep_wineserver(["wineserver"], [self.loader], self.env)
        self.pahost = base / "pahost32.exe"
        subprocess.run(["i686-w64-mingw32-gcc", "-std=c11", "-O2", "-Wall", "-Wextra",
                        "-Werror", str(ROOT / "tests/host/pahost.c"), "-o", str(self.pahost)],
                       check=True)
        self.portaudio = portaudio_dll(32)

    def cli(self, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "pyjack_side", *args, "--prefix",
                               str(self.path)], env=self.env, cwd=cwd, capture_output=True,
                              text=True, timeout=300)

    def host(self, server: AsiojackServer, *args: str) -> dict[str, object]:
        env = dict(self.env, WINEDLLPATH=str(self.data / "asiojack" / "wine"),
                   ASIOJACK_RUNTIME_DIR=str(server.runtime),
                   JACK_DEFAULT_SERVER=server.jackd.name, ASIOJACK_CONFIG=str(server.config))
        r = subprocess.run([self.loader, str(self.pahost), str(self.portaudio), *args],
                           env=env, capture_output=True, text=True, timeout=120)
        out = parse_host_output(r.returncode, r.stdout, r.stderr)
        return {"result": out.result, "devices": out.devices(), "stderr": r.stderr}


@pytest.fixture(scope="module")
def prefix32(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Win32Prefix]:
    prefix = Win32Prefix(tmp_path_factory.mktemp("wine32"))
    yield prefix
    subprocess.run(["wineserver", "-k"], env=prefix.env, check=False)


def pe_machine(path: Path) -> int:
    data = path.read_bytes()
    pe = int.from_bytes(data[0x3C:0x40], "little")
    assert data[pe:pe + 4] == b"PE\0\0", path
    return int.from_bytes(data[pe + 4:pe + 6], "little")


def test_register_installs_the_i386_driver_in_a_win32_prefix(prefix32: Win32Prefix,
                                                              tmp_path: Path) -> None:
    assert "#arch=win32" in (prefix32.path / "system.reg").read_text(errors="replace")
    r = prefix32.cli("register", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "32-bit prefix (#arch=win32)" in r.stdout, r.stdout
    assert "registered asiojack.dll (32-bit) in" in r.stdout, r.stdout
    # system32 of a 32-bit prefix holds the i386 PE (machine 0x14c), not x86_64's.
    dll = prefix32.path / "drive_c/windows/system32/asiojack.dll"
    assert pe_machine(dll) == 0x14C
    assert wine.is_registered(prefix32.path)


def test_a_32bit_host_streams_in_the_win32_prefix(prefix32: Win32Prefix, jackd256: Jackd,
                                                  tmp_path: Path) -> None:
    r = prefix32.cli("register", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    server = start_server(tmp_path, jackd256, "inputs = 2\noutputs = 2\n")
    try:
        listed = prefix32.host(server, "list")
        assert "asiojack" in [d["name"] for d in listed["devices"] if d.get("asio")], listed
        streamed = prefix32.host(server, "stream", "--device", "asiojack", "--seconds", "0.5",
                                 "--channels", "2")
        assert streamed["result"].get("result") == "ok", (streamed, server.log_text())
        assert "(32-bit)" in server.log_text()
    finally:
        server.stop()


def test_unregister_a_win32_prefix(prefix32: Win32Prefix, tmp_path: Path) -> None:
    assert prefix32.cli("register", cwd=tmp_path).returncode == 0
    r = prefix32.cli("unregister", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "unregistered asiojack.dll" in r.stdout
    assert not wine.is_registered(prefix32.path)


def test_a_win32_prefix_without_32bit_wine_is_told_how_to_install_it(
        prefix32: Win32Prefix, tmp_path: Path) -> None:
    env = dict(prefix32.env, WINE32=str(tmp_path / "no-wine32-here"))
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "register", "--prefix",
                        str(prefix32.path)], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    assert "32-bit Wine not found" in r.stderr, r.stderr
    # The safe way: both arches in one apt call, and watch for wine64's removal.
    assert "apt-get install wine64 wine32:i386 libwine:amd64 libwine:i386" in r.stderr
    assert "remove wine64" in r.stderr


def test_doctor_on_a_win32_prefix(prefix32: Win32Prefix, tmp_path: Path) -> None:
    assert prefix32.cli("register", cwd=tmp_path).returncode == 0
    r = prefix32.cli("doctor", cwd=tmp_path)
    assert f"[ok  ] prefix: {prefix32.path} (win32)" in r.stdout, r.stdout
    assert "[ok  ] 32-bit wine: " in r.stdout, r.stdout
    assert "[ok  ] registered:" in r.stdout, r.stdout
    env = dict(prefix32.env, WINE32=str(tmp_path / "no-wine32-here"))
    bad = subprocess.run([sys.executable, "-m", "pyjack_side", "doctor", "--prefix",
                          str(prefix32.path)], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1
    assert "[FAIL] 32-bit wine: " in bad.stdout and "wine32:i386" in bad.stdout, bad.stdout
