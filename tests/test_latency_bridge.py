# SPDX-License-Identifier: LGPL-2.1-or-later
"""Latency truth and the lock-free cycle, on the Linux half (issue 7).

Real jackd in both modes (asynchronous, the default, and ``-S``), the real
server, the C peer as the driver.  The host's view through Wine is in
test_latency_wine.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BRIDGE, Jackd, start_jackd, start_peer, start_server

from asiojack_rig.harness import jack_latency
from pyjack_side.abi import lib


def wait_value(read: object, want: int, timeout: float = 5) -> int:
    """Poll ``read()`` until it returns ``want`` (JACK recomputes latencies
    asynchronously); return the last value read."""
    end = time.monotonic() + timeout
    value = read()  # type: ignore[operator]
    while value != want and time.monotonic() < end:
        time.sleep(0.05)
        value = read()  # type: ignore[operator]
    return int(value)


@pytest.fixture(params=[(64, False), (256, False), (64, True), (256, True)],
                ids=["async-64", "async-256", "sync-64", "sync-256"])
def any_jackd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Jackd]:
    frames, sync = request.param
    j = start_jackd(tmp_path, frames, sync=sync)
    yield j
    j.stop()


def test_segment_latencies_are_jacks_and_propagate(any_jackd: Jackd, peer_bin: Path,
                                                   tmp_path: Path) -> None:
    jackd = any_jackd
    frames = jackd.frames
    server = start_server(tmp_path, jackd)
    try:
        peer = start_peer(peer_bin, server, "--seconds", "8", "--exe", "Latent.exe",
                          "--channels", "2")
        seg = peer.segment()
        system_capture = jack_latency(jackd, "system:capture_1", "capture")
        system_playback = jack_latency(jackd, "system:playback_1", "playback")
        # jackd2's dummy, as the brief has it: async capture 1 period and
        # playback 2; -S 1 and 1.
        assert system_capture == frames
        assert system_playback == (frames if jackd.sync else 2 * frames)
        # What the driver reads is JACK's figure for its own ports, frame
        # for frame, with nothing added.
        assert seg.input_latency == jack_latency(jackd, "latent:in_1", "capture") \
            == system_capture, seg.input_latency
        assert seg.output_latency == jack_latency(jackd, "latent:out_1", "playback") \
            == system_playback, seg.output_latency

        # Propagation: a client after the program's outputs sees the capture
        # latency of what feeds its inputs, one before its inputs sees the
        # playback latency of what its outputs feed (it adds nothing).
        listener = jackd.client("listener")
        try:
            sink = listener.inports.register("in")
            source = listener.outports.register("out")
            listener.activate()
            listener.connect("latent:out_1", sink)
            listener.connect(source, "latent:in_2")
            assert wait_value(lambda: jack_latency(jackd, "listener:in", "capture"),
                              system_capture) == system_capture
            assert wait_value(lambda: jack_latency(jackd, "listener:out", "playback"),
                              system_playback) == system_playback
            assert jack_latency(jackd, "latent:out_1", "capture") == system_capture
            assert jack_latency(jackd, "latent:in_1", "playback") == system_playback
        finally:
            listener.close()
        peer.finish()
    finally:
        server.stop()


def test_latency_of_the_active_channels_and_the_physical_fallback(
        jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    """Only the active channels count; with none connected, the physical ports' figure."""
    server = start_server(tmp_path, jackd256)
    try:
        peer = start_peer(peer_bin, server, "--seconds", "8", "--exe", "Fallback.exe",
                          "--channels", "2")
        seg = peer.segment()
        assert seg.output_latency == 512
        c = jackd256.client("rewire")
        try:
            sink = c.inports.register("in")
            c.activate()
            # out_3 and out_4 are not active: unplugging them changes nothing.
            for name in ("fallback:out_3", "fallback:out_4"):
                for dst in c.get_all_connections(name):
                    c.disconnect(name, dst)
            time.sleep(0.3)
            assert seg.output_latency == 512
            # The active outputs now feed a client that goes nowhere: JACK
            # says 0 behind them, and so does the driver.
            for name in ("fallback:out_1", "fallback:out_2"):
                for dst in c.get_all_connections(name):
                    c.disconnect(name, dst)
                c.connect(name, sink)
            assert wait_value(lambda: seg.output_latency, 0) == 0
            # Nothing connected: what a connection to the hardware would give.
            for name in ("fallback:out_1", "fallback:out_2"):
                c.disconnect(name, sink)
            assert wait_value(lambda: seg.output_latency, 512) == 512
        finally:
            c.close()
        peer.finish()
    finally:
        server.stop()


def test_a_peer_that_keeps_changing_done_seq_cannot_stop_the_engine(
        jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    """A hostile peer keeps the engine's futex wait from ever sleeping.

    The engine must still give up at its deadline, play silence and go on
    with the next cycle.  (How long past the deadline a wait lasts is not
    asserted: on a shared machine that is a timing test.  The old loop,
    which looked at the clock only on ETIMEDOUT, got out too, within about
    a period here, whenever the kernel's compare happened to match.)
    """
    server = start_server(tmp_path, jackd256)
    try:
        peer = start_peer(peer_bin, server, "--spin-done-ms", "2500", "--exe", "Spinner.exe")
        seg = peer.segment()
        time.sleep(0.3)
        cycles0, misses0 = seg.cycles, seg.misses
        time.sleep(1.5)
        cycles1, misses1 = seg.cycles, seg.misses
        result = peer.finish()
    finally:
        server.stop()
    assert result["returncode"] == 0 and int(result["spins"]) > 0, result  # type: ignore
    # 1.5 s is ~280 periods of 256 frames: the engine kept publishing, and
    # played each unanswered cycle as silence at its deadline.
    assert cycles1 - cycles0 > 50, (cycles0, cycles1)
    assert misses1 - misses0 > 50, (misses0, misses1)


def segment_mapping(pid: int, memfd_name: str) -> dict[str, str]:
    """The smaps fields of a process's mapping of a segment (a memfd, by its name)."""
    fields: dict[str, str] = {}
    inside = False
    mapping = re.compile(rf"/memfd:{re.escape(memfd_name)}( \(deleted\))?$")
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            inside = bool(mapping.search(line))
        elif inside:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_the_segment_is_locked_in_memory(jackd256: Jackd, peer_bin: Path,
                                         tmp_path: Path) -> None:
    server = start_server(tmp_path, jackd256)
    try:
        peer = start_peer(peer_bin, server, "--seconds", "1", "--exe", "Locked.exe")
        size_kib = os.stat(f"/proc/{peer.proc.pid}/fd/{peer.shm_fd}").st_size // 1024
        server_map = segment_mapping(server.proc.pid, peer.segment_name())
        peer_map = segment_mapping(peer.proc.pid, peer.segment_name())
        peer.finish()
    finally:
        server.stop()
    # locked (VM_LOCKED: "lo") and every page present, in the server
    assert "lo" in server_map["VmFlags"].split(), server_map
    assert int(server_map["Rss"].split()[0]) >= size_kib, (server_map, size_kib)
    # the driver's side maps it populated (and locked, as root may)
    assert int(peer_map["Rss"].split()[0]) >= size_kib, (peer_map, size_kib)
    assert "not locked in memory" not in server.log_text()


def test_no_right_to_lock_is_said_once_and_the_session_still_runs(
        jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    # Root may lock whatever the limit says (CAP_IPC_LOCK): drop it, as an
    # ordinary user has it, and set the limit below one segment.
    wrapper = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock",
               "prlimit", "--memlock=65536:65536", "--"]
    server = start_server(tmp_path, jackd256, wrapper=wrapper)
    try:
        first = start_peer(peer_bin, server, "--seconds", "2", "--exe", "One.exe")
        second = start_peer(peer_bin, server, "--seconds", "2", "--exe", "Two.exe")
        results = [first.finish(), second.finish()]
    finally:
        server.stop()
    assert all(r["returncode"] == 0 and int(r["handled"]) > 50 for r in results), results  # type: ignore
    log = server.log_text()
    assert log.count("not locked in memory") == 1, log
    assert "RLIMIT_MEMLOCK is 64 KiB" in log, log


def test_doctor_reports_rlimit_memlock(tmp_path: Path) -> None:
    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(tmp_path / "run"),
               ASIOJACK_CONFIG=str(tmp_path / "none.toml"))
    need_kib = int(lib.asiojack_shm_size(16, 16, lib.ASIOJACK_MAX_FRAMES)) // 1024
    r = subprocess.run(["prlimit", "--memlock=65536:65536", "--", sys.executable, "-m",
                        "pyjack_side", "doctor", "--prefix", str(tmp_path / "empty")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    line = [x for x in r.stdout.splitlines() if "memory lock" in x]
    assert line, r.stdout + r.stderr
    assert f"RLIMIT_MEMLOCK 64 KiB, a session of 16x16 channels needs {need_kib} KiB" in line[0]


@pytest.mark.parametrize("frames", [256, 4096])
def test_start_restarts_time_and_the_buffer_half_even_within_one_period(
        frames: int, jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    """stop() then start() at once: the first cycle is at position 0 in half 0.

    At 4096 frames (85 ms) the engine sees running == 1 on both sides of
    the STOP and START, so only the start generation can tell it.
    """
    jackd = jackd256 if frames == 256 else start_jackd(tmp_path, frames)
    server = start_server(tmp_path, jackd)
    try:
        peer = start_peer(peer_bin, server, "--seconds", "3" if frames == 256 else "5",
                          "--exe", "Restart.exe", "--restarts", "5")
        result = peer.finish()
    finally:
        server.stop()
        if jackd is not jackd256:
            jackd.stop()
    assert result["returncode"] == 0, result
    assert result["restarts"] == 5, result
    # the first cycle after each restart: position 0, buffer half 0
    assert result["restart_bad_pos"] == 0 and result["restart_bad_half"] == 0, result


# libjack calls the process callback's file may make: none of them takes a
# lock or walks the graph in jackd2 or PipeWire's libjack.  (The latency
# work, which does, lives in latency.c and runs on JACK's notification
# thread; jack_set_process_callback is only called at install.)
RT_SAFE_JACK_CALLS = {"jack_port_get_buffer", "jack_transport_query", "jack_get_sample_rate",
                      "jack_set_process_callback"}


def test_the_process_callback_makes_no_locking_jack_call(tmp_path: Path) -> None:
    obj = tmp_path / "engine.o"
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-c", f"-I{BRIDGE}",
                    f"-I{BRIDGE / 'engine'}", str(BRIDGE / "engine" / "engine.c"), "-o", str(obj)],
                   check=True)
    undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True,
                               check=True).stdout.split()
    jack_calls = {name for name in undefined if name.startswith("jack_")}
    assert jack_calls <= RT_SAFE_JACK_CALLS, jack_calls - RT_SAFE_JACK_CALLS
    assert "jack_port_get_buffer" in jack_calls  # the check sees the real file
