# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad clients get clear errors; the server survives them."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

from conftest import AsiojackServer, start_peer

from pyjack_side.abi import ffi, lib
from pyjack_side.protocol import new, pack


def connect(server: AsiojackServer) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(str(server.socket))
    return s


def recv_exact(s: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_reply(s: socket.socket) -> tuple[int, bytes]:
    """The next reply: the server sends nothing but replies."""
    magic, msg_type, size, _ = struct.unpack("<4I", recv_exact(s, 16))
    assert magic == lib.ASIOJACK_MSG_MAGIC
    return msg_type, recv_exact(s, size)


def read_error(s: socket.socket) -> tuple[int, str]:
    msg_type, payload = read_reply(s)
    assert msg_type == lib.ASIOJACK_MSG_ERROR, msg_type
    err = ffi.from_buffer("struct asiojack_msg_error *", payload)
    return int(err.code), ffi.string(err.message).decode()


def hello(version: int = lib.ASIOJACK_PROTOCOL_VERSION) -> bytes:
    return pack(lib.ASIOJACK_MSG_HELLO,
                new("struct asiojack_msg_hello", protocol_version=version, pid=1, bits=64,
                    exe_name="raw.exe"))


def assert_closed(s: socket.socket) -> None:
    assert s.recv(1) == b"", "the server should end a broken connection"


def assert_still_serving(server: AsiojackServer, peer_bin: Path) -> None:
    assert server.proc.poll() is None
    peer = start_peer(peer_bin, server, "--seconds", "0.3")
    assert peer.finish()["returncode"] == 0


def test_newer_driver_is_told_to_update_the_server(asiojack: AsiojackServer,
                                                    peer_bin: Path) -> None:
    with connect(asiojack) as s:
        s.sendall(hello(lib.ASIOJACK_PROTOCOL_VERSION + 1))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_VERSION
        assert f"speaks protocol {lib.ASIOJACK_PROTOCOL_VERSION}" in message
        assert f"driver speaks {lib.ASIOJACK_PROTOCOL_VERSION + 1}" in message
        assert "update the asiojack server" in message
        assert_closed(s)
    assert_still_serving(asiojack, peer_bin)


def test_older_driver_is_told_to_update_the_driver(asiojack: AsiojackServer,
                                                    peer_bin: Path) -> None:
    with connect(asiojack) as s:
        s.sendall(hello(0))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_VERSION
        assert "update the asiojack driver" in message
    assert_still_serving(asiojack, peer_bin)


def test_garbage_gets_an_error_and_the_server_lives(asiojack: AsiojackServer,
                                                    peer_bin: Path) -> None:
    with connect(asiojack) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_MALFORMED
        assert "magic" in message
        assert_closed(s)
    assert_still_serving(asiojack, peer_bin)


def test_oversized_and_truncated_messages(asiojack: AsiojackServer, peer_bin: Path) -> None:
    with connect(asiojack) as s:
        s.sendall(struct.pack("<4I", lib.ASIOJACK_MSG_MAGIC, lib.ASIOJACK_MSG_HELLO,
                              1 << 30, 0))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_MALFORMED and "larger than" in message
    with connect(asiojack) as s:
        s.sendall(hello())
        assert read_reply(s)[0] == lib.ASIOJACK_MSG_WELCOME
        # OPEN with a payload of the wrong size.
        s.sendall(struct.pack("<4I", lib.ASIOJACK_MSG_MAGIC, lib.ASIOJACK_MSG_OPEN, 3, 0) + b"abc")
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_MALFORMED and "expected" in message
    with connect(asiojack) as s:
        s.sendall(hello()[:10])  # then hang up mid-header
    assert_still_serving(asiojack, peer_bin)


def test_requests_out_of_order(asiojack: AsiojackServer, peer_bin: Path) -> None:
    with connect(asiojack) as s:
        s.sendall(pack(lib.ASIOJACK_MSG_START))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_MALFORMED and "HELLO" in message
    with connect(asiojack) as s:
        s.sendall(hello())
        assert read_reply(s)[0] == lib.ASIOJACK_MSG_WELCOME
        s.sendall(pack(lib.ASIOJACK_MSG_START))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_STATE and "no session" in message
        s.sendall(pack(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open")))
        msg_type, payload = read_reply(s)
        assert msg_type == lib.ASIOJACK_MSG_OPENED
        s.sendall(pack(lib.ASIOJACK_MSG_START))   # before create buffers
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_STATE and "createBuffers" in message
        bad = new("struct asiojack_msg_create_buffers", frames=123)
        s.sendall(pack(lib.ASIOJACK_MSG_CREATE_BUFFERS, bad))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_INVALID and "123" in message
        bad = new("struct asiojack_msg_create_buffers", frames=256)
        bad.in_active[100] = 1   # the session has 4 inputs
        s.sendall(pack(lib.ASIOJACK_MSG_CREATE_BUFFERS, bad))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_INVALID
        s.sendall(pack(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open")))
        code, message = read_error(s)
        assert code == lib.ASIOJACK_ERR_STATE and "already open" in message
        # The connection is still good after refused requests.
        good = new("struct asiojack_msg_create_buffers", frames=256)
        good.in_active[0] = good.out_active[0] = 1
        s.sendall(pack(lib.ASIOJACK_MSG_CREATE_BUFFERS, good))
        assert read_reply(s)[0] == lib.ASIOJACK_MSG_OK
    assert_still_serving(asiojack, peer_bin)


def test_c_client_reports_a_missing_server(peer_bin: Path, tmp_path: Path) -> None:
    import os
    import subprocess

    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(tmp_path / "nothing-here"))
    out = subprocess.run([str(peer_bin), "--seconds", "0.1"], env=env, capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 1
    assert "asiojack server not running" in out.stdout


def test_c_client_starts_a_server_on_demand(peer_bin: Path, jackd256, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    runtime = tmp_path / "run"
    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(runtime),
               JACK_DEFAULT_SERVER=jackd256.name, ASIOJACK_CONFIG=str(tmp_path / "none.toml"),
               ASIOJACK_STATE_DIR=str(tmp_path / "state"),
               ASIOJACK_SERVER=f"{sys.executable} -m pyjack_side")
    try:
        out = subprocess.run([str(peer_bin), "--autostart", "--seconds", "0.3"], env=env,
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert out.returncode == 0, (out.stdout, (runtime / "server.log").read_text())
        from conftest import wait_for

        wait_for(lambda: "closing session" in (runtime / "server.log").read_text(), 5,
                 "the auto-started server to close the session")
        assert "serving on" in (runtime / "server.log").read_text()
    finally:
        pid_lines = subprocess.run(["pgrep", "-f", "pyjack_side serve --auto"],
                                   capture_output=True, text=True).stdout.split()
        for pid in pid_lines:
            try:
                if str(runtime).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                    os.kill(int(pid), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def test_c_client_fails_fast_when_the_server_cannot_start(peer_bin: Path,
                                                         tmp_path: Path) -> None:
    import os
    import subprocess
    import time

    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(tmp_path / "run"), ASIOJACK_SERVER="false")
    t0 = time.monotonic()
    out = subprocess.run([str(peer_bin), "--autostart", "--seconds", "0.1"], env=env,
                         capture_output=True, text=True, timeout=30)
    elapsed = time.monotonic() - t0
    assert out.returncode == 1
    assert "could not be started" in out.stdout and "server.log" in out.stdout
    # The dead server is noticed at once, not after the 10 s start timeout.
    assert elapsed < 3, elapsed
