# SPDX-License-Identifier: LGPL-2.1-or-later
"""One session: one ASIO driver instance = one JACK client + one shm segment.

The session owns the JACK client (opened with JACK-Client), its ports, the
shared segment and the C engine installed as the client's process callback.
Python only sets things up and tears them down; the audio runs in C.
"""

import _posixshmem  # the shm_open/shm_unlink of multiprocessing.shared_memory
import logging
import mmap
import os
import re
from collections.abc import Callable
from typing import Any

import jack

from pyjack_side.abi import ffi, lib
from pyjack_side.config import Config

log = logging.getLogger(__name__)


class SessionError(Exception):
    """A session request that cannot be carried out; ``code`` is an ASIOJACK_ERR_*."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the protocol error code with the message."""
        super().__init__(message)
        self.code = code


def client_name_for(exe_name: str) -> str:
    r"""JACK client name for a program: ``C:\x\REAPER.exe`` becomes ``reaper``."""
    base = re.split(r"[\\/]", exe_name)[-1]
    if base.lower().endswith(".exe"):
        base = base[:-4]
    base = re.sub(r"[^A-Za-z0-9_.+ -]", "", base).strip().lower()
    return base or "asio"


def _jack_address(obj: Any) -> int:
    """Address of a JACK-Client object's C pointer, for the engine."""
    return int(jack._ffi.cast("uintptr_t", obj._ptr))


class Session:
    """A live session.  Create with :meth:`open`; always :meth:`close`."""

    def __init__(self, session_id: int, config: Config) -> None:
        """Prepare an empty session; :meth:`open` does the work."""
        self.session_id = session_id
        self.config = config
        self.client: jack.Client | None = None
        self.shm_name = f"/asiojack-{os.getuid()}-{os.getpid()}-{session_id}"
        self.shm_size = 0
        self._map: mmap.mmap | None = None
        self._view: Any = None
        self.shm: Any = None
        self._engine: Any = None
        self.inports: list[jack.OwnPort] = []
        self.outports: list[jack.OwnPort] = []
        self.buffers_created = False
        self.running = False
        self.jack_gone = False
        self.on_event: Callable[[int, int], None] | None = None

    # ------------------------------------------------------------------ open
    def open(self, wanted_name: str, n_inputs: int, n_outputs: int,
             on_event: Callable[[int, int], None]) -> None:
        """Open the JACK client, map the segment, install the engine, activate."""
        self.on_event = on_event
        try:
            self.client = self._open_client(wanted_name)
            self._map_segment(n_inputs, n_outputs)
            self._register_ports(n_inputs, n_outputs)
            self._install_engine()
            self.client.activate()
            self._update_latency()
            if self.config.autoconnect:
                self._autoconnect()
        except BaseException:
            self.close()
            raise

    def _open_client(self, wanted: str) -> jack.Client:
        """Open a client named ``wanted``, ``wanted-2``, ... (first free)."""
        base = wanted[: lib.ASIOJACK_NAME_LEN - 8] or "asio"
        last_error: Exception | None = None
        for n in range(1, 100):
            name = base if n == 1 else f"{base}-{n}"
            try:
                return jack.Client(name, use_exact_name=True, no_start_server=True)
            except jack.JackOpenError as err:
                last_error = err
                status = err.args[1] if len(err.args) > 1 else None
                # With an exact name, jackd answers a clash with "server
                # error" (or "name not unique"): only those are worth
                # another name; "server failed" means no JACK at all.
                clash = status is not None and (status.name_not_unique or status.server_error)
                if not clash:
                    break
        raise SessionError(lib.ASIOJACK_ERR_JACK,
                           f"JACK server not running or refused client '{base}' ({last_error})")

    def _map_segment(self, n_inputs: int, n_outputs: int) -> None:
        size = int(lib.asiojack_shm_size(n_inputs, n_outputs, lib.ASIOJACK_MAX_FRAMES))
        if size == 0:
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"{n_inputs} inputs / {n_outputs} outputs is out of range "
                               f"(at most {lib.ASIOJACK_MAX_CHANNELS} each)")
        fd = _posixshmem.shm_open(self.shm_name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        try:
            os.ftruncate(fd, size)
            self._map = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.shm_size = size
        self._view = ffi.from_buffer(self._map)
        lib.asiojack_shm_init(self._view, n_inputs, n_outputs, lib.ASIOJACK_MAX_FRAMES,
                              self.config.sample_type_code, self.session_id)
        self.shm = ffi.cast("struct asiojack_shm *", self._view)
        assert self.client is not None
        self.shm.sample_rate = self.client.samplerate
        self.shm.jack_buffer_frames = self.client.blocksize
        self.shm.deadline_permille = round(self.config.deadline * 1000)
        self.shm.jack_rt_priority = lib.asiojack_client_rt_priority(_jack_address(self.client))
        self.shm.client_name = self.client.name.encode()[: lib.ASIOJACK_NAME_LEN - 1]

    def _register_ports(self, n_inputs: int, n_outputs: int) -> None:
        assert self.client is not None
        for i in range(n_inputs):
            port = self.client.inports.register(f"in_{i + 1}")
            self.inports.append(port)
            self.shm.in_names[i] = port.shortname.encode()[: lib.ASIOJACK_NAME_LEN - 1]
        for i in range(n_outputs):
            port = self.client.outports.register(f"out_{i + 1}")
            self.outports.append(port)
            self.shm.out_names[i] = port.shortname.encode()[: lib.ASIOJACK_NAME_LEN - 1]

    def _install_engine(self) -> None:
        assert self.client is not None
        self._engine = ffi.new("struct asiojack_engine *")
        lib.asiojack_engine_init(self._engine, self._view, _jack_address(self.client))
        for i, port in enumerate(self.inports):
            lib.asiojack_engine_set_port(self._engine, 0, i, _jack_address(port))
        for i, port in enumerate(self.outports):
            lib.asiojack_engine_set_port(self._engine, 1, i, _jack_address(port))
        if lib.asiojack_engine_install(self._engine) != 0:
            raise SessionError(lib.ASIOJACK_ERR_JACK, "JACK refused the process callback")
        self.client.set_blocksize_callback(self._blocksize_changed)
        self.client.set_samplerate_callback(self._samplerate_changed)
        self.client.set_shutdown_callback(self._jack_shutdown)
        self.client.set_graph_order_callback(self._graph_changed)

    def _autoconnect(self) -> None:
        """Wire inputs to physical captures and outputs to physical playbacks, in order."""
        assert self.client is not None
        captures = self.client.get_ports(is_audio=True, is_physical=True, is_output=True)
        playbacks = self.client.get_ports(is_audio=True, is_physical=True, is_input=True)
        for src, dst in zip(captures, self.inports, strict=False):
            self.client.connect(src, dst)
        for src, dst in zip(self.outports, playbacks, strict=False):
            self.client.connect(src, dst)

    # --------------------------------------------------- JACK notifications
    # These run on JACK's notification thread: they only touch plain words
    # of the segment and hand the rest to the server through on_event.
    def _raise(self, bits: int, value: int) -> None:
        if self._view is not None:
            lib.asiojack_shm_raise_event(self._view, bits)
        if self.on_event is not None:
            self.on_event(bits, value)

    def _blocksize_changed(self, blocksize: int) -> None:
        if self.shm is None or self.shm.jack_buffer_frames == blocksize:
            return
        self.shm.jack_buffer_frames = blocksize
        self._raise(lib.ASIOJACK_EVENT_BUFFER_SIZE, blocksize)

    def _samplerate_changed(self, samplerate: int) -> None:
        if self.shm is None or self.shm.sample_rate == samplerate:
            return
        self.shm.sample_rate = samplerate
        self._raise(lib.ASIOJACK_EVENT_SAMPLE_RATE, samplerate)

    def _graph_changed(self) -> None:
        if self.shm is None:
            return
        before = (self.shm.input_latency, self.shm.output_latency)
        self._update_latency()
        if before != (self.shm.input_latency, self.shm.output_latency):
            self._raise(lib.ASIOJACK_EVENT_LATENCY, 0)

    def _jack_shutdown(self, status: Any, reason: str) -> None:
        self.jack_gone = True
        if self.shm is not None:
            self.shm.running = 0
        log.warning("JACK shut down session %s: %s", self.session_id, reason)
        self._raise(lib.ASIOJACK_EVENT_JACK_GONE, 0)

    def _update_latency(self) -> None:
        """Worst JACK latency behind our inputs and in front of our outputs."""
        ins = [lib.asiojack_port_latency_max(_jack_address(p), 1) for p in self.inports]
        outs = [lib.asiojack_port_latency_max(_jack_address(p), 0) for p in self.outports]
        self.shm.input_latency = max(ins, default=0)
        self.shm.output_latency = max(outs, default=0)

    # ------------------------------------------------------------- requests
    def create_buffers(self, frames: int, in_active: Any, out_active: Any) -> None:
        """Mark the channels the host uses; its buffer size must be JACK's."""
        self._require_alive()
        if self.running:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "createBuffers while running")
        jack_frames = int(self.shm.jack_buffer_frames)
        if frames != jack_frames:
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"buffer size {frames} differs from JACK's {jack_frames}")
        n_in, n_out = int(self.shm.n_inputs), int(self.shm.n_outputs)
        if any(in_active[i] for i in range(n_in, lib.ASIOJACK_MAX_CHANNELS)) or \
                any(out_active[i] for i in range(n_out, lib.ASIOJACK_MAX_CHANNELS)):
            raise SessionError(lib.ASIOJACK_ERR_INVALID, "channel beyond the session's ports")
        for i in range(lib.ASIOJACK_MAX_CHANNELS):
            self.shm.in_active[i] = 1 if in_active[i] else 0
            self.shm.out_active[i] = 1 if out_active[i] else 0
        self.shm.buffer_frames = frames
        self.buffers_created = True

    def dispose_buffers(self) -> None:
        """Forget the host's buffers (stopping first if needed)."""
        if self.running:
            self.stop()
        if self.shm is not None:
            for i in range(lib.ASIOJACK_MAX_CHANNELS):
                self.shm.in_active[i] = 0
                self.shm.out_active[i] = 0
            self.shm.buffer_frames = 0
        self.buffers_created = False

    def start(self) -> None:
        """Let the engine publish cycles to the host."""
        self._require_alive()
        if not self.buffers_created:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "start before createBuffers")
        self.shm.running = 1
        self.running = True

    def stop(self) -> None:
        """Stop publishing cycles; JACK outputs fall silent."""
        if self.shm is not None:
            self.shm.running = 0
        self.running = False

    def _require_alive(self) -> None:
        if self.jack_gone or self.client is None:
            raise SessionError(lib.ASIOJACK_ERR_JACK, "JACK server is gone")

    def counters(self) -> dict[str, int]:
        """Engine counters, for status and tests."""
        if self.shm is None:
            return {}
        names = ("cycles", "completed", "misses", "late", "skipped", "max_wait_ns",
                 "peer_rt_priority", "peer_rt_errno")
        return {name: int(getattr(self.shm, name)) for name in names}

    # ----------------------------------------------------------------- close
    def close(self) -> None:
        """Deactivate and close the JACK client, unmap and unlink the segment."""
        self.stop()
        client, self.client = self.client, None
        if client is not None:
            try:
                if not self.jack_gone:
                    # After deactivate returns the process callback can no
                    # longer run, so the segment may go.
                    client.deactivate(ignore_errors=True)
                client.close(ignore_errors=True)
            except jack.JackError as err:  # pragma: no cover - JACK died under us
                log.warning("closing JACK client: %s", err)
        self.shm = None
        self._engine = None
        if self._view is not None:
            ffi.release(self._view)
            self._view = None
        if self._map is not None:
            self._map.close()
            self._map = None
        try:
            _posixshmem.shm_unlink(self.shm_name)
        except FileNotFoundError:
            pass
