# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a peer (a driver, or anything speaking as one) must not be able to do.

Issue 9: a peer writes its segment at will and connects as it likes; the
server's policy, JACK's period and other programs' audio must not depend on
what it writes, and a stalled or silent peer must cost nobody else.
"""

from __future__ import annotations

import mmap
import resource
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rawclient import RawClient

from asiojack_rig.harness import (
    AsiojackServer,
    Jackd,
    server_env,
    server_segments,
    start_jackd,
    start_peer,
    start_server,
    wait_for,
)
from pyjack_side.abi import ffi, lib


class WritableSegment:
    """A session's segment mapped read-write, as the peer it was handed to maps it."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, 0)   # the descriptor stays the caller's
        self.shm: Any = ffi.from_buffer("struct asiojack_shm *", self._map)


def test_segment_writes_do_not_steer_buffer_policy_or_checks(tmp_path: Path) -> None:
    jackd = start_jackd(tmp_path, 256)
    server = start_server(tmp_path, jackd, 'inputs = 2\noutputs = 2\nbuffer_size = "jack"\n')
    watcher = jackd.client("watch")
    try:
        with RawClient(server.socket) as raw:
            raw.hello(exe="steer.exe")
            raw.open()
            seg = WritableSegment(raw.segment_fd)
            # What the probe wrote: host mode, a tiny range, more
            # channels than the session has.
            seg.shm.buffer_mode = lib.ASIOJACK_BUFFER_HOST
            seg.shm.min_host_frames = 8
            seg.shm.max_host_frames = 16
            seg.shm.n_inputs = 128
            seg.shm.n_outputs = 128
            seg.shm.jack_buffer_frames = 16
            raw.send(lib.ASIOJACK_MSG_CREATE_BUFFERS,
                     _create_buffers(16, range(2), range(2)))
            code, message = raw.error()
            assert code == lib.ASIOJACK_ERR_INVALID, message
            assert "JACK's 256" in message, message
            assert watcher.blocksize == 256  # JACK's period untouched
            # Channels beyond the session's two are refused in words, not
            # with a traceback (the segment says 128).
            raw.send(lib.ASIOJACK_MSG_CREATE_BUFFERS, _create_buffers(256, range(100), range(2)))
            code, message = raw.error()
            assert code == lib.ASIOJACK_ERR_INVALID, message
            raw.send(lib.ASIOJACK_MSG_SET_MONITOR,
                     _new("struct asiojack_msg_set_monitor", input=100, output=1,
                          gain=lib.ASIOJACK_MONITOR_UNITY, on=1))
            code, message = raw.error()
            assert code == lib.ASIOJACK_ERR_INVALID, message
            assert "input 100 does not exist (0..1)" in message, message
            raw.send(lib.ASIOJACK_MSG_SET_MONITOR,
                     _new("struct asiojack_msg_set_monitor", input=-1, output=1,
                          gain=lib.ASIOJACK_MONITOR_UNITY, on=1))
            assert raw.reply()[0] == lib.ASIOJACK_MSG_OK
            # The right size still works, and JACK is still at its period.
            raw.create_buffers(256, range(2), range(2))
        assert watcher.blocksize == 256
        assert "Traceback" not in server.log_text()
    finally:
        watcher.close()
        server.stop()
        jackd.stop()


def _new(ctype: str, **fields: Any) -> Any:
    from pyjack_side.protocol import new

    return new(ctype, **fields)


def _create_buffers(frames: int, inputs: range, outputs: range) -> Any:
    msg = _new("struct asiojack_msg_create_buffers", frames=frames)
    for i in inputs:
        msg.in_active[i] = 1
    for i in outputs:
        msg.out_active[i] = 1
    return msg


def test_stalled_host_is_no_longer_waited_for_and_costs_others_nothing(
        asiojack: AsiojackServer, jackd256: Jackd, peer_bin: Path) -> None:
    period_ns = jackd256.frames * 1_000_000_000 // jackd256.rate
    healthy = start_peer(peer_bin, asiojack, "--seconds", "8", "--exe", "healthy.exe")
    # Hangs in its 20th bufferSwitch for 3 s, then goes on.
    stalled = start_peer(peer_bin, asiojack, "--seconds", "8", "--exe", "stalled.exe",
                         "--stall-at", "20", "--stall-ms", "3000")
    seg, other = stalled.segment(), healthy.segment()
    wait_for(lambda: seg.stalls >= 1, 2, "the engine to declare the peer stalled")
    misses_at_detection = other.misses
    hist_before, unwaited_before, cycles_before = seg.wait_histogram(), seg.unwaited, seg.cycles
    time.sleep(1.0)
    hist_after, unwaited_after, cycles_after = seg.wait_histogram(), seg.unwaited, seg.cycles
    healthy_misses = other.misses - misses_at_detection
    stalled_misses = seg.misses
    # Back after the stall: it is waited for again and completes.
    completed_then = seg.completed
    wait_for(lambda: seg.completed > completed_then + 100, 6, "the stalled peer to come back")
    stalls_total = seg.stalls
    result, other_result = stalled.finish(), healthy.finish()

    new_waits = [a - b for a, b in zip(hist_after, hist_before, strict=True)]
    short = sum(new_waits[: (period_ns // 10) >> lib.ASIOJACK_WAIT_BUCKET_SHIFT])
    cycles = cycles_after - cycles_before
    print(f"while stalled: {cycles} cycles, {unwaited_after - unwaited_before} unwaited, "
          f"{short} waits under 10 % of the period; healthy peer's new misses "
          f"{healthy_misses}")
    assert cycles > 100
    # The stalled session's JACK thread no longer burns its deadline:
    # (nearly) every cycle is played as silence at once.
    assert unwaited_after - unwaited_before >= cycles - 2, (unwaited_before, unwaited_after)
    assert short >= 0.9 * cycles, new_waits
    assert stalled_misses >= cycles
    assert healthy_misses == 0
    assert stalls_total == 1, stalls_total
    # The host was told (the events reach it when it comes back): the stall,
    # and the overload a driver turns into kAsioOverload.
    assert int(result["events"]) & lib.ASIOJACK_EVENT_STALLED, result
    assert int(result["events"]) & lib.ASIOJACK_EVENT_OVERLOAD, result
    assert result["returncode"] == 0 and other_result["returncode"] == 0


def test_shutdown_with_jack_frozen_exits_and_unlinks_every_segment(
        tmp_path: Path, peer_bin: Path) -> None:
    jackd = start_jackd(tmp_path, 256)
    server = start_server(tmp_path, jackd)
    raws: list[RawClient] = []
    try:
        peers = [start_peer(peer_bin, server, "--seconds", "60", "--exe", f"p{i}.exe")
                 for i in range(2)]
        for i in range(3):
            raw = RawClient(server.socket)
            raws.append(raw)
            raw.hello(exe=f"raw{i}.exe")
            raw.open()
        # Segments are memfds: the server maps all five, and none has a name
        # that could outlive it.
        segments = server_segments(server)
        assert len(segments) == 5, segments
        assert all(p.segment_name() in segments for p in peers)
        assert not list(Path("/dev/shm").glob("asiojack-*"))
        jackd.proc.send_signal(signal.SIGSTOP)   # JACK frozen: every libjack call blocks
        server.proc.send_signal(signal.SIGTERM)
        try:
            # Generous: the server's own bound is 5 s; without one it never exits.
            code = server.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server did not exit with JACK frozen:\n"
                                 + server.log_text()) from None
        assert code == 0, server.log_text()
        assert not list(Path("/dev/shm").glob("asiojack-*")), server.log_text()
        assert not server.socket.exists()
        assert "leaving without them" in server.log_text()
    finally:
        jackd.proc.send_signal(signal.SIGCONT)
        for raw in raws:
            raw.close()
        server.stop()
        jackd.stop()


def spawn_server(tmp: Path, jackd: Jackd, *args: str, nofile: int = 0) -> AsiojackServer:
    """``asiojack serve ARGS`` like harness.start_server, optionally with a low fd limit."""
    base = tmp / f"asiojack-{len(list(tmp.iterdir()))}"
    base.mkdir()
    runtime, config = base / "run", base / "config.toml"
    config.write_text("inputs = 2\noutputs = 2\n")
    runtime.mkdir(mode=0o700)
    log = runtime / "server.log"

    def limit() -> None:
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    env = server_env(jackd, runtime, config)
    proc = subprocess.Popen([sys.executable, "-m", "pyjack_side", "-v", "serve", *args],
                            cwd=base, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, preexec_fn=limit)
    server = AsiojackServer(jackd, runtime, env, proc, log, config)
    wait_for(lambda: server.socket.exists() or proc.poll() is not None, 15, "the socket")
    assert proc.poll() is None, server.log_text()
    return server


def _until_eof(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_silent_and_half_sent_connections_are_let_go(asiojack: AsiojackServer) -> None:
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(str(asiojack.socket))
    with RawClient(asiojack.socket) as half, RawClient(asiojack.socket) as idle:
        idle.hello(exe="idle.exe")
        half.hello(exe="half.exe")
        half.sock.sendall(struct.pack("<2I", lib.ASIOJACK_MSG_MAGIC, lib.ASIOJACK_MSG_OPEN))
        # Generous bounds: the server's are 5 s; without them these never end.
        _until_eof(silent, 60)
        said = _until_eof(half.sock, 60)
        assert b"not completed" in said, said
        # A greeted driver may sit idle between requests for as long as it likes.
        idle.open()
    silent.close()
    assert asiojack.proc.poll() is None


def test_a_silent_connection_keeps_no_auto_started_server_alive(
        jackd256: Jackd, tmp_path: Path) -> None:
    server = spawn_server(tmp_path, jackd256, "--idle-timeout", "1")
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        silent.connect(str(server.socket))
        try:
            code = server.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError("a silent connection kept the server alive") from None
        assert code == 0, server.log_text()
        assert "idle for" in server.log_text()
    finally:
        silent.close()
        server.stop()


def test_connections_are_capped_and_the_cap_is_logged_once(asiojack: AsiojackServer) -> None:
    from pyjack_side.server import MAX_CONNECTIONS

    clients: list[RawClient] = []
    try:
        for i in range(MAX_CONNECTIONS):
            client = RawClient(asiojack.socket)
            clients.append(client)
            client.hello(exe=f"c{i}.exe")
        refused = []
        for _ in range(3):
            extra = RawClient(asiojack.socket)
            clients.append(extra)
            refused.append(_until_eof(extra.sock, 30))
        assert all(b"connections, the most it takes" in r for r in refused), refused
        clients.pop(0).close()      # room for one again

        def served() -> bool:
            late = RawClient(asiojack.socket)
            clients.append(late)
            try:
                late.hello(exe="late.exe")
            except (OSError, EOFError, AssertionError):
                return False
            return True
        wait_for(served, 30, "a connection to be taken again", interval=0.2)
    finally:
        for client in clients:
            client.close()
    assert asiojack.log_text().count(f"{MAX_CONNECTIONS} connections: refusing more") == 1


def test_fd_limit_is_logged_once_and_survived(jackd256: Jackd, tmp_path: Path) -> None:
    server = spawn_server(tmp_path, jackd256, nofile=64)
    socks = []
    try:
        for _ in range(90):     # more than the server has descriptors for
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(str(server.socket))
            socks.append(sock)
        wait_for(lambda: "out of system resource" in server.log_text(), 10, "the fd limit")
        time.sleep(3)           # accept() is retried every second meanwhile
        text = server.log_text()
        for sock in socks:
            sock.close()
        socks.clear()
        # Back to normal once descriptors are free: a driver is served.
        def served() -> bool:
            try:
                with RawClient(server.socket) as client:
                    client.hello()
                    return True
            except (OSError, EOFError, AssertionError):
                return False
        wait_for(served, 30, "the server to serve again", interval=0.5)
        assert server.proc.poll() is None
    finally:
        for sock in socks:
            sock.close()
        server.stop()
    assert text.count("out of system resource") == 1, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
