# SPDX-License-Identifier: LGPL-2.1-or-later
"""One session: one ASIO driver instance = one JACK client + one shm segment.

The session owns the JACK client (opened with JACK-Client), its ports, the
shared segment and the C engine installed as the client's process callback.
Python only sets things up and tears them down; the audio runs in C.
"""

import fcntl
import logging
import mmap
import os
import re
import resource
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jack

from pyjack_side import routes
from pyjack_side.abi import ffi, lib
from pyjack_side.config import Config
from pyjack_side.paths import routes_path
from pyjack_side.status import is_pipewire, jack_library

log = logging.getLogger(__name__)


class SessionError(Exception):
    """A session request that cannot be carried out; ``code`` is an ASIOJACK_ERR_*."""

    def __init__(self, code: int, message: str) -> None:
        """Keep the protocol error code with the message."""
        super().__init__(message)
        self.code = code


#: smallest period a host may choose in ``host`` buffer mode
MIN_HOST_FRAMES = 16
#: how long to wait for JACK to switch periods
BUFFER_SIZE_TIMEOUT = 5.0
#: how long a dead client's close waits for libjack's thread that reported
#: the shutdown to leave (it does within milliseconds: see _await_shutdown_thread)
SHUTDOWN_THREAD_TIMEOUT = 2.0


#: bytes a JACK client name may have (jack_client_name_size() less its NUL)
JACK_NAME_BYTES = lib.ASIOJACK_NAME_LEN - 1
#: room kept for the "-NN" that tells copies of one program apart
SUFFIX_BYTES = 3


def truncate_utf8(name: str, max_bytes: int) -> str:
    """``name`` cut to at most ``max_bytes`` UTF-8 bytes, never inside a character."""
    return name.encode()[:max_bytes].decode("utf-8", "ignore")


def client_name_for(exe_name: str) -> str:
    r"""JACK client name for a program: ``C:\x\REAPER.exe`` becomes ``reaper``.

    The server derives every client name itself, from whatever the driver
    sent: letters and digits of any script, ``_ . + -`` and spaces stay,
    everything else (``:`` which JACK reserves, control characters, path
    separators) goes.  The result fits a JACK name with room for ``-NN``.
    """
    base = re.split(r"[\\/]", exe_name)[-1]
    if base.lower().endswith(".exe"):
        base = base[:-4]
    base = "".join(c for c in base if c.isalnum() or c in "_.+ -").strip().lower()
    base = truncate_utf8(base, JACK_NAME_BYTES - SUFFIX_BYTES).strip()
    return base or "asio"


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped, for logs.

    Program names come from the driver: a newline in one must not forge a
    log line.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def port_name(names: tuple[str, ...], index: int, prefix: str) -> str:
    """A port's short name: the configured one, else ``in_N``/``out_N``."""
    return names[index] if index < len(names) else f"{prefix}_{index + 1}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_lock_warned = False


def _lock_in_memory(view: Any, size: int) -> None:
    """Keep a segment in RAM: the process callback must never page-fault on it.

    Without the right to lock (RLIMIT_MEMLOCK too small), the pages are
    only faulted in now; the log says so once per server.
    """
    global _lock_warned
    err = int(lib.asiojack_lock_segment(view, size))
    if err and not _lock_warned:
        _lock_warned = True
        soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        limit = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KiB"
        log.warning("session segments are not locked in memory (%s; RLIMIT_MEMLOCK is %s, "
                    "a segment needs %d KiB): they are prefaulted only, and could be "
                    "swapped out; raise the limit (ulimit -l, or limits.conf @audio memlock)",
                    os.strerror(err), limit, size // 1024)


def _jack_address(obj: Any) -> int:
    """Address of a JACK-Client object's C pointer, for the engine.

    The only use of JACK-Client's private parts (its cffi module ``_ffi`` and
    the ``_ptr`` of a :class:`jack.Client` or :class:`jack.Port`): the C
    engine needs libjack's own handles, which JACK-Client does not publish.
    Checked present in JACK-Client 0.5.2 to 0.5.7 (pyproject pins that
    range); a release without them fails here, with words, rather than deep
    in the engine.
    """
    ffi_ = getattr(jack, "_ffi", None)
    ptr = getattr(obj, "_ptr", None)
    if ffi_ is None or ptr is None:
        raise RuntimeError(
            f"JACK-Client {getattr(jack, '__version__', '?')} has no "
            f"{'jack._ffi' if ffi_ is None else type(obj).__name__ + '._ptr'}: asiojack needs "
            "libjack's handles from it; install a JACK-Client version that pyproject.toml allows")
    return int(ffi_.cast("uintptr_t", ptr))


def session_cpu(session_id: int, allowed: set[int]) -> int:
    """The CPU a session's JACK thread and driver thread share, -1 for none.

    Sessions take the allowed CPUs from the last one down (CPU 0 usually
    serves the most interrupts), one each in turn; with a single CPU there
    is nothing to choose and nothing is pinned.
    """
    cpus = sorted(allowed)
    if len(cpus) < 2:
        return -1
    return cpus[-1 - (session_id - 1) % len(cpus)]


def jack_client_rt_priority(client: jack.Client) -> int:
    """SCHED_FIFO priority JACK gives ``client``'s process thread, -1 if not real-time."""
    return int(lib.asiojack_client_rt_priority(_jack_address(client)))


class Session:
    """A live session.  Create with :meth:`open`; always :meth:`close`."""

    def __init__(self, session_id: int, config: Config) -> None:
        """Prepare an empty session; :meth:`open` does the work."""
        self.session_id = session_id
        self.config = config
        self.client: jack.Client | None = None
        self.jack_server = ""     # the program's JACK server; "" = ours
        self.shm_fd = -1          # the segment's memfd, until handed to the driver
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
        # The thread (libjack's) that ran the shutdown callback: 0 = none yet
        self._shutdown_tid = 0
        self.opened = False       # fully set up: only then are routes worth saving
        self.xruns = 0
        self.on_event: Callable[[int], None] | None = None
        # A buffer size this session asked JACK for: its own change is no
        # news to its host.  Set and read under _blocksize_lock.
        self._asked_frames = 0
        self._blocksize_lock = threading.Condition()
        # The session's own record of what it set up.  The peer can write
        # anything into its segment, so every check and every policy reads
        # these, never the segment's copies (which are only for the driver).
        self.n_inputs = 0
        self.n_outputs = 0
        self.buffer_mode = lib.ASIOJACK_BUFFER_JACK
        self.min_host_frames = 0
        self.max_host_frames = 0
        self.jack_frames = 0       # JACK's period, kept current (under _blocksize_lock)
        self.sample_rate = 0
        self._jack_rt_priority = -1
        self.cpu = -1              # the CPU its JACK thread is pinned to, -1 = none

    # ------------------------------------------------------------------ open
    def open(self, wanted_name: str, n_inputs: int, n_outputs: int,
             on_event: Callable[[int], None], jack_server: str = "") -> None:
        """Open the JACK client, map the segment, install the engine, activate.

        ``jack_server`` is the JACK server the program's environment names
        (the driver sends it); "" = this process's own default.
        """
        self.on_event = on_event
        self.jack_server = jack_server
        try:
            self.client = self._open_client(wanted_name)
            self._map_segment(n_inputs, n_outputs)
            self._register_ports(n_inputs, n_outputs)
            self._install_engine()
            self.client.activate()
            self._pin_to_one_cpu()
            self._connect()
            self._settle_latency()
            self.opened = True
        except BaseException:
            self.close()
            raise

    def _open_client(self, wanted: str) -> jack.Client:
        """Open a client named ``wanted``, ``wanted-2``, ... (first free)."""
        base = client_name_for(wanted)
        last_error: Exception | None = None
        # The server this process's environment names is left to libjack
        # to pick, exactly as before (PipeWire's libjack reads a name as a
        # remote of its own); only another one is named explicitly.
        own = os.environ.get("JACK_DEFAULT_SERVER") or "default"
        servername = self.jack_server if self.jack_server not in ("", own) else None
        for n in range(1, 100):
            name = base if n == 1 else f"{base}-{n}"
            try:
                return jack.Client(name, use_exact_name=True, no_start_server=True,
                                   servername=servername)
            except jack.JackOpenError as err:
                last_error = err
                # With an exact name, jackd answers a clash with "server
                # error" (or "name not unique"): only those are worth
                # another name; "server failed" means no JACK at all.
                clash = err.status.name_not_unique or err.status.server_error
                if not clash:
                    break
        server = self.jack_server or os.environ.get("JACK_DEFAULT_SERVER") or "default"
        raise SessionError(lib.ASIOJACK_ERR_JACK,
                           f"JACK server '{server}' not running or refused client '{base}' "
                           f"({last_error})")

    def _map_segment(self, n_inputs: int, n_outputs: int) -> None:
        size = int(lib.asiojack_shm_size(n_inputs, n_outputs, lib.ASIOJACK_MAX_FRAMES))
        if size == 0:
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"{n_inputs} inputs / {n_outputs} outputs is out of range "
                               f"(at most {lib.ASIOJACK_MAX_CHANNELS} each)")
        # A memfd, not a named segment: no name another user could take
        # first, nothing to unlink or sweep after a crash.  Sealed against
        # resizing, so that neither the driver nor anyone it hands the fd
        # to can shrink it under the JACK thread (SIGBUS), as PipeWire does.
        fd = os.memfd_create(f"asiojack-session-{self.session_id}",
                             os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.fchmod(fd, 0o600)
            os.ftruncate(fd, size)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                        fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self.shm_fd = fd
        self.shm_size = size
        self._view = ffi.from_buffer(self._map)
        _lock_in_memory(self._view, size)
        lib.asiojack_shm_init(self._view, n_inputs, n_outputs, lib.ASIOJACK_MAX_FRAMES,
                              self.config.sample_type_code, self.session_id)
        self.shm = ffi.cast("struct asiojack_shm *", self._view)
        assert self.client is not None
        self.n_inputs, self.n_outputs = n_inputs, n_outputs
        self.sample_rate = self.client.samplerate
        self.jack_frames = self.client.blocksize
        self.shm.sample_rate = self.sample_rate
        self.shm.jack_buffer_frames = self.jack_frames
        self._jack_rt_priority = jack_client_rt_priority(self.client)
        self.shm.jack_rt_priority = self._jack_rt_priority
        self.apply_config(self.config)
        if self.config.buffer_size == "host":
            self.buffer_mode = lib.ASIOJACK_BUFFER_HOST
            self.min_host_frames, self.max_host_frames = MIN_HOST_FRAMES, lib.ASIOJACK_MAX_FRAMES
        else:
            self.buffer_mode = lib.ASIOJACK_BUFFER_JACK
            self.min_host_frames = self.max_host_frames = self.jack_frames
        self._publish_buffer_policy()
        self.shm.client_name = self.client.name.encode()[: lib.ASIOJACK_NAME_LEN - 1]

    def _publish_buffer_policy(self) -> None:
        """Tell the driver the buffer mode and the sizes it may ask for."""
        if self.shm is not None:
            self.shm.buffer_mode = self.buffer_mode
            self.shm.min_host_frames = self.min_host_frames
            self.shm.max_host_frames = self.max_host_frames

    def _register_ports(self, n_inputs: int, n_outputs: int) -> None:
        assert self.client is not None
        for i in range(n_inputs):
            self.inports.append(self.client.inports.register(
                port_name(self.config.input_names, i, "in")))
        for i in range(n_outputs):
            self.outports.append(self.client.outports.register(
                port_name(self.config.output_names, i, "out")))
        self.refresh_names()

    def refresh_names(self) -> None:
        """Channel names for getChannelInfo: a port's first alias, else its short name."""
        if self.shm is None:
            return
        for table, ports in ((self.shm.in_names, self.inports),
                             (self.shm.out_names, self.outports)):
            for i, port in enumerate(ports):
                try:
                    aliases = port.aliases
                except jack.JackError:
                    aliases = []
                name = aliases[0] if aliases else port.shortname
                table[i] = name.encode()[: lib.ASIOJACK_NAME_LEN - 1]

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
        self.client.set_xrun_callback(self._xrun)

    def _pin_to_one_cpu(self) -> None:
        """Pin the JACK thread (now that activation made it) to the session's CPU.

        The engine wakes the driver's callback thread and waits for it
        every cycle, so they never run at once: on one CPU the hand-off is
        two local context switches, without a wake-up sent to another CPU
        (tens of microseconds on a virtual machine) and with the cycle's
        audio still in that CPU's cache.  The driver reads ``driver_cpu``
        and pins its thread there at start (winedll/unix/rt.c).
        """
        assert self.client is not None and self.shm is not None
        # PipeWire schedules its own data threads (its RT module, its loops'
        # CPU settings): its libjack's process thread is not ours to move.
        cpu = session_cpu(self.session_id, os.sched_getaffinity(0)) \
            if self.config.same_cpu and not is_pipewire(jack_library()) else -1
        if cpu >= 0:
            err = int(lib.asiojack_pin_process_thread(_jack_address(self.client), cpu))
            if err:
                log.info("session %s: JACK thread not pinned to CPU %d: %s",
                         self.session_id, cpu, os.strerror(err))
                cpu = -1
        self.cpu = cpu
        self.shm.driver_cpu = cpu
        lib.asiojack_engine_set_colocated(self._engine, 1 if cpu >= 0 else 0)

    def _connect(self) -> None:
        """Restore the program's saved routes, or auto-connect a newcomer."""
        assert self.client is not None
        saved = routes.load(routes_path(), self.client.name) if self.config.restore_routes \
            else None
        if saved is None:
            if self.config.autoconnect:
                self._autoconnect()
            return
        own = {port.shortname: port for port in self.inports + self.outports}
        for short, peers in saved.items():
            port = own.get(short)
            if port is None:
                continue  # the program has fewer channels now
            for peer in peers:
                try:
                    if port.is_input:
                        self.client.connect(peer, port)
                    else:
                        self.client.connect(port, peer)
                except jack.JackError:
                    # That device or program is not there today.
                    log.info("saved route %s:%s - %s not restored", self.client.name, short, peer)

    def _save_routes(self) -> None:
        """Remember this program's connections for its next run."""
        if not self.opened or self.client is None or self.jack_gone or \
                not self.config.restore_routes:
            return
        try:
            current = {port.shortname: [peer.name for peer in
                                        self.client.get_all_connections(port)]
                       for port in self.inports + self.outports}
            routes.save(routes_path(), self.client.name, current)
        except (jack.JackError, OSError) as err:
            log.warning("routes of %s not saved: %s", self.client.name, err)

    def _autoconnect(self) -> None:
        """Wire inputs to physical captures and outputs to physical playbacks, in order."""
        assert self.client is not None
        captures = self.client.get_ports(is_audio=True, is_physical=True, is_output=True)
        playbacks = self.client.get_ports(is_audio=True, is_physical=True, is_input=True)
        for src, dst in zip(captures, self.inports, strict=False):
            self.client.connect(src, dst)
        for src, dst in zip(self.outports, playbacks, strict=False):
            self.client.connect(src, dst)

    def _settle_latency(self) -> None:
        """Work out the host's latencies now, for the connections just made.

        The engine's latency callback keeps them current, but it runs a
        little after the connections: a host that asks at once (at init)
        must read JACK's figures already.
        """
        lib.asiojack_engine_update_latencies(self._engine)

    # --------------------------------------------------- JACK notifications
    # These run on JACK's notification thread: they only touch plain words
    # of the segment and hand the rest to the server through on_event.
    def _raise(self, bits: int) -> None:
        if self._view is not None:
            lib.asiojack_shm_raise_event(self._view, bits)
        if self.on_event is not None:
            self.on_event(bits)

    def _blocksize_changed(self, blocksize: int) -> None:
        if self.shm is None or self.jack_frames == blocksize:
            return
        with self._blocksize_lock:
            self.jack_frames = blocksize
            self.shm.jack_buffer_frames = blocksize
            if self.buffer_mode == lib.ASIOJACK_BUFFER_JACK:
                self.min_host_frames = self.max_host_frames = blocksize
            self._publish_buffer_policy()
            asked = self._asked_frames == blocksize
            self._blocksize_lock.notify_all()
        if not asked:
            self._raise(lib.ASIOJACK_EVENT_BUFFER_SIZE)

    def _samplerate_changed(self, samplerate: int) -> None:
        if self.shm is None or self.sample_rate == samplerate:
            return
        self.sample_rate = samplerate
        self.shm.sample_rate = samplerate
        self._raise(lib.ASIOJACK_EVENT_SAMPLE_RATE)

    def _graph_changed(self) -> None:
        # Latencies are the engine's latency callback's business: JACK has
        # not recomputed them yet when the graph order changes.
        self.refresh_names()

    def _xrun(self, delay_usecs: float) -> None:
        # JACK's, not ours: reported beside the engine's misses, never an error.
        self.xruns += 1

    def _jack_shutdown(self, status: Any, reason: str) -> None:
        # First: whoever reads jack_gone may wait for this thread to leave.
        self._shutdown_tid = threading.get_native_id()
        self.jack_gone = True
        if self.shm is not None:
            lib.asiojack_set_running(self.shm, 0)
        log.warning("JACK shut down session %s: %s", self.session_id, reason)
        self._raise(lib.ASIOJACK_EVENT_JACK_GONE)

    # ------------------------------------------------------------- requests
    def apply_config(self, config: Config) -> None:
        """Take the settings that apply to a live session (the rest need a reset)."""
        self.config = config
        if self.shm is not None:
            self.shm.deadline_permille = round(config.deadline * 1000)

    def create_buffers(self, frames: int, in_active: Any, out_active: Any) -> None:
        """Mark the channels the host uses at ``frames`` per buffer.

        In ``jack`` buffer mode the size must be JACK's; in ``host`` mode a
        power of two in range becomes JACK's period.  Blocks while JACK
        changes its period, so it runs on the server's JACK thread.
        """
        self._requirealive()
        if self.running:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "createBuffers while running")
        n_in, n_out = self.n_inputs, self.n_outputs
        if any(in_active[i] for i in range(n_in, lib.ASIOJACK_MAX_CHANNELS)) or \
                any(out_active[i] for i in range(n_out, lib.ASIOJACK_MAX_CHANNELS)):
            raise SessionError(lib.ASIOJACK_ERR_INVALID, "channel beyond the session's ports")
        jack_frames = self.jack_frames
        if frames != jack_frames:
            if self.buffer_mode != lib.ASIOJACK_BUFFER_HOST:
                raise SessionError(lib.ASIOJACK_ERR_INVALID,
                                   f"buffer size {frames} differs from JACK's {jack_frames} "
                                   "(set buffer_size = \"host\" to let the host choose)")
            self._set_jack_buffer_size(frames)
        self.refresh_names()
        for i in range(lib.ASIOJACK_MAX_CHANNELS):
            self.shm.in_active[i] = 1 if in_active[i] else 0
            self.shm.out_active[i] = 1 if out_active[i] else 0
        self.shm.buffer_frames = frames
        self.buffers_created = True
        # The host's latencies are those of the channels it activated.
        lib.asiojack_engine_update_latencies(self._engine)

    def _set_jack_buffer_size(self, frames: int) -> None:
        lo, hi = self.min_host_frames, self.max_host_frames
        if not lo <= frames <= hi or frames & (frames - 1):
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"buffer size {frames} is not a power of two from {lo} to {hi}")
        assert self.client is not None
        with self._blocksize_lock:
            self._asked_frames = frames
        try:
            self.client.blocksize = frames
        except jack.JackError as err:
            raise SessionError(lib.ASIOJACK_ERR_JACK,
                               f"JACK refused a buffer size of {frames}: {err}") from err
        with self._blocksize_lock:
            done = self._blocksize_lock.wait_for(
                lambda: self.jack_frames == frames,
                timeout=BUFFER_SIZE_TIMEOUT)
            self._asked_frames = 0
        if not done:
            raise SessionError(lib.ASIOJACK_ERR_JACK,
                               f"JACK did not switch to {frames} frames in time")

    def set_monitor(self, channel: int, output: int, gain: int, on: bool) -> None:
        """Route input ``channel`` (-1: all) to ``output`` at ASIO ``gain``, or stop it."""
        self._requirealive()
        n_in, n_out = self.n_inputs, self.n_outputs
        if not -1 <= channel < n_in:
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"input monitor: input {channel} does not exist (0..{n_in - 1})")
        if on and not 0 <= output < n_out:
            raise SessionError(lib.ASIOJACK_ERR_INVALID,
                               f"input monitor: output {output} does not exist (0..{n_out - 1})")
        linear = max(0, gain) / lib.ASIOJACK_MONITOR_UNITY
        for ch in range(n_in) if channel == -1 else (channel,):
            lib.asiojack_set_monitor(self.shm, ch, output if on else -1, linear)

    def transport(self, command: int, frame: int) -> None:
        """Start, stop or locate JACK transport for the host."""
        self._requirealive()
        assert self.client is not None
        if command == lib.ASIOJACK_TRANSPORT_START:
            self.client.transport_start()
        elif command == lib.ASIOJACK_TRANSPORT_STOP:
            self.client.transport_stop()
        elif command == lib.ASIOJACK_TRANSPORT_LOCATE:
            if not 0 <= frame < 2**32:
                raise SessionError(lib.ASIOJACK_ERR_INVALID,
                                   f"transport position {frame} is beyond JACK's 32-bit frames")
            self.client.transport_frame = frame
        else:
            raise SessionError(lib.ASIOJACK_ERR_INVALID, f"unknown transport command {command}")

    def raise_reset(self) -> None:
        """Ask the host to re-create its buffers (configuration changed)."""
        self._raise(lib.ASIOJACK_EVENT_RESET)

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
        self._requirealive()
        if not self.buffers_created:
            raise SessionError(lib.ASIOJACK_ERR_STATE, "start before createBuffers")
        lib.asiojack_begin_start(self.shm)
        lib.asiojack_set_running(self.shm, 1)
        self.running = True

    def stop(self) -> None:
        """Stop publishing cycles; JACK outputs fall silent."""
        if self.shm is not None:
            lib.asiojack_set_running(self.shm, 0)
        self.running = False

    def _requirealive(self) -> None:
        if self.jack_gone or self.client is None:
            raise SessionError(lib.ASIOJACK_ERR_JACK, "JACK server is gone")

    @property
    def jack_rt_priority(self) -> int:
        """SCHED_FIFO priority of this session's JACK thread, -1 if not real-time."""
        return self._jack_rt_priority if self.shm is not None else -1

    def counters(self) -> dict[str, int]:
        """Engine counters, for status and tests."""
        if self.shm is None:
            return {}
        names = ("cycles", "completed", "misses", "late", "skipped", "stalls", "unwaited",
                 "max_wait_ns",
                 "peer_rt_priority", "peer_rt_errno", "peer_cpu", "peer_cpu_errno",
                 "engine_sleeps", "spin_caught", "spin_missed")
        counters = {name: int(getattr(self.shm, name)) for name in names}
        counters["cpu"] = self.cpu
        counters["jack_xruns"] = self.xruns
        return counters

    # ----------------------------------------------------------------- close
    def release_jack(self) -> None:
        """Close the JACK client of a session whose JACK server died.

        libjack keeps a dead client's state until it is closed, and opening
        a new client (another program's, once JACK is back) next to it can
        crash the process.  The session itself lives on until its driver
        closes it, refusing requests with "JACK is gone".
        """
        client, self.client = self.client, None
        if client is not None:
            self._await_shutdown_thread()
            client.close(ignore_errors=True)

    def _await_shutdown_thread(self) -> None:
        """Wait until libjack's thread that reported JACK's death has left.

        jack_client_close kills the client's notification and process
        threads with pthread_cancel, and libjack makes them asynchronously
        cancellable: they die at whatever instruction they are at.  Right
        after JACK dies they are still running Python: the shutdown
        callback, and libjack's own messages ("Cannot read socket",
        "JackSocketClientChannel read fail"), which jacklog.py hands to
        logging.  Killed there, a thread dies holding the logging handler's
        lock (or worse, the GIL): the close's own next message ("Server is
        not running") then waits for that lock forever, inside libjack's
        global open/close mutex, so every later JACK client open in this
        process and every log line wait too.  That thread runs no Python
        once the shutdown is told (after its messages it leaves its loop
        and exits), so the close waits, a bounded while, for it to be gone.
        PipeWire's libjack cancels nothing (its close stops and joins its
        own loop, the thread that told the shutdown, which lives on): no wait.
        """
        tid = self._shutdown_tid
        if not tid or tid == threading.get_native_id() or is_pipewire(jack_library()):
            return
        task = Path(f"/proc/self/task/{tid}")
        deadline = time.monotonic() + SHUTDOWN_THREAD_TIMEOUT
        while task.exists():
            if time.monotonic() >= deadline:
                log.warning("session %s: libjack's thread %d still runs %.0f s after JACK "
                            "shut down; closing the client anyway", self.session_id, tid,
                            SHUTDOWN_THREAD_TIMEOUT)
                return
            time.sleep(0.005)

    def close(self) -> None:
        """Deactivate and close the JACK client, unmap and unlink the segment."""
        self.stop()
        self._save_routes()
        client, self.client = self.client, None
        if client is not None:
            # After deactivate returns the process callback can no longer
            # run, so the segment may go.  A client whose server died is
            # still closed (libjack frees its state only then, and a client
            # left open breaks the next one), but not deactivated.
            try:
                if not self.jack_gone:
                    client.deactivate(ignore_errors=True)
                else:
                    self._await_shutdown_thread()
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
        self.release_fd()

    def release_fd(self) -> None:
        """Close the server's descriptor of the segment (the mapping stays)."""
        fd, self.shm_fd = self.shm_fd, -1
        if fd >= 0:
            os.close(fd)
