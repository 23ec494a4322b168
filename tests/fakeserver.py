# SPDX-License-Identifier: LGPL-2.1-or-later
"""Servers that are not ours: what a driver must never trust.

- ``record`` (run as a script, also as another user, with the system's
  Python and nothing but the standard library): listens on a unix socket
  and writes every byte a driver sends to a file.  A driver that checks
  whom it talks to never sends it a byte.
- :class:`HostileServer` (a thread in the test): speaks the control protocol
  well enough for the C peer to stream, then does what the driver must
  survive: a segment that is unsealed or of the wrong size, a geometry
  rewritten after the driver checked it, a reply that comes too late.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any

HEADER = struct.Struct("<4I")


def record(path: str, log: str) -> None:
    """Listen on ``path`` (mode 0666: anyone may connect) and log what arrives."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as srv:
        srv.bind(path)
        os.chmod(path, 0o666)
        srv.listen(8)
        print("LISTENING", flush=True)
        while True:
            conn, _ = srv.accept()
            with conn, open(log, "ab") as out:
                out.write(b"<connection>")
                out.flush()
                conn.settimeout(2)
                try:
                    while chunk := conn.recv(4096):
                        out.write(chunk)
                        out.flush()
                except OSError:
                    pass


class HostileServer:
    """A same-user server in a thread; ``behaviour`` says how it misbehaves.

    ``scribble``: a sound segment, whose geometry it rewrites once the host
    streams, while publishing cycles.  ``scribble-at-create``: the same,
    rewritten when createBuffers arrives, before it is answered.
    ``unsealed`` / ``short`` / ``open`` / ``foreign``: a segment without
    seals / smaller than announced / open to other users (mode 0777) /
    another user's.  ``late``: the reply to the
    first request after HELLO comes after ``late_s`` seconds.
    """

    def __init__(self, path: Path, behaviour: str, late_s: float = 0.8) -> None:
        from pyjack_side.abi import ffi, lib

        self.ffi, self.lib = ffi, lib
        self.path = path
        self.behaviour = behaviour
        self.late_s = late_s
        self.requests: list[int] = []
        self.cycles = 0
        self.rewritten = False
        self.stop = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.sock.close()

    def _pack(self, msg_type: int, payload: Any = None) -> bytes:
        from pyjack_side.protocol import pack

        return pack(msg_type, payload)  # type: ignore[no-any-return]

    def _recv(self, conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                try:
                    self._serve(conn)
                except (EOFError, OSError):
                    pass

    def _segment(self) -> tuple[int, Any, Any, int]:
        import fcntl
        import mmap

        ffi, lib = self.ffi, self.lib
        size = int(lib.asiojack_shm_size(2, 2, lib.ASIOJACK_MAX_FRAMES))
        fd = os.memfd_create("hostile", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        if self.behaviour != "open":
            os.fchmod(fd, 0o600)
        if self.behaviour == "foreign":
            os.fchown(fd, 65534, 65534)   # nobody's (needs root)
        os.ftruncate(fd, size)
        mapping = mmap.mmap(fd, size)
        view = ffi.from_buffer(mapping)
        lib.asiojack_shm_init(view, 2, 2, lib.ASIOJACK_MAX_FRAMES, 0, 1)
        shm = ffi.cast("struct asiojack_shm *", view)
        shm.sample_rate = 48000
        shm.jack_buffer_frames = shm.min_host_frames = shm.max_host_frames = 256
        shm.deadline_permille = 900
        if self.behaviour == "short":
            os.ftruncate(fd, size - 4096)   # announced: size; there: less
        if self.behaviour != "unsealed":
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        return fd, (mapping, view), shm, size

    def _serve(self, conn: socket.socket) -> None:
        ffi, lib = self.ffi, self.lib
        segment: Any = None
        publisher: threading.Thread | None = None
        while not self.stop.is_set():
            conn.settimeout(10)
            _, msg_type, size, _ = HEADER.unpack(self._recv(conn, 16))
            if size:
                self._recv(conn, size)
            self.requests.append(msg_type)
            if msg_type == lib.ASIOJACK_MSG_HELLO:
                conn.sendall(self._pack(lib.ASIOJACK_MSG_WELCOME, ffi.new(
                    "struct asiojack_msg_welcome *",
                    {"protocol_version": lib.ASIOJACK_PROTOCOL_VERSION})))
                continue
            if self.behaviour == "late" and len(self.requests) == 2:
                self.stop.wait(self.late_s)
                err = ffi.new("struct asiojack_msg_error *", {"code": lib.ASIOJACK_ERR_STATE})
                err.message = b"late answer to the first request"
                conn.sendall(self._pack(lib.ASIOJACK_MSG_ERROR, err))
                continue
            if msg_type == lib.ASIOJACK_MSG_OPEN:
                fd, keep, shm, total = self._segment()
                segment = (keep, shm)
                opened = ffi.new("struct asiojack_msg_opened *",
                                 {"session_id": 1, "shm_size_lo": total, "client_name": b"x"})
                socket.send_fds(conn, [self._pack(lib.ASIOJACK_MSG_OPENED, opened)], [fd])
                os.close(fd)
                continue
            if msg_type == lib.ASIOJACK_MSG_CREATE_BUFFERS and segment is not None and \
                    self.behaviour == "scribble-at-create":
                self._scribble(segment[1])
            if msg_type == lib.ASIOJACK_MSG_START and segment is not None:
                publisher = threading.Thread(target=self._publish, args=(segment[1],),
                                             daemon=True)
                publisher.start()
            conn.sendall(self._pack(lib.ASIOJACK_MSG_OK))
            if msg_type == lib.ASIOJACK_MSG_CLOSE:
                break
        self.stop.set()
        if publisher:
            publisher.join(5)

    def _publish(self, shm: Any) -> None:
        """Stream cycles; after a few, move every buffer far outside the segment."""
        lib = self.lib
        seq = int(lib.asiojack_ready_seq(shm))
        while not self.stop.is_set():
            seq += 1
            t = shm.time[seq & 1]
            t.frames, t.sample_rate = 256, 48000
            shm.ready_seq = seq
            lib.asiojack_shm_raise_event(self.ffi.cast("void *", shm), 0)
            self.cycles += 1
            if self.cycles == 20 and self.behaviour == "scribble":
                self._scribble(shm)
            self.stop.wait(0.005)

    def _scribble(self, shm: Any) -> None:
        """What a server other than ours did to crash its victim."""
        shm.channel_stride = 0x7FFFFFC0
        shm.audio_offset = 0x7FFFFFC0
        shm.n_inputs = shm.n_outputs = self.lib.ASIOJACK_MAX_CHANNELS
        shm.bytes_per_sample = 0xFFFF
        self.rewritten = True


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "record":
        sys.exit("usage: fakeserver.py record SOCKET LOG")
    record(sys.argv[2], sys.argv[3])
