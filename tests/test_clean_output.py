# SPDX-License-Identifier: LGPL-2.1-or-later
"""Nothing of libjack's own printing reaches a terminal unless -v."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Jackd, wait_for
from rawclient import RawClient

from pyjack_side.abi import lib
from pyjack_side.protocol import new

#: lines libjack prints by itself when no JACK server answers
LIBJACK_LINES = ("Cannot connect to server", "JackShmReadWritePtr", "jack server is not running")


def run_cli(tmp_path: Path, jack_name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, JACK_DEFAULT_SERVER=jack_name,
               ASIOJACK_RUNTIME_DIR=str(tmp_path / "run"),
               ASIOJACK_CONFIG=str(tmp_path / "config.toml"), WINEPREFIX=str(tmp_path / "pfx"))
    return subprocess.run([sys.executable, "-m", "pyjack_side", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


def libjack_said(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(m in line for m in LIBJACK_LINES)
            and "libjack" not in line]


def test_doctor_without_jack_prints_only_its_own_words(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "asiojack-nobody-here", "doctor")
    assert "JACK server 'asiojack-nobody-here' not running" in r.stdout
    assert libjack_said(r.stdout + r.stderr) == [], r.stderr
    # -v shows libjack's lines, marked as libjack's, through the logger.
    verbose = run_cli(tmp_path, "asiojack-nobody-here", "-v", "doctor")
    assert "pyjack_side.libjack: libjack error: Cannot connect to server" in verbose.stderr


def test_doctor_with_a_real_jackd_is_quiet(tmp_path: Path, jackd256: Jackd) -> None:
    r = run_cli(tmp_path, jackd256.name, "doctor")
    assert "48000 Hz, 256 frames" in r.stdout
    assert r.stderr == "" or libjack_said(r.stderr) == [], r.stderr


def test_server_keeps_libjack_out_of_its_output(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    env = dict(os.environ, JACK_DEFAULT_SERVER="asiojack-nobody-here",
               ASIOJACK_RUNTIME_DIR=str(runtime), ASIOJACK_CONFIG=str(tmp_path / "c.toml"))
    proc = subprocess.Popen([sys.executable, "-m", "pyjack_side", "serve"], env=env,
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_for(lambda: (runtime / "control.sock").exists(), 15, "the server socket")
        with RawClient(runtime / "control.sock") as raw:
            raw.hello()
            raw.send(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open"))
            code, message = raw.error()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert code == lib.ASIOJACK_ERR_JACK and \
        "JACK server 'asiojack-nobody-here' not running" in message
    assert libjack_said(out + err) == [], err


def test_register_says_what_it_is_doing(tmp_path: Path) -> None:
    # A long step announces itself before Wine is even asked; a failure says why.
    r = run_cli(tmp_path, "asiojack-nobody-here", "register", "--prefix",
                str(tmp_path / "no-prefix"))
    assert r.stdout.startswith(f"registering asiojack in the Wine prefix {tmp_path / 'no-prefix'}")
    assert r.returncode == 1 and "no Wine prefix at" in r.stderr
