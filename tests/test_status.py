# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack status`` and the engine's meters, against a real jackd and the C peer."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from conftest import AsiojackServer, Jackd, start_peer, wait_for

from asiojack_rig.panelrig import Source


def status_cli(server: AsiojackServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyjack_side", "status", *args],
                          env=server.env, cwd=server.runtime.parent, capture_output=True,
                          text=True, timeout=60)


def test_status_shows_programs_counters_and_meters(asiojack: AsiojackServer, jackd256: Jackd,
                                                   peer_bin: Path) -> None:
    source = Source(jackd256.client("meter-src"), [0.5, 1.25])
    peer = start_peer(peer_bin, asiojack, "--exe", "Meter.exe", "--seconds", "8",
                      "--channels", "2")
    try:
        name = peer.client_name
        source.client.connect(source.ports[0], f"{name}:in_1")
        source.client.connect(source.ports[1], f"{name}:in_2")
        source.client.connect(f"{name}:out_1", source.back)

        def metered() -> dict[str, Any] | None:
            r = status_cli(asiojack, "--json")
            assert r.returncode == 0, r.stderr
            doc: dict[str, Any] = json.loads(r.stdout)
            prog = doc["programs"][0]
            ins = prog["channels"]["inputs"]
            return doc if ins[0]["peak"] == 0.5 and ins[1]["peak"] == 1.25 else None

        doc = wait_for(metered, 20, "the meters to read the source's peaks", interval=0.3)
        text = status_cli(asiojack)
    finally:
        peer.finish()
        source.close()

    assert doc["status_version"] == 1
    assert doc["server"]["protocol"] >= 3
    jackd = doc["jack"]
    assert (jackd["sample_rate"], jackd["period"]) == (48000, 256)
    assert jackd["pipewire"] is False and jackd["xruns_reported"] is True
    assert "libjack" in jackd["library"]
    [prog] = doc["programs"]
    assert (prog["exe"], prog["bits"], prog["state"]) == ("Meter.exe", 64, "running")
    assert prog["client"] == peer.client_name
    assert (prog["inputs"], prog["outputs"]) == (4, 4)
    assert (prog["active_inputs"], prog["active_outputs"]) == (2, 2)
    assert prog["sample_type"] == "float32" and prog["buffer_frames"] == 256
    assert prog["cycles"] > 0 and isinstance(prog["xruns"], int)
    assert prog["wait_us"]["p50"] is not None
    assert prog["wait_us"]["p50"] <= prog["wait_us"]["p99"] <= prog["wait_us"]["max"]
    ins, outs = prog["channels"]["inputs"], prog["channels"]["outputs"]
    # The peer copies in to out: the outputs carry the same peaks.
    assert [c["peak"] for c in ins] == [0.5, 1.25, None, None]
    assert [c["peak"] for c in outs] == [0.5, 1.25, None, None]
    assert ins[0]["peak_db"] == -6.0 and not ins[0]["clip"] and ins[0]["clips"] == 0
    assert ins[1]["clip"] and ins[1]["clips"] > 0 and outs[1]["clips"] > 0
    # Autoconnect also wired the dummy driver's silent system ports.
    assert "meter-src:sig1" in ins[0]["connections"]
    assert "meter-src:back" in outs[0]["connections"]
    assert text.returncode == 0, text.stderr
    assert "Meter.exe" in text.stdout and "-6.0 dBFS" in text.stdout and "CLIP" in text.stdout
    assert "JACK xruns " in text.stdout and "deadline misses" in text.stdout


def test_meters_fall_to_zero_on_silence(asiojack: AsiojackServer, jackd256: Jackd,
                                        peer_bin: Path) -> None:
    # A cycle's peak is that cycle's: silence after a loud signal reads 0.
    source = Source(jackd256.client("meter-src"), [0.25])
    peer = start_peer(peer_bin, asiojack, "--exe", "Quiet.exe", "--seconds", "8",
                      "--channels", "1")
    try:
        port = f"{peer.client_name}:in_1"
        source.client.connect(source.ports[0], port)

        def peak() -> float | None:
            doc = json.loads(status_cli(asiojack, "--json").stdout)
            value: float | None = doc["programs"][0]["channels"]["inputs"][0]["peak"]
            return value

        wait_for(lambda: peak() == 0.25, 20, "the meter to read 0.25", interval=0.3)
        source.client.disconnect(source.ports[0], port)
        wait_for(lambda: peak() == 0.0, 20, "the meter to fall to 0", interval=0.3)
    finally:
        peer.finish()
        source.close()


def test_meters_cost_nothing_until_someone_looks(asiojack: AsiojackServer, jackd256: Jackd,
                                                 peer_bin: Path) -> None:
    """The engine measures peaks only while status is being asked (issue
    10: a session nobody watches pays nothing for its meters); the first
    query still reads the current peak, and the meters go back to 0 when
    nobody has asked for their hold (5 s)."""
    source = Source(jackd256.client("meter-src"), [0.5])
    peer = start_peer(peer_bin, asiojack, "--exe", "Unwatched.exe", "--seconds", "14",
                      "--channels", "1")
    try:
        seg = peer.segment()
        source.client.connect(source.ports[0], f"{peer.client_name}:in_1")
        time.sleep(1.0)
        assert seg.cycles > 100
        # Streaming a 0.5 peak, and nobody asked: nothing measured.
        assert seg.shm.in_peak[0] == 0.0 and seg.shm.out_peak[0] == 0.0
        assert seg.meters_until_ns == 0
        asked = time.monotonic_ns()
        doc = json.loads(status_cli(asiojack, "--json").stdout)
        # The very first answer is current: the server let the engine measure first.
        assert doc["programs"][0]["channels"]["inputs"][0]["peak"] == 0.5, doc
        assert seg.shm.in_peak[0] == 0.5 and seg.shm.out_peak[0] == 0.5
        assert seg.meters_until_ns >= asked + 4_000_000_000
        # The hold runs out: peaks are cleared, not left to be read as current.
        wait_for(lambda: seg.shm.in_peak[0] == 0.0 and seg.shm.out_peak[0] == 0.0, 8,
                 "the meters to be cleared after the hold", interval=0.2)
        assert time.monotonic_ns() >= seg.meters_until_ns
    finally:
        peer.finish()
        source.close()


def test_status_without_programs_still_shows_jack(asiojack: AsiojackServer) -> None:
    r = status_cli(asiojack, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["programs"] == []
    assert (doc["jack"]["sample_rate"], doc["jack"]["period"]) == (48000, 256)
    text = status_cli(asiojack)
    assert "no program has the asiojack driver open" in text.stdout
    assert "48000 Hz, period 256 frames" in text.stdout


def test_status_without_a_server_says_so(tmp_path: Path) -> None:
    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(tmp_path / "nobody"))
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "status"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "no asiojack server answers" in r.stderr and r.stdout == ""


def test_status_watch_redraws_in_place(asiojack: AsiojackServer) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pyjack_side", "status", "--watch"],
                            env=asiojack.env, cwd=asiojack.runtime.parent, stdout=slave,
                            stderr=subprocess.PIPE)
    os.close(slave)
    seen = b""
    try:
        end = time.monotonic() + 20
        while seen.count(b"\x1b[H") < 3 and time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                seen += os.read(master, 65536)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    # Each frame goes home and redraws over the last one: no scrolling.
    assert seen.count(b"\x1b[H") >= 3, seen[-500:]
    assert seen.count(b"no program has the asiojack driver open") >= 3
    assert rc == 0
