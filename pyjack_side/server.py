# SPDX-License-Identifier: LGPL-2.1-or-later
"""The asiojack server: a per-user control socket and the sessions behind it.

Each connection is one ASIO driver instance.  The driver says hello
(protocol version, pid, program name, 32/64-bit), opens its session, and
then creates buffers, starts, stops and closes.  The server answers each
request with exactly one reply and nothing else: events (buffer size, sample
rate, latency, JACK gone) reach the driver through the session's segment.
A connection that ends, or whose process disappears, takes its session with
it.
"""

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyjack_side import __version__, status
from pyjack_side.abi import lib
from pyjack_side.config import RESET_KEYS, Config, ConfigError
from pyjack_side.config import load as load_config
from pyjack_side.paths import UnsafeDirError, ensure_private_dir, socket_path
from pyjack_side.protocol import ProtocolError, decode, error, new, pack, read_message, text
from pyjack_side.session import (
    Session,
    SessionError,
    alive,
    client_name_for,
    printable,
)

log = logging.getLogger(__name__)

#: how often the server looks for peers that vanished without closing
PEER_POLL_SECONDS = 0.2
#: how long stopping may wait for sessions to close
SHUTDOWN_TIMEOUT = 5.0
#: how long one status query keeps the engines measuring their meters; the
#: panel and ``status --watch`` ask again well within it
METER_HOLD_S = 5.0
#: the longest path a unix socket can have (sun_path less its terminator)
SUN_PATH_MAX = 107
#: how long a sibling server for another JACK server may take to listen
SIBLING_START_TIMEOUT = 10.0
#: tries (50 ms apart) to take the socket's lock before another server is assumed
LOCK_ATTEMPTS = 10
#: a driver says HELLO this soon after connecting, or is let go
HELLO_TIMEOUT = 5.0
#: once a message has begun, all of it arrives this soon
MESSAGE_TIMEOUT = 5.0
#: connections served at once (each is a program); more are refused in words
MAX_CONNECTIONS = 256
#: asyncio conditions that repeat for as long as they last (accept() at the
#: fd limit retries every second): logged once, not once per retry
REPEATING_CONDITIONS = ("socket.accept() out of system resource",)
#: a logged condition counts as over once it has not recurred for this long
CONDITION_QUIET_SECONDS = 30.0


def _peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return pid, uid, gid


class Connection:
    """One driver instance talking to the server."""

    def __init__(self, server: "Server", reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, pid: int) -> None:
        """Wrap an accepted connection from process ``pid``."""
        self.server = server
        self.reader = reader
        self.writer = writer
        self.pid = pid
        self.exe_name = ""
        self.bits = 0
        self.greeted = False
        self.session: Session | None = None

    def send(self, data: bytes) -> None:
        """Queue bytes to the driver, unless it is already gone."""
        if not self.writer.is_closing():
            self.writer.write(data)

    def send_with_fd(self, data: bytes, fd: int) -> None:
        """Send one reply with ``fd`` attached to its first byte (SCM_RIGHTS).

        The stream transport cannot carry descriptors, so this goes straight
        to the socket.  The driver waits for each reply before its next
        request, so nothing of ours is queued ahead of it; a peer that
        pipelines requests without reading gets its connection closed.
        """
        if self.writer.transport.get_write_buffer_size():
            raise ProtocolError("replies are piling up unread")
        raw = self.writer.get_extra_info("socket")
        # A second socket object on a duplicate of the descriptor: the
        # transport's own object does not offer sendmsg.
        with socket.socket(fileno=os.dup(raw.fileno())) as sock:
            try:
                sent = socket.send_fds(sock, [data], [fd])
            except BlockingIOError:
                raise ProtocolError("the driver does not read its replies") from None
        if sent < len(data):
            self.writer.write(data[sent:])

    async def serve(self) -> None:
        """Answer requests until the driver closes or breaks the protocol."""
        try:
            while True:
                try:
                    # Idle between requests as long as it likes once
                    # greeted; never idle before, never stuck mid-message.
                    msg_type, payload = await read_message(
                        self.reader, None if self.greeted else HELLO_TIMEOUT, MESSAGE_TIMEOUT)
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                try:
                    keep_going = await self.handle(msg_type, payload)
                except SessionError as err:
                    self.send(error(err.code, str(err)))
                    keep_going = True
                except ProtocolError:
                    raise
                except Exception as err:  # noqa: BLE001 - a request must never end the session
                    # JACK refusing something, /dev/shm full, ...: the driver
                    # gets it in words and its session lives on.
                    log.exception("pid %d: request %d failed", self.pid, msg_type)
                    self.send(error(lib.ASIOJACK_ERR_INTERNAL,
                                    f"asiojack server: {type(err).__name__}: {err}"))
                    keep_going = True
                try:
                    await self.writer.drain()
                except ConnectionError:
                    return
                if not keep_going:
                    return
        except ProtocolError as err:
            # Framing or content: either way the stream can't be trusted.
            log.warning("pid %d: malformed message: %s", self.pid, err)
            self.send(error(lib.ASIOJACK_ERR_MALFORMED, f"malformed message: {err}"))
        finally:
            await self.close()

    async def handle(self, msg_type: int, payload: bytes) -> bool:
        """Carry out one request; False ends the connection."""
        if msg_type == lib.ASIOJACK_MSG_HELLO:
            return self.hello(payload)
        if not self.greeted:
            raise ProtocolError("the first message must be HELLO")
        body = decode(msg_type, payload)
        if msg_type == lib.ASIOJACK_MSG_OPEN:
            await self.open(body)
            return True
        if msg_type == lib.ASIOJACK_MSG_STATUS:
            self.send(await self.server.status())
            return True
        session = self.session
        if session is None:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "no session is open on this connection")
        if msg_type == lib.ASIOJACK_MSG_CREATE_BUFFERS:
            # May wait for JACK to change its period: off the event loop.
            await asyncio.get_running_loop().run_in_executor(
                self.server.jack_worker, session.create_buffers, int(body.frames),
                body.in_active, body.out_active)
        elif msg_type == lib.ASIOJACK_MSG_SET_MONITOR:
            session.set_monitor(int(body.input), int(body.output), int(body.gain), bool(body.on))
        elif msg_type == lib.ASIOJACK_MSG_TRANSPORT:
            session.transport(int(body.command),
                              int(body.frame_lo) | (int(body.frame_hi) << 32))
        elif msg_type == lib.ASIOJACK_MSG_DISPOSE_BUFFERS:
            session.dispose_buffers()
        elif msg_type == lib.ASIOJACK_MSG_START:
            session.start()
        elif msg_type == lib.ASIOJACK_MSG_STOP:
            session.stop()
        elif msg_type == lib.ASIOJACK_MSG_CLOSE:
            self.send(pack(lib.ASIOJACK_MSG_OK))
            await self.close_session()
            return True
        self.send(pack(lib.ASIOJACK_MSG_OK))
        return True

    def hello(self, payload: bytes) -> bool:
        """Check the driver's protocol version and greet it; False on a mismatch."""
        if self.greeted:
            raise ProtocolError("HELLO sent twice")
        # The version comes first in every HELLO ever defined: read it before
        # trusting anything else, so a mismatch is told in words.
        if len(payload) < 4:
            raise ProtocolError("HELLO too short to hold a protocol version")
        version = int.from_bytes(payload[:4], "little")
        if version != lib.ASIOJACK_PROTOCOL_VERSION:
            side = "the asiojack server" if version > lib.ASIOJACK_PROTOCOL_VERSION \
                else "the asiojack driver (asiojack register)"
            message = (f"asiojack server {__version__} speaks protocol "
                       f"{lib.ASIOJACK_PROTOCOL_VERSION}, the driver speaks {version}: "
                       f"update {side}")
            log.warning("pid %d: %s", self.pid, message)
            self.send(error(lib.ASIOJACK_ERR_VERSION, message))
            return False
        body = decode(lib.ASIOJACK_MSG_HELLO, payload)
        self.exe_name = text(body.exe_name)
        self.bits = int(body.bits)
        self.greeted = True
        log.info("pid %d: hello from %s (%d-bit)", self.pid, printable(self.exe_name) or "?",
                 self.bits)
        self.send(pack(lib.ASIOJACK_MSG_WELCOME,
                       new("struct asiojack_msg_welcome",
                           protocol_version=lib.ASIOJACK_PROTOCOL_VERSION,
                           server_pid=os.getpid(), server_version=__version__)))
        return True

    async def open(self, body: Any) -> None:
        """Open this connection's session: a JACK client and its segment."""
        if self.session is not None:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "a session is already open")
        jack_server = text(body.jack_server) or self.server.jack_server
        if jack_server != self.server.jack_server:
            # This process's libjack is bound to another JACK server: a
            # sibling bound to the program's takes the session.
            path = await asyncio.get_running_loop().run_in_executor(
                None, self.server.sibling_for, jack_server)
            log.info("pid %d: JACK server '%s': redirected to %s", self.pid,
                     printable(jack_server), path)
            self.send(pack(lib.ASIOJACK_MSG_REDIRECT,
                           new("struct asiojack_msg_redirect", jack_server=jack_server,
                               socket_path=str(path))))
            return
        config = self.server.config.for_program(self.exe_name)
        # The wish (or the program's name) is the driver's; the name is ours.
        wanted = client_name_for(text(body.client_name) or self.exe_name)
        n_in = int(body.n_inputs) or config.inputs
        n_out = int(body.n_outputs) or config.outputs
        session = Session(self.server.next_session_id(), config)
        loop = asyncio.get_running_loop()

        def on_event(bits: int) -> None:
            # JACK's notification thread: the driver already has the event
            # in its segment; the server acts on JACK going away.
            if bits & lib.ASIOJACK_EVENT_JACK_GONE:
                # Not from JACK's own thread: closing the client joins it.
                loop.call_soon_threadsafe(
                    lambda: loop.run_in_executor(self.server.jack_worker, session.release_jack))

        # Opening a JACK client blocks for a while: keep other drivers served.
        await loop.run_in_executor(self.server.jack_worker, session.open, wanted, n_in, n_out,
                                   on_event, jack_server)
        self.session = session
        self.server.sessions[session.session_id] = session
        log.info("pid %d: session %d is JACK client '%s' on JACK server '%s' "
                 "(%d in, %d out, JACK RT priority %d)",
                 self.pid, session.session_id, session.client.name if session.client else "?",
                 printable(session.jack_server),
                 n_in, n_out, session.jack_rt_priority)
        size = session.shm_size
        reply = pack(lib.ASIOJACK_MSG_OPENED,
                     new("struct asiojack_msg_opened", session_id=session.session_id,
                         shm_size_lo=size & 0xFFFFFFFF, shm_size_hi=size >> 32,
                         client_name=session.client.name if session.client else ""))
        try:
            self.send_with_fd(reply, session.shm_fd)
        finally:
            # The driver has its own descriptor now (or the connection ends).
            session.release_fd()

    async def close_session(self) -> None:
        """Close the session, if any, keeping the connection."""
        session, self.session = self.session, None
        if session is None:
            return
        self.server.sessions.pop(session.session_id, None)
        counters = session.counters()
        log.info("pid %d: closing session %d %s", self.pid, session.session_id,
                 json.dumps(counters))
        if counters.get("cycles") and counters.get("peer_rt_errno"):
            log.warning("%s: the driver's audio thread ran without real-time priority (%s): "
                        "raise this user's rtprio limit (see asiojack doctor)",
                        printable(self.exe_name),
                        os.strerror(counters["peer_rt_errno"]))
        await asyncio.get_running_loop().run_in_executor(self.server.jack_worker, session.close)

    async def close(self) -> None:
        """End the connection and its session."""
        await self.close_session()
        if not self.writer.is_closing():
            with contextlib.suppress(Exception):
                await self.writer.drain()
            self.writer.close()
        self.server.connections.discard(self)


class Server:
    """The control socket and every session of this user."""

    def __init__(self, config: Config, path: Path | None = None,
                 idle_timeout: float = 0.0, config_file: Path | None = None,
                 jack_server: str | None = None) -> None:
        """Serve sessions on ``path``; exit after ``idle_timeout`` s unused (0: never).

        ``config_file`` is watched: a valid change applies to new sessions,
        and to live ones either at once or through a reset of their host.
        ``jack_server`` is the JACK server this process's sessions open on
        (default: ``$JACK_DEFAULT_SERVER``, else "default"); a session for
        another one is redirected to a sibling server process.
        """
        self.config = config
        self.jack_server = default_jack_server(jack_server)
        self.siblings: dict[str, subprocess.Popen[bytes]] = {}
        self.config_file = config_file
        self._config_stamp = self._stamp()
        self.path = path or socket_path()
        self.idle_timeout = idle_timeout
        self.connections: set[Connection] = set()
        self.sessions: dict[int, Session] = {}
        # One thread does every blocking JACK call, one after another: JACK
        # clients open and close in order, and no pool of threads lingers.
        self.jack_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jack")
        self._session_ids = 0
        self._stop = asyncio.Event()
        self._lock_fd = -1
        self._idle_since = time.monotonic()
        #: set when shutdown found the JACK worker stuck (JACK frozen): the
        #: process must then leave without joining it (see :func:`serve`)
        self.jack_stuck = False
        # conditions logged and not yet over: text -> [times seen, last seen]
        self._conditions: dict[str, list[float]] = {}
        self._started = time.monotonic()
        self._jack_probe = status.JackProbe()

    async def status(self) -> bytes:
        """A framed STATUS_REPLY: this server, JACK and every open session."""
        programs = [(conn.session, conn.exe_name, conn.pid, conn.bits)
                    for conn in list(self.connections) if conn.session is not None]
        programs.sort(key=lambda p: p[0].session_id)
        await self._meter([p[0] for p in programs])
        about = {"version": __version__, "protocol": lib.ASIOJACK_PROTOCOL_VERSION,
                 "pid": os.getpid(), "socket": str(self.path),
                 "config": str(self.config_file) if self.config_file else None,
                 "uptime_s": round(time.monotonic() - self._started, 1)}
        # Loads and connections are libjack calls: the worker's job.
        document = await asyncio.get_running_loop().run_in_executor(
            self.jack_worker, status.collect, about, programs, self._jack_probe)
        return status.encode(document)

    async def _meter(self, sessions: list[Session]) -> None:
        """Have the engines measure their meters for the next METER_HOLD_S.

        The engine measures peaks only while someone reads them (a status
        query, the control panel, ``status --watch``: each asks again long
        before the hold runs out), so nobody watching costs the audio
        cycle nothing.  Sessions that were not metering get two periods to
        measure before their peaks are read.
        """
        now = time.monotonic_ns()
        settle = 0.0
        for session in sessions:
            shm = session.shm
            if shm is None:
                continue
            if int(shm.meters_until_ns) <= now and int(shm.sample_rate):
                periods = 2 * int(shm.jack_buffer_frames) / int(shm.sample_rate)
                settle = max(settle, min(periods + 0.005, 0.25))
            lib.asiojack_want_meters(shm, now + int(METER_HOLD_S * 1e9))
        if settle:
            await asyncio.sleep(settle)

    def sibling_for(self, jack_server: str) -> Path:
        """The socket of a server bound to ``jack_server``, started if none answers.

        Blocking (it may wait for the sibling to listen): run it off the
        event loop.
        """
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", jack_server)[:40]
        digest = hashlib.sha256(jack_server.encode()).hexdigest()[:16]
        # The socket's name is short (a unix socket path has 107 bytes at
        # most, and the runtime directory may be deep); its log file says
        # which JACK server it serves.
        path = self.path.parent / f"jack-{digest}.sock"
        if len(os.fsencode(path)) > SUN_PATH_MAX:
            raise SessionError(lib.ASIOJACK_ERR_INTERNAL,
                               f"cannot serve JACK server '{printable(jack_server)}': the "
                               f"runtime directory {self.path.parent} is too deep for a socket")
        if _answers(path):
            return path
        old = self.siblings.get(jack_server)
        if old is None or old.poll() is not None:
            cmd = [sys.executable, "-m", "pyjack_side", "serve", "--jack-server", jack_server,
                   "--socket", str(path), "--idle-timeout",
                   str(self.config.idle_timeout or 30)]
            if self.config_file is not None:
                cmd[3:3] = ["--config", str(self.config_file)]
            log_file = self.path.parent / f"jack-{safe}-{digest}.log"
            # Like the driver's server.log: never through a planted link.
            try:
                out = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                              | os.O_CLOEXEC, 0o600)
            except OSError as err:
                raise SessionError(lib.ASIOJACK_ERR_INTERNAL,
                                   f"cannot open {log_file}: {err}") from err
            try:
                self.siblings[jack_server] = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    cwd="/", env=dict(os.environ, JACK_DEFAULT_SERVER=jack_server))
            finally:
                os.close(out)
        proc = self.siblings[jack_server]
        end = time.monotonic() + SIBLING_START_TIMEOUT
        while time.monotonic() < end:
            if _answers(path):
                return path
            if proc.poll() is not None:
                break
            time.sleep(0.02)
        raise SessionError(lib.ASIOJACK_ERR_INTERNAL,
                           f"could not start an asiojack server for JACK server "
                           f"'{jack_server}' (see {path.with_suffix('.log')})")

    def next_session_id(self) -> int:
        """A number no other session of this server has."""
        self._session_ids += 1
        return self._session_ids

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        pid, uid, _ = _peer_credentials(sock)
        if uid != os.getuid():
            log.warning("refused pid %d of uid %d", pid, uid)
            writer.close()
            return
        self.condition_over("socket.accept() out of system resource")
        if len(self.connections) >= MAX_CONNECTIONS:
            self.condition(f"{MAX_CONNECTIONS} connections: refusing more",
                           logging.WARNING)
            writer.write(error(lib.ASIOJACK_ERR_STATE,
                               f"asiojack server: already serving {MAX_CONNECTIONS} "
                               "connections, the most it takes"))
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        self.condition_over(f"{MAX_CONNECTIONS} connections: refusing more")
        conn = Connection(self, reader, writer, pid)
        self.connections.add(conn)
        await conn.serve()

    def condition(self, text: str, level: int = logging.ERROR, detail: str = "") -> None:
        """Log a condition that may repeat many times a second: once, until it is over."""
        seen = self._conditions.get(text)
        if seen is not None:
            seen[0] += 1
            seen[1] = time.monotonic()
            return
        self._conditions[text] = [1, time.monotonic()]
        log.log(level, "%s%s (logged once until it clears)", text,
                f": {detail}" if detail else "")

    def condition_over(self, text: str) -> None:
        """Things went well where :meth:`condition` was logged: over, if it stayed away.

        A condition that flaps (at the fd limit every freed descriptor lets
        one accept through) is over only after CONDITION_QUIET_SECONDS
        without it.
        """
        seen = self._conditions.get(text)
        if seen is not None and time.monotonic() - seen[1] >= CONDITION_QUIET_SECONDS:
            del self._conditions[text]
            log.info("over: %s (%d times)", text, seen[0])

    def _loop_exception(self, loop: asyncio.AbstractEventLoop,
                        context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message in REPEATING_CONDITIONS:
            exc = context.get("exception")
            self.condition(message, detail=str(exc) if exc else "")
            return
        loop.default_exception_handler(context)

    def _stamp(self) -> tuple[int, int] | None:
        if self.config_file is None:
            return None
        try:
            st = self.config_file.stat()
        except OSError:
            return (0, 0)
        return (st.st_mtime_ns, st.st_size)

    def _reload_config(self) -> None:
        """Apply an edited configuration file, or log why it cannot be."""
        stamp = self._stamp()
        if stamp == self._config_stamp or self.config_file is None:
            return
        self._config_stamp = stamp
        try:
            new = load_config(self.config_file)
        except ConfigError as err:
            log.error("configuration not applied: %s", err)
            return
        old, self.config = self.config, new
        # Each program by its own effective settings ([programs."X.exe"]).
        resets = []
        for conn in list(self.connections):
            if conn.session is None:
                continue
            before, after = old.for_program(conn.exe_name), new.for_program(conn.exe_name)
            conn.session.apply_config(after)
            if any(getattr(before, key) != getattr(after, key) for key in RESET_KEYS):
                resets.append((conn.exe_name, conn.session))
        log.info("configuration reloaded from %s%s", self.config_file,
                 ": hosts are asked to reset (" + ", ".join(exe for exe, _ in resets) + ")"
                 if resets else "")
        for _, session in resets:
            session.raise_reset()

    async def _watch_peers(self) -> None:
        """Close connections whose process died without the socket noticing yet."""
        while not self._stop.is_set():
            await asyncio.sleep(PEER_POLL_SECONDS)
            self._reload_config()
            for conn in list(self.connections):
                if not alive(conn.pid):
                    log.info("pid %d is gone: closing its session", conn.pid)
                    await conn.close()
            for sibling in self.siblings.values():
                sibling.poll()  # reap one that exited idle
            # Only a driver that said HELLO is a user: a connection that
            # says nothing (or is still being let go) keeps no server alive.
            if any(conn.greeted for conn in self.connections):
                self._idle_since = time.monotonic()
            elif self.idle_timeout and time.monotonic() - self._idle_since > self.idle_timeout:
                log.info("idle for %.0f s: exiting", self.idle_timeout)
                self._stop.set()

    def _take_lock(self) -> None:
        """Hold ``<socket>.lock`` for the server's life: one server per socket.

        Two servers started at the same moment (two programs auto-starting
        one) would otherwise both listen, and the first to go idle would
        unlink the other's socket.  The kernel drops an flock when its
        process dies, so a crashed server leaves nothing to clean up.
        """
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise RuntimeError(f"cannot open {lock}: {err}") from err
        # A driver waiting for a server probes the lock with a shared lock
        # for an instant: only a lock held for longer means another server.
        for attempt in range(LOCK_ATTEMPTS):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == LOCK_ATTEMPTS - 1:
                    os.close(fd)
                    raise RuntimeError(f"another asiojack server is running ({lock} is "
                                       "locked)") from None
                time.sleep(0.05)
        self._lock_fd = fd

    def _claim_socket(self) -> None:
        """Take the socket path, refusing if a live server holds it."""
        try:
            ensure_private_dir(self.path.parent)
        except UnsafeDirError:
            raise
        except OSError as err:   # e.g. its parent does not exist
            raise RuntimeError(f"cannot create the runtime directory: {err}") from err
        self._take_lock()
        if self.path.exists():
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(str(self.path))
            except OSError:
                self.path.unlink()  # left by a server that died
            else:
                raise RuntimeError(f"an asiojack server already listens on {self.path}")
            finally:
                probe.close()

    async def run(self, ready: Callable[[], None] | None = None) -> None:
        """Serve until SIGINT/SIGTERM or the idle timeout."""
        activated = systemd_socket()
        if activated is not None:
            # systemd made the socket (and its private directory, see
            # asiojack.socket) and keeps it: never unlink or re-create it.
            self.path = Path(activated.getsockname())
            server = await asyncio.start_unix_server(self._accept, sock=activated)
            log.info("listening socket %s handed over by systemd", self.path)
        else:
            self._claim_socket()
            old_umask = os.umask(0o077)
            try:
                server = await asyncio.start_unix_server(self._accept, path=str(self.path))
            finally:
                os.umask(old_umask)
            os.chmod(self.path, 0o600)
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop.set)
        log.info("asiojack %s serving on %s", __version__, self.path)
        if ready:
            ready()
        watcher = asyncio.create_task(self._watch_peers())
        try:
            await self._stop.wait()
        finally:
            watcher.cancel()
            server.close()
            await self._shut_down(unlink_socket=activated is None)
            if self._lock_fd >= 0:  # none when systemd owns the socket
                os.close(self._lock_fd)
                self._lock_fd = -1

    async def _shut_down(self, unlink_socket: bool = True) -> None:
        """Close every session within SHUTDOWN_TIMEOUT, whatever JACK does.

        The socket's name goes first: it is what outlives a process that has
        to give up on JACK (segments are memfds, gone with the process).
        Then the sessions close on the JACK worker; a last no-op job tells
        whether that worker came through.
        A socket systemd handed over is systemd's: it stays.
        """
        if unlink_socket:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # ours: we hold the lock
        # Segments are memfds: they have no name to outlive this process.
        for session in list(self.sessions.values()):
            session.stop()
        # Siblings shut down the same way, each within its own bound.
        for sibling in self.siblings.values():
            if sibling.poll() is None:
                sibling.terminate()
        loop = asyncio.get_running_loop()
        closing = [asyncio.ensure_future(conn.close()) for conn in list(self.connections)]
        closing.append(asyncio.ensure_future(
            loop.run_in_executor(self.jack_worker, lambda: None)))
        # A wedged JACK must not keep the server from exiting.
        _, late = await asyncio.wait(closing, timeout=SHUTDOWN_TIMEOUT)
        for task in late:
            task.cancel()
        if late:
            self.jack_stuck = True
            log.warning("JACK did not answer: %d sessions not closed in %.0f s; "
                        "leaving without them", max(len(late) - 1, 0), SHUTDOWN_TIMEOUT)
        self.jack_worker.shutdown(wait=False, cancel_futures=True)


#: the first file descriptor systemd passes (SD_LISTEN_FDS_START)
LISTEN_FDS_START = 3


def systemd_socket() -> socket.socket | None:
    """The listening socket systemd passed, by the sd_listen_fds protocol, or None.

    systemd sets LISTEN_PID to the pid it started and LISTEN_FDS to the
    number of descriptors from fd 3 on.  They are for this process only:
    the variables are removed either way, so no child (a sibling server,
    the settings window) takes them for its own.  No libsystemd is needed.
    """
    pid, count = os.environ.pop("LISTEN_PID", ""), os.environ.pop("LISTEN_FDS", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if not pid or not count:
        return None
    if not pid.isdigit() or int(pid) != os.getpid():
        log.warning("LISTEN_PID=%s is not this process (%d): not socket-activated",
                    pid, os.getpid())
        return None
    if not count.isdigit() or int(count) < 1:
        raise RuntimeError(f"systemd passed LISTEN_FDS={count!r}: expected one socket")
    if int(count) > 1:
        log.warning("systemd passed %s sockets: using the first (asiojack.socket has one)",
                    count)
    sock = socket.socket(fileno=LISTEN_FDS_START)
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise RuntimeError("the socket systemd passed is not a unix stream socket: "
                           "check ListenStream= in asiojack.socket")
    if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        raise RuntimeError("the socket systemd passed is not listening: "
                           "asiojack.socket must not set Accept=yes")
    sock.set_inheritable(False)
    return sock


def default_jack_server(name: str | None = None) -> str:
    """``name``, else ``$JACK_DEFAULT_SERVER``, else "default": the server libjack picks."""
    return name or os.environ.get("JACK_DEFAULT_SERVER") or "default"


def _answers(path: Path) -> bool:
    """Whether a server listens on the unix socket ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


def serve(config: Config, idle_timeout: float = 0.0, config_file: Path | None = None,
          jack_server: str | None = None, path: Path | None = None) -> None:
    """Run a server in the foreground."""
    server = Server(config, path=path, idle_timeout=idle_timeout, config_file=config_file,
                    jack_server=jack_server)
    asyncio.run(server.run(
        ready=lambda: print(f"asiojack: serving on {server.path}", flush=True)))
    if server.jack_stuck:
        # The JACK worker is blocked inside libjack: a normal exit would
        # join it (concurrent.futures' atexit hook) and close the JACK
        # clients left over from __del__, each of which blocks the same
        # way.  Everything that outlives us is already removed.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


__all__ = ["Server", "Connection", "serve"]
