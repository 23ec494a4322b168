# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack settings``: the file it writes, and its window on a real X server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import wait_for

from pyjack_side.config import Config, ConfigError, load
from pyjack_side.settings import TITLE, save


def test_save_writes_a_file_load_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "asiojack" / "config.toml"
    saved = save({"inputs": 2, "sample_type": "int24", "autoconnect": False,
                  "buffer_size": "host", "deadline": 0.5}, path)
    assert load(path) == saved
    assert (saved.inputs, saved.outputs, saved.sample_type) == (2, Config().outputs, "int24")


def test_save_refuses_a_bad_value_and_keeps_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    save({"inputs": 8}, path)
    before = path.read_text()
    with pytest.raises(ConfigError) as info:
        save({"inputs": 8, "outputs": 4000}, path)
    assert "'outputs'" in str(info.value) and str(path) in str(info.value)
    assert path.read_text() == before


def test_no_display_says_what_to_do(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "--config",
                        str(tmp_path / "c.toml"), "settings"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "no display" in r.stderr and str(tmp_path / "c.toml") in r.stderr


@pytest.fixture
def xserver(tmp_path: Path):
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        assert not os.environ.get("CI"), "CI installs xvfb and xdotool"
        pytest.skip("Xvfb or xdotool not installed")
    display = f":{90 + os.getpid() % 400}"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), 10, "Xvfb")
    yield display
    proc.terminate()
    proc.wait(5)


def test_window_edits_the_file(xserver: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    env = dict(os.environ, DISPLAY=xserver)
    proc = subprocess.Popen([sys.executable, "-m", "pyjack_side", "--config", str(path),
                             "settings"], env=env, cwd=tmp_path)
    try:
        def window() -> str:
            r = subprocess.run(["xdotool", "search", "--name", TITLE], env=env,
                               capture_output=True, text=True)
            return r.stdout.split()[0] if r.stdout.split() else ""

        wid = wait_for(window, 20, "the settings window")
        # The inputs field has the focus: replace "16" with "6", Return saves.
        subprocess.run(["xdotool", "windowfocus", "--sync", wid], env=env, check=True)
        for keys in (["End"], ["BackSpace", "BackSpace", "BackSpace"], ["6"], ["Return"]):
            subprocess.run(["xdotool", "key", "--window", wid, *keys], env=env, check=True)
            time.sleep(0.2)
        wait_for(lambda: path.exists() and load(path).inputs == 6, 10, "the saved file")
    finally:
        proc.terminate()
        proc.wait(10)


def test_panel_shows_live_meters_with_clip(tmp_path: Path, jackd256, peer_bin: Path) -> None:  # noqa: ANN001
    from asiojack_rig.harness import start_peer, start_server
    from asiojack_rig.panelrig import Screen, Source, write_png

    server = start_server(tmp_path, jackd256)
    screen = Screen(tmp_path, 1024, 768)
    source = panel = None
    try:
        peer = start_peer(peer_bin, server, "--exe", "Clip.exe", "--seconds", "20",
                          "--channels", "2")
        source = Source(jackd256.client("meter-src"), [0.05, 1.5])
        source.client.connect(source.ports[0], f"{peer.client_name}:in_1")
        source.client.connect(source.ports[1], f"{peer.client_name}:in_2")
        env = dict(server.env, DISPLAY=screen.display)
        panel = subprocess.Popen([sys.executable, "-m", "pyjack_side", "settings", "--pid",
                                  str(peer.proc.pid)], env=env, cwd=tmp_path)
        wid = screen.find_window("asiojack settings: Clip.exe")
        x, y, w, h = screen.window_box(wid)

        def colours() -> tuple[int, int] | None:
            shot = screen.grab()[y:y + h, x:x + w]
            flat = shot.reshape(-1, 3)
            red = int(((flat[:, 0] == 0xEE) & (flat[:, 1] == 0x33) & (flat[:, 2] == 0x33)).sum())
            green = int(((flat[:, 0] == 0x33) & (flat[:, 1] == 0xCC)
                         & (flat[:, 2] == 0x55)).sum())
            write_png(tmp_path / "panel.png", shot)
            return (red, green) if red and green else None

        # A -26 dBFS channel shows a green bar; the clipping one a red bar and CLIP.
        red, green = wait_for(colours, 20, "green and red meters in the window", interval=0.5)
        assert red > 200 and green > 100, (red, green)
    finally:
        if panel is not None:
            panel.terminate()
            panel.wait(10)
        if source is not None:
            source.close()
        server.stop()
        screen.stop()
