# SPDX-License-Identifier: LGPL-2.1-or-later
"""Latency truth as a Windows host sees it (issue 7), under Wine.

A DAW places every recorded take by getLatencies: it must equal what JACK
measures (``jack_lsp -l``), frame for frame, in both jackd modes.  Also
what a host learns from the engine: kAsioOverload after a missed
deadline, and a start() that restarts time even right after a stop().
Real parts only: a private dummy jackd (asynchronous and ``-S``), the
asiojack server, Wine, tests/host/resethost.c and PortAudio's ASIO DLL
driven by tests/host/pahost.c.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asiojack_rig.harness import (
    AsiojackServer,
    Segment,
    jack_latency,
    server_segment_files,
    start_jackd,
    start_server,
)
from asiojack_rig.hostile import ASE_SUCCESS, HostProcess
from asiojack_rig.winehost import WinePrefix

CONFIG = "inputs = 4\noutputs = 4\ndeadline = 0.9\n"
OVERLOAD = 15  # kAsioOverload


@pytest.fixture
def resethost_exe(hosts: dict[str, Path]) -> Path:
    return hosts["resethost"]


def send(host: HostProcess, line: str) -> int:
    """Write one command to the host; the number of events seen before it."""
    n = len(host.snapshot())
    assert host.proc.stdin is not None
    host.proc.stdin.write(line + "\n")
    host.proc.stdin.flush()
    return n


@pytest.fixture
def server_on(tmp_path: Path) -> Iterator[list[AsiojackServer]]:
    """Servers (and their jackds) started by a test, stopped after it."""
    started: list[AsiojackServer] = []
    yield started
    for s in started:
        s.stop()
        s.jackd.stop()


def start(server_on: list[AsiojackServer], tmp_path: Path, frames: int,
          sync: bool = False) -> AsiojackServer:
    jackd = start_jackd(tmp_path, frames, sync=sync)
    try:
        server = start_server(tmp_path, jackd, CONFIG)
    except BaseException:
        jackd.stop()
        raise
    server_on.append(server)
    return server


MODES = [(64, False), (256, False), (64, True), (256, True)]
MODE_IDS = ["async-64", "async-256", "sync-64", "sync-256"]


@pytest.mark.parametrize(("frames", "sync"), MODES, ids=MODE_IDS)
def test_get_latencies_is_what_jack_measures(
        frames: int, sync: bool, prefix: WinePrefix, resethost_exe: Path,
        server_on: list[AsiojackServer], tmp_path: Path) -> None:
    server = start(server_on, tmp_path, frames, sync)
    jackd = server.jackd
    host = HostProcess(resethost_exe, ["--commands"], prefix.server_env(server))
    try:
        host.wait_event("started", 30, code=0)
        at_init = host.of("device")[0]
        streaming = host.command("latencies")
        capture = jack_latency(jackd, "resethost:in_1", "capture")
        playback = jack_latency(jackd, "resethost:out_1", "playback")
    finally:
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    # JACK's own figures for the dummy "hardware", as the brief has them:
    # capture one period; playback two periods (async) or one (-S).
    assert capture == jack_latency(jackd, "system:capture_1", "capture") == frames
    assert playback == jack_latency(jackd, "system:playback_1", "playback") \
        == (frames if sync else 2 * frames)
    # The host is told exactly that, at init and while streaming: a take
    # recorded through asiojack lands where the same DAW puts it elsewhere.
    for device in (at_init, streaming):
        assert (device["input_latency"], device["output_latency"]) == (capture, playback), \
            (device, capture, playback)


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
def test_portaudio_reports_jacks_latencies(
        sync: bool, prefix: WinePrefix, server_on: list[AsiojackServer],
        tmp_path: Path) -> None:
    server = start(server_on, tmp_path, 64, sync)
    jackd = server.jackd
    pa = HostProcess(prefix.pahost, ["stream", "--device", "asiojack", "--seconds", "2",
                                     "--channels", "2"],
                     prefix.server_env(server), prefix_args=[str(prefix.portaudio)])
    try:
        started = pa.wait(lambda e: e.get("event") == "started", 30, "pahost to start")
        capture = jack_latency(jackd, "pahost:in_1", "capture")
        playback = jack_latency(jackd, "pahost:out_1", "playback")
    finally:
        result = pa.finish()
    assert result["result"] == "ok", pa.tail()
    rate = started["sample_rate"]
    assert rate == jackd.rate
    # PortAudio's figures are the driver's plus its own buffering, none here
    # (its buffer is the driver's): JACK's hardware loop, 64 + 128 (async)
    # or 64 + 64 (-S).
    assert round(started["input_latency"] * rate) == capture == 64, started
    assert round(started["output_latency"] * rate) == playback == (64 if sync else 128), \
        started


def test_overload_reaches_a_host_that_asked_for_it(
        prefix: WinePrefix, resethost_exe: Path, server_on: list[AsiojackServer],
        tmp_path: Path) -> None:
    server = start(server_on, tmp_path, 256)
    # Every 40th bufferSwitch takes two periods: the engine plays that cycle
    # as silence and the host hears of it.
    host = HostProcess(resethost_exe, ["--commands", "--slow-every", "40"],
                       prefix.server_env(server))
    try:
        host.wait_event("started", 30, code=0)
        can = host.command("can")
        host.wait(lambda e: e.get("event") == "message" and e["selector"] == OVERLOAD, 15,
                  "kAsioOverload")
    finally:
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    assert can["overload"] == ASE_SUCCESS, can
    overloads = [m for m in host.messages() if m[0] == OVERLOAD]
    # asked about it first (kAsioSelectorSupported), and always told on the
    # driver's callback thread
    assert any(e["selector"] == 1 and e["value"] == OVERLOAD for e in host.of("message"))
    assert overloads and all(thread == "driver" for _, _, thread in overloads), overloads


def test_stop_then_start_restarts_time_at_zero_in_half_zero(
        prefix: WinePrefix, resethost_exe: Path, server_on: list[AsiojackServer],
        tmp_path: Path) -> None:
    # 1024 frames: stop() and start() land well inside one period, so the
    # engine may never see the session stopped in between.
    server = start(server_on, tmp_path, 1024)
    host = HostProcess(resethost_exe, ["--commands"], prefix.server_env(server))
    segments = []
    try:
        host.wait_event("started", 30, code=0)
        for _ in range(6):
            n = send(host, "restart")
            restarted = host.wait_event("restarted", 10, n)
            assert restarted["stop"] == 0 and restarted["start"] == 0, restarted
            n = len(host.snapshot())
            host.wait(lambda e: e.get("event") == "tick" and e["callbacks"] >= 3, 10,
                      "callbacks after the restart", n)
            n = send(host, "segment")
            segments.append(host.wait_event("segment", 10, n))
    finally:
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    assert all(s["first_pos"] == 0 and s["first_index"] == 0 for s in segments), segments


def session_segment(server: AsiojackServer) -> Segment:
    """The segment of the server's one session."""
    return Segment(next(iter(server_segment_files(server.proc.pid).values())))


@pytest.mark.parametrize("output_ready", [True, False], ids=["output-ready", "without"])
def test_output_ready_lets_the_engine_play_before_bufferswitch_returns(
        output_ready: bool, prefix: WinePrefix, resethost_exe: Path,
        server_on: list[AsiojackServer], tmp_path: Path) -> None:
    """A host busy for two periods after writing its outputs, every cycle.

    With outputReady() the engine plays each cycle the host handled: its
    outputs were handed over before the host went on with other work.
    Without it (today's behaviour, kept) bufferSwitch returns two periods
    late and every such cycle is played as silence.
    """
    server = start(server_on, tmp_path, 1024)
    args = ["--commands", "--slow-every", "1"] + (["--output-ready"] if output_ready else [])
    host = HostProcess(resethost_exe, args, prefix.server_env(server))
    try:
        host.wait_event("started", 30, code=0)
        seg = session_segment(server)
        completed0, cycles0 = seg.completed, seg.cycles
        n = len(host.snapshot())
        host.wait(lambda e: e.get("event") == "tick" and e["callbacks"] >= 20, 30,
                  "20 slow callbacks", n)
        completed, cycles = seg.completed - completed0, seg.cycles - cycles0
    finally:
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    assert cycles >= 40, cycles
    if output_ready:
        assert completed >= 10, (completed, cycles)
    else:
        assert completed == 0, (completed, cycles)
