# SPDX-License-Identifier: LGPL-2.1-or-later
"""Under PipeWire's libjack, status says xruns are not reported rather than show 0.

PipeWire's libjack never calls JACK's xrun callback.  A real PipeWire
daemon runs in a private runtime directory, the asiojack server loads
PipeWire's libjack (LD_LIBRARY_PATH, as pw-jack does), and a session opens
on it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import wait_for
from rawclient import RawClient

PW_JACK = Path("/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack")


@pytest.fixture
def pipewire(tmp_path: Path) -> Iterator[dict[str, str]]:
    if not (shutil.which("pipewire") and (PW_JACK / "libjack.so.0").exists()):
        assert not os.environ.get("CI"), "CI installs pipewire and pipewire-jack"
        pytest.skip("pipewire or pipewire-jack is not installed")
    run = tmp_path / "pw-run"
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "JACK_DEFAULT_SERVER"}
    env.update(XDG_RUNTIME_DIR=str(run), LD_LIBRARY_PATH=str(PW_JACK))
    proc = subprocess.Popen(["pipewire"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (run / "pipewire-0").exists(), 15, "the PipeWire socket")
        yield env
    finally:
        proc.terminate()
        proc.wait(10)


def test_status_says_pipewire_does_not_report_xruns(pipewire: dict[str, str],
                                                   tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    env = dict(pipewire, ASIOJACK_RUNTIME_DIR=str(runtime),
               ASIOJACK_CONFIG=str(tmp_path / "config.toml"),
               ASIOJACK_STATE_DIR=str(tmp_path / "state"))
    (tmp_path / "config.toml").write_text("inputs = 2\noutputs = 2\nautoconnect = false\n")
    server = subprocess.Popen([sys.executable, "-m", "pyjack_side", "serve"], env=env,
                              cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (runtime / "control.sock").exists(), 15, "the server socket")
        with RawClient(runtime / "control.sock") as raw:
            raw.hello(exe="OnPipeWire.exe")
            raw.open()

            def status(*args: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([sys.executable, "-m", "pyjack_side", "status", *args],
                                      env=env, cwd=tmp_path, capture_output=True, text=True,
                                      timeout=60)

            doc = json.loads(status("--json").stdout)
            text = status().stdout
    finally:
        server.terminate()
        server.wait(20)
    assert doc["jack"]["pipewire"] is True and doc["jack"]["xruns_reported"] is False
    assert "pipewire" in doc["jack"]["library"]
    [prog] = doc["programs"]
    assert prog["exe"] == "OnPipeWire.exe" and prog["xruns"] is None
    # PipeWire places its own data threads: asiojack pins nothing there.
    assert prog["cpu"] == {"jack": -1, "driver": -1}, prog
    assert "JACK xruns not reported by PipeWire's libjack" in text
    assert "PipeWire's libjack" in text.splitlines()[1]
