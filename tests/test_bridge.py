# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux half end to end: real jackd, real server, the C peer as the driver."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import jack
import pytest
from conftest import (
    AsiojackServer,
    Jackd,
    server_segments,
    start_peer,
    start_server,
    wait_for,
)

from asiojack_rig.probe import LoopProbe


def wire(probe: LoopProbe, client_name: str, channel: int = 1) -> None:
    """probe:send -> <client>:in_N and <client>:out_N -> probe:recv."""
    c = probe.client
    c.connect(probe.send, f"{client_name}:in_{channel}")
    c.connect(f"{client_name}:out_{channel}", probe.recv)


@pytest.mark.parametrize("frames", [64, 256])
def test_passthrough_is_bit_exact_with_one_period_round_trip(
        frames: int, jackd64: Jackd, jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    jackd = jackd64 if frames == 64 else jackd256
    server = start_server(tmp_path, jackd)
    try:
        peer = start_peer(peer_bin, server, "--seconds", "6", "--exe", "PassThru.exe")
        assert peer.client_name == "passthru"
        probe = LoopProbe(jackd.client("probe"))
        try:
            wire(probe, peer.client_name)
            time.sleep(0.3)  # let the new connections settle
            result = probe.record(2.0)
        finally:
            probe.close()
        stats = peer.finish()
    finally:
        server.stop()
    assert stats["returncode"] == 0, stats
    assert result.blocks > 0.5 * 2.0 * jackd.rate / frames, result
    # Sessions on a non-real-time dummy jackd miss a deadline now and then;
    # what does come through must be exact and on time.
    assert result.audible > 0.8 * result.blocks, result
    assert result.not_exact == 0, result
    assert result.torn == 0, result
    # One period: the graph's own feedback edge.  Nothing added by the bridge.
    assert result.on_time(frames), result


def test_stalled_peer_plays_silence_and_recovers(
        asiojack: AsiojackServer, jackd256: Jackd, peer_bin: Path) -> None:
    probe = LoopProbe(jackd256.client("probe"))
    try:
        # Stall 400 ms at the 150th cycle (~0.8 s in).
        peer = start_peer(peer_bin, asiojack, "--seconds", "4", "--stall-at", "150",
                          "--stall-ms", "400")
        seg = peer.segment()
        wire(probe, peer.client_name)
        cycles_before = probe.cycles
        t0 = time.monotonic()
        result = probe.record(3.0)
        elapsed = time.monotonic() - t0
        graph_cycles = probe.cycles - cycles_before
        misses, late, completed = seg.misses, seg.late, seg.completed
        stats = peer.finish()
    finally:
        probe.close()
    assert stats["returncode"] == 0, stats
    expected_cycles = elapsed * jackd256.rate / jackd256.frames
    # The graph kept its pace through the stall: the engine never waited past
    # its deadline (a blocked graph would have run ~400 ms / 5.3 ms = 75 fewer).
    assert graph_cycles > expected_cycles - 40, (graph_cycles, expected_cycles)
    # The stall shows as silence and as counted misses...
    assert misses >= 40, (misses, late)
    assert result.silent >= 40, result
    # ...the finished-too-late cycle was counted and never played...
    assert late >= 1
    assert result.torn == 0 and result.not_exact == 0, result
    # ...and audio came back, on time.
    assert result.on_time(jackd256.frames), result
    assert completed > 300
    tail = probe.analyse(start=result.blocks - 100, stop=result.blocks)
    assert tail.audible >= 90 and tail.usual == jackd256.frames, tail


def test_killed_peer_leaves_nothing_behind(
        asiojack: AsiojackServer, jackd256: Jackd, peer_bin: Path) -> None:
    survivor = start_peer(peer_bin, asiojack, "--seconds", "4", "--exe", "survivor.exe")
    victim = start_peer(peer_bin, asiojack, "--seconds", "30", "--exe", "victim.exe")
    segment = f"asiojack-session-{victim.segment().session_id}"
    assert segment in server_segments(asiojack)
    victim_fd = f"/proc/{victim.proc.pid}/fd/{victim.shm_fd}"
    assert stat.S_IMODE(os.stat(victim_fd).st_mode) == 0o600
    watcher = jackd256.client("watcher")
    try:
        assert watcher.get_ports(f"{victim.client_name}:")
        killed_at = time.monotonic()
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()

        def gone() -> bool:
            return not watcher.get_ports(f"{victim.client_name}:") and \
                segment not in server_segments(asiojack)

        wait_for(gone, 1.0, "the killed peer's JACK client and segment to vanish")
        assert time.monotonic() - killed_at < 1.0
        # The server keeps serving: the other session runs on, a new one opens.
        assert asiojack.proc.poll() is None
        assert watcher.get_ports(f"{survivor.client_name}:")
        late = start_peer(peer_bin, asiojack, "--seconds", "0.5", "--exe", "newcomer.exe")
        assert late.finish()["returncode"] == 0
        stats = survivor.finish()
        assert stats["returncode"] == 0 and stats["handled"] > 300, stats
    finally:
        watcher.close()


def test_two_sessions_are_independent(
        asiojack: AsiojackServer, jackd256: Jackd, peer_bin: Path) -> None:
    first = start_peer(peer_bin, asiojack, "--seconds", "4", "--exe", "Twin.exe")
    second = start_peer(peer_bin, asiojack, "--seconds", "1.5", "--exe", "Twin.exe")
    # The same program twice: distinct JACK clients.
    assert (first.client_name, second.client_name) == ("twin", "twin-2")
    probe = LoopProbe(jackd256.client("probe"))
    try:
        wire(probe, first.client_name)
        seg = first.segment()
        second_stats = second.finish()   # the second one stops and closes mid-stream
        wait_for(lambda: not probe.client.get_ports("twin-2:"), 2, "twin-2 to close")
        misses_before = seg.misses
        result = probe.record(1.5)
        misses_after = seg.misses
        first_stats = first.finish()
    finally:
        probe.close()
    assert second_stats["returncode"] == 0 and first_stats["returncode"] == 0
    assert result.on_time(jackd256.frames) and result.not_exact == 0, result
    assert result.audible > 0.8 * result.blocks, result
    # The first session was not disturbed by the second one's end.
    assert misses_after - misses_before < 0.2 * result.blocks


def test_autoconnect_and_port_names(asiojack: AsiojackServer, jackd256: Jackd,
                                    peer_bin: Path) -> None:
    peer = start_peer(peer_bin, asiojack, "--seconds", "1", "--exe", "C:\\Apps\\Reaper.exe")
    watcher = jackd256.client("watcher")
    try:
        name = peer.client_name
        assert name == "reaper"
        ins = [p.name for p in watcher.get_ports(f"{name}:", is_input=True)]
        outs = [p.name for p in watcher.get_ports(f"{name}:", is_output=True)]
        assert ins == [f"{name}:in_{i}" for i in range(1, 5)]
        assert outs == [f"{name}:out_{i}" for i in range(1, 5)]
        # Physical ports (the dummy driver has 2 + 2) are wired in order.
        conns = [p.name for p in watcher.get_all_connections(f"{name}:in_1")]
        assert conns == ["system:capture_1"]
        conns = [p.name for p in watcher.get_all_connections(f"{name}:out_2")]
        assert conns == ["system:playback_2"]
        assert not watcher.get_all_connections(f"{name}:in_3")
    finally:
        watcher.close()
    assert peer.finish()["returncode"] == 0


def test_runtime_files_are_private(asiojack: AsiojackServer) -> None:
    assert stat.S_IMODE(asiojack.runtime.stat().st_mode) == 0o700
    assert stat.S_IMODE(asiojack.socket.stat().st_mode) == 0o600


def test_jack_client_name_is_unique_even_against_foreign_clients(
        asiojack: AsiojackServer, jackd256: Jackd, peer_bin: Path) -> None:
    squatter = jack.Client("bitwig", servername=jackd256.name, no_start_server=True)
    try:
        peer = start_peer(peer_bin, asiojack, "--seconds", "0.3", "--exe", "Bitwig.exe")
        assert peer.client_name == "bitwig-2"
        assert peer.finish()["returncode"] == 0
    finally:
        squatter.close()


def test_jack_handles_come_from_one_place_that_names_what_is_missing(jackd256: Jackd) -> None:
    from pyjack_side.session import _jack_address, jack_client_rt_priority

    client = jackd256.client("handles")
    try:
        assert _jack_address(client) != 0
        assert _jack_address(client.outports.register("out")) != 0
        assert jack_client_rt_priority(client) == -1  # this jackd runs --no-realtime
    finally:
        client.close()
    # A JACK-Client without the private handle fails with words, not deep in C.
    with pytest.raises(RuntimeError, match=r"has no object\._ptr"):
        _jack_address(object())

