# SPDX-License-Identifier: LGPL-2.1-or-later
"""A driver spoken by hand: the control protocol from Python, message by message."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path
from typing import Any

from asiojack_rig.harness import Segment
from pyjack_side.abi import ffi, lib
from pyjack_side.protocol import new, pack


class RawClient:
    """One connection to the server; replies are read in order."""

    def __init__(self, socket_path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(str(socket_path))
        self.fds: list[int] = []   # descriptors the server passed (SCM_RIGHTS)
        self.segment_fd = -1

    def close(self) -> None:
        self.sock.close()
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk, fds, _, _ = socket.recv_fds(self.sock, n - len(data), 4)
            self.fds.extend(fds)
            if not chunk:
                raise EOFError(f"connection closed after {len(data)} of {n} bytes")
            data += chunk
        return data

    def send(self, msg_type: int, payload: Any = None) -> None:
        self.sock.sendall(pack(msg_type, payload))

    def reply(self) -> tuple[int, bytes]:
        """The next reply (the server sends nothing else: events go through the segment)."""
        magic, msg_type, size, _ = struct.unpack("<4I", self._recv(16))
        assert magic == lib.ASIOJACK_MSG_MAGIC
        return msg_type, self._recv(size)

    def error(self) -> tuple[int, str]:
        msg_type, payload = self.reply()
        assert msg_type == lib.ASIOJACK_MSG_ERROR, msg_type
        err = ffi.from_buffer("struct asiojack_msg_error *", payload)
        return int(err.code), ffi.string(err.message).decode()

    def request(self, msg_type: int, payload: Any = None) -> None:
        """Send a request that must be answered OK."""
        self.send(msg_type, payload)
        reply, body = self.reply()
        if reply == lib.ASIOJACK_MSG_ERROR:
            err = ffi.from_buffer("struct asiojack_msg_error *", body)
            raise AssertionError(ffi.string(err.message).decode())
        assert reply == lib.ASIOJACK_MSG_OK, reply

    def hello(self, version: int = lib.ASIOJACK_PROTOCOL_VERSION, exe: str = "raw.exe") -> None:
        self.send(lib.ASIOJACK_MSG_HELLO,
                  new("struct asiojack_msg_hello", protocol_version=version, pid=1, bits=64,
                      exe_name=exe))
        assert self.reply()[0] == lib.ASIOJACK_MSG_WELCOME

    def open(self, name: str = "") -> Any:
        self.send(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open", client_name=name))
        before = len(self.fds)
        msg_type, payload = self.reply()
        assert msg_type == lib.ASIOJACK_MSG_OPENED, msg_type
        assert len(self.fds) == before + 1, "OPENED came without the segment's descriptor"
        self.segment_fd = self.fds[-1]
        return ffi.from_buffer("struct asiojack_msg_opened *", bytearray(payload))

    def segment(self) -> Segment:
        """The session's segment, through the descriptor OPENED carried."""
        assert self.segment_fd >= 0, "open() first"
        return Segment(fd=self.segment_fd)

    def create_buffers(self, frames: int, inputs: range, outputs: range) -> None:
        msg = new("struct asiojack_msg_create_buffers", frames=frames)
        for i in inputs:
            msg.in_active[i] = 1
        for i in outputs:
            msg.out_active[i] = 1
        self.request(lib.ASIOJACK_MSG_CREATE_BUFFERS, msg)

    def set_monitor(self, channel: int, output: int, gain: int, on: bool) -> None:
        self.request(lib.ASIOJACK_MSG_SET_MONITOR,
                     new("struct asiojack_msg_set_monitor", input=channel, output=output,
                         gain=gain, on=int(on)))
