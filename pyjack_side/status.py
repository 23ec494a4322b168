# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack status``: what is running, asked of the server itself.

The server answers ASIOJACK_MSG_STATUS on the control socket with JSON
(``bridge/asiojack_abi.h``, STATUS_REPLY); this module builds that JSON on
the server (:func:`collect`, run on the server's JACK worker thread, since
it asks libjack for loads and connections) and reads and draws it on the
client side (:func:`query`, :func:`render`).  Nothing here reads a segment
or JACK on its own: the server is the one source of truth.

Keys of status version 1 (``asiojack status --json``)::

    status_version  1
    server          version, protocol, pid, socket, config, uptime_s
    jack            server_name, library, pipewire, xruns_reported,
                    sample_rate, period, dsp_load   (or error: words)
    programs        one per open session:
        exe, pid, bits, session_id, client, state (open | ready | running |
        jack gone), inputs, outputs, active_inputs, active_outputs,
        sample_type, buffer_mode, buffer_frames, jack_period,
        latency {input, output} (frames), deadline,
        cycles, completed, misses, late, skipped,
        xruns (null where the JACK library does not report them),
        wait_us {p50, p99, max}, rt_priority {jack, driver},
        cpu {jack, driver} (the CPU each thread is pinned to, -1 = none),
        channels {inputs, outputs}: index, name, active, connections,
                 peak (linear, null unless running and active),
                 peak_db, clip (peak reached full scale), clips (cycles
                 at full scale while metered: the engine measures the
                 meters only while someone asks for status)
"""

from __future__ import annotations

import math
import os
import socket
import struct
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyjack_side.abi import SAMPLE_TYPES, ffi, lib

if TYPE_CHECKING:
    from pyjack_side.session import Session

#: what ``--watch`` waits between two redraws (seconds)
WATCH_INTERVAL = 0.5
#: meter scale of the text bars: -60 dBFS .. 0 dBFS
METER_FLOOR_DB = -60.0
#: how long a status without sessions reuses its JACK probe (seconds)
PROBE_CACHE_SECONDS = 5.0

_SAMPLE_NAMES = {code: name for name, code in SAMPLE_TYPES.items()}


class StatusError(Exception):
    """No server answers, or its answer cannot be read."""


# --------------------------------------------------------------- JACK facts
def jack_library() -> str:
    """Path of the libjack this process has loaded ('' if none yet)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if "/libjack.so" in path:
                    return path
    except OSError:
        pass
    return ""


def is_pipewire(library: str) -> bool:
    """Whether ``library`` is PipeWire's libjack, whose xrun callback never fires."""
    return "pipewire" in library.lower()


def dsp_load(client: Any) -> float | None:
    """JACK's DSP load in percent, rounded, or None if JACK would not say."""
    try:
        return round(float(client.cpu_load()), 1)
    except Exception:  # noqa: BLE001 - a dead client has no load
        return None


class JackProbe:
    """JACK's rate and period when no session has a client to ask.

    Opens a short-lived client, at most every :data:`PROBE_CACHE_SECONDS`,
    so ``status --watch`` does not make JACK's graph churn.
    """

    def __init__(self) -> None:
        """An empty cache."""
        self._at = 0.0
        self._facts: dict[str, Any] = {}

    def facts(self) -> dict[str, Any]:
        """Rate, period and load of the default JACK server, or an error in words."""
        now = time.monotonic()
        if self._facts and now - self._at < PROBE_CACHE_SECONDS:
            return self._facts
        import jack

        try:
            client = jack.Client("asiojack-status", no_start_server=True)
        except jack.JackError:
            facts: dict[str, Any] = {"error": "no JACK server answers"}
        else:
            try:
                facts = {"sample_rate": client.samplerate, "period": client.blocksize,
                         "dsp_load": dsp_load(client)}
            finally:
                client.close(ignore_errors=True)
        self._facts, self._at = facts, now
        return facts


# ----------------------------------------------------------- server side
def _percentiles(histogram: Iterable[int], max_ns: int) -> dict[str, float | None]:
    """p50/p99 (upper bucket edge) and max of the engine's waits, in microseconds."""
    counts = list(histogram)
    total = sum(counts)
    result: dict[str, float | None] = {"p50": None, "p99": None,
                                       "max": round(max_ns / 1000, 1) if total else None}
    if not total:
        return result
    for key, share in (("p50", 0.50), ("p99", 0.99)):
        need, seen = math.ceil(total * share), 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= need:
                edge_ns = (index + 1) << lib.ASIOJACK_WAIT_BUCKET_SHIFT
                result[key] = round(min(edge_ns, max_ns) / 1000, 1)
                break
    return result


def _db(peak: float) -> float | None:
    return round(20 * math.log10(peak), 1) if peak > 0 else None


def _channels(session: Session, client: Any, outputs: bool, running: bool) -> list[dict[str, Any]]:
    shm = session.shm
    ports = session.outports if outputs else session.inports
    active = shm.out_active if outputs else shm.in_active
    names = shm.out_names if outputs else shm.in_names
    peaks = shm.out_peak if outputs else shm.in_peak
    clips = shm.out_clips if outputs else shm.in_clips
    channels = []
    for i, port in enumerate(ports):
        try:
            connections = [p.name for p in client.get_all_connections(port)] if client else []
        except Exception:  # noqa: BLE001 - JACK gone: no connections to show
            connections = []
        on = bool(active[i])
        peak = float(peaks[i]) if running and on else None
        channels.append({
            "index": i,
            "name": ffi.string(names[i]).decode("utf-8", "replace"),
            "port": port.shortname,
            "active": on,
            "connections": connections,
            "peak": None if peak is None else round(peak, 6),
            "peak_db": None if peak is None else _db(peak),
            "clip": peak is not None and peak >= 1.0,
            "clips": int(clips[i]),
        })
    return channels


def program_status(session: Session, exe: str, pid: int, bits: int,
                   xruns_reported: bool) -> dict[str, Any]:
    """One session as status shows it (call on the JACK worker thread)."""
    shm = session.shm
    client = session.client
    if shm is None:
        return {"exe": exe, "pid": pid, "bits": bits, "session_id": session.session_id,
                "state": "closed"}
    running = bool(lib.asiojack_is_running(shm))
    if session.jack_gone:
        state = "jack gone"
    elif running:
        state = "running"
    elif session.buffers_created:
        state = "ready"
    else:
        state = "open"
    counters = session.counters()
    return {
        "exe": exe, "pid": pid, "bits": bits, "session_id": session.session_id,
        "client": ffi.string(shm.client_name).decode("utf-8", "replace"),
        "state": state,
        "inputs": int(shm.n_inputs), "outputs": int(shm.n_outputs),
        "active_inputs": sum(1 for i in range(int(shm.n_inputs)) if shm.in_active[i]),
        "active_outputs": sum(1 for i in range(int(shm.n_outputs)) if shm.out_active[i]),
        "sample_type": _SAMPLE_NAMES.get(int(shm.sample_type), str(int(shm.sample_type))),
        "buffer_mode": "host" if shm.buffer_mode == lib.ASIOJACK_BUFFER_HOST else "jack",
        "buffer_frames": int(shm.buffer_frames),
        "jack_period": int(shm.jack_buffer_frames),
        "sample_rate": int(shm.sample_rate),
        "latency": {"input": int(shm.input_latency), "output": int(shm.output_latency)},
        "deadline": int(shm.deadline_permille) / 1000,
        "cycles": counters.get("cycles", 0), "completed": counters.get("completed", 0),
        "misses": counters.get("misses", 0), "late": counters.get("late", 0),
        "skipped": counters.get("skipped", 0),
        "xruns": counters.get("jack_xruns", 0) if xruns_reported else None,
        "wait_us": _percentiles(shm.wait_histogram, int(shm.max_wait_ns)),
        "rt_priority": {"jack": int(shm.jack_rt_priority), "driver": int(shm.peer_rt_priority)},
        # -1: not pinned (one CPU, same_cpu = false, or refused)
        "cpu": {"jack": session.cpu, "driver": int(shm.peer_cpu)},
        "dsp_load": dsp_load(client) if client is not None else None,
        "channels": {"inputs": _channels(session, client, False, running),
                     "outputs": _channels(session, client, True, running)},
    }


def collect(server: dict[str, Any], programs: list[tuple[Session, str, int, int]],
            probe: JackProbe) -> dict[str, Any]:
    """The whole status document; ``programs`` holds (session, exe, pid, bits).

    Runs on the server's JACK worker: it asks libjack for loads and
    connections, which may block.
    """
    library = jack_library()
    pipewire = is_pipewire(library)
    jack_facts: dict[str, Any] = {
        "server_name": os.environ.get("JACK_DEFAULT_SERVER") or "default",
        "library": library, "pipewire": pipewire, "xruns_reported": not pipewire,
    }
    listed = [program_status(s, exe, pid, bits, not pipewire) for s, exe, pid, bits in programs]
    live = [s for s, *_ in programs if s.client is not None and not s.jack_gone]
    if live:
        client: Any = live[0].client
        jack_facts.update(sample_rate=client.samplerate, period=client.blocksize,
                          dsp_load=dsp_load(client))
    else:
        jack_facts.update(probe.facts())
        # The probe may have been the first to load libjack.
        jack_facts["library"] = library = jack_library() or library
        jack_facts["pipewire"] = is_pipewire(library)
        jack_facts["xruns_reported"] = not jack_facts["pipewire"]
    return {"status_version": lib.ASIOJACK_STATUS_VERSION, "server": server,
            "jack": jack_facts, "programs": listed}


def encode(document: dict[str, Any]) -> bytes:
    """A framed STATUS_REPLY carrying ``document``."""
    import json

    from pyjack_side.protocol import new, pack

    body = json.dumps(document, separators=(",", ":")).encode()
    head = new("struct asiojack_msg_status_reply",
               status_version=lib.ASIOJACK_STATUS_VERSION, json_size=len(body))
    frame = pack(lib.ASIOJACK_MSG_STATUS_REPLY, head)
    # pack() sized the header for the struct alone: the JSON follows it.
    magic, msg_type, size, reserved = struct.unpack_from("<4I", frame)
    return struct.pack("<4I", magic, msg_type, size + len(body), reserved) + frame[16:] + body


# ----------------------------------------------------------- client side
class StatusClient:
    """A connection to the server that asks for status, once or repeatedly."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        """Connect to the control socket at ``path`` and say hello."""
        from pyjack_side.protocol import new, pack

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as err:
            self.sock.close()
            raise StatusError(f"no asiojack server answers on {path} ({err.strerror}); "
                              "it starts when a program opens the asiojack driver, "
                              "or run `asiojack serve`") from err
        self.sock.sendall(pack(lib.ASIOJACK_MSG_HELLO,
                               new("struct asiojack_msg_hello",
                                   protocol_version=lib.ASIOJACK_PROTOCOL_VERSION,
                                   pid=os.getpid(), bits=64, exe_name="asiojack status")))
        msg_type, payload = self._reply()
        if msg_type != lib.ASIOJACK_MSG_WELCOME:
            raise StatusError(self._words(msg_type, payload))

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise StatusError("the asiojack server closed the connection")
            data += chunk
        return data

    def _reply(self) -> tuple[int, bytes]:
        magic, msg_type, size, _ = struct.unpack("<4I", self._recv(16))
        if magic != lib.ASIOJACK_MSG_MAGIC:
            raise StatusError("the socket's answer is not asiojack's")
        if size > 64 * 1024 * 1024:
            raise StatusError(f"a status reply of {size} bytes is not believable")
        return msg_type, self._recv(size)

    @staticmethod
    def _words(msg_type: int, payload: bytes) -> str:
        if msg_type == lib.ASIOJACK_MSG_ERROR and \
                len(payload) == ffi.sizeof("struct asiojack_msg_error"):
            err = ffi.from_buffer("struct asiojack_msg_error *", payload)
            message: bytes = ffi.string(err.message)
            return "asiojack server: " + message.decode("utf-8", "replace")
        return f"unexpected reply type {msg_type} from the asiojack server"

    def status(self) -> dict[str, Any]:
        """One status document."""
        import json

        from pyjack_side.protocol import pack

        self.sock.sendall(pack(lib.ASIOJACK_MSG_STATUS))
        msg_type, payload = self._reply()
        if msg_type != lib.ASIOJACK_MSG_STATUS_REPLY:
            raise StatusError(self._words(msg_type, payload))
        head_size = ffi.sizeof("struct asiojack_msg_status_reply")
        version, size = struct.unpack_from("<2I", payload)
        if version != lib.ASIOJACK_STATUS_VERSION or size != len(payload) - head_size:
            raise StatusError(f"status version {version} ({size} bytes) is not the "
                              f"{lib.ASIOJACK_STATUS_VERSION} this asiojack reads")
        document: dict[str, Any] = json.loads(payload[head_size:])
        return document

    def close(self) -> None:
        """Hang up."""
        self.sock.close()


def query(path: Path) -> dict[str, Any]:
    """Ask the server at ``path`` for its status once."""
    client = StatusClient(path)
    try:
        return client.status()
    finally:
        client.close()


def with_siblings(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """``doc`` with the status of every sibling server beside ``path``.

    A server serves the programs of one JACK server; programs of another one
    are served by a sibling it started in the same runtime directory
    (``jack-<digest>.sock``).  Their documents go under
    ``"siblings"``; a socket that does not answer (a sibling that exited) is
    left out.
    """
    siblings = []
    for sock in sorted(path.parent.glob("jack-*.sock")):
        try:
            siblings.append(query(sock))
        except (StatusError, OSError):
            continue
    return dict(doc, siblings=siblings)


# -------------------------------------------------------------- drawing
def meter_bar(peak: float | None, width: int = 20) -> str:
    """A text meter from -60 to 0 dBFS; ``!`` marks a clip."""
    if peak is None:
        return " " * (width + 2)
    db = 20 * math.log10(peak) if peak > 0 else METER_FLOOR_DB
    filled = round(width * (max(METER_FLOOR_DB, min(0.0, db)) - METER_FLOOR_DB)
                   / -METER_FLOOR_DB)
    return "[" + "#" * filled + "-" * (width - filled) + ("!" if peak >= 1.0 else "]")


def _level(channel: dict[str, Any]) -> str:
    db = channel["peak_db"]
    words = "  -inf dBFS" if db is None else f"{db:6.1f} dBFS"
    if channel["clip"]:
        words += "  CLIP"
    elif channel["clips"]:
        words += f"  clipped {channel['clips']}x"
    return words


def render(doc: dict[str, Any]) -> str:
    """The status document as a musician reads it."""
    server, jackd = doc["server"], doc["jack"]
    lines = [f"asiojack {server['version']} (protocol {server['protocol']}), server pid "
             f"{server['pid']}, up {server['uptime_s']:.0f} s, config {server['config']}"]
    if "error" in jackd:
        lines.append(f"JACK '{jackd['server_name']}': {jackd['error']}")
    else:
        load = jackd.get("dsp_load")
        lines.append(f"JACK '{jackd['server_name']}': {jackd['sample_rate']} Hz, period "
                     f"{jackd['period']} frames "
                     f"({1000 * jackd['period'] / jackd['sample_rate']:.2f} ms), DSP load "
                     + ("?" if load is None else f"{load:.1f} %")
                     + (", PipeWire's libjack" if jackd.get("pipewire") else ""))
    if not doc["programs"]:
        lines.append("no program has the asiojack driver open")
    for prog in doc["programs"]:
        lines.append("")
        if prog["state"] == "closed":
            lines.append(f"{prog['exe']} (pid {prog['pid']}): closing")
            continue
        xruns = "not reported by PipeWire's libjack" if prog["xruns"] is None \
            else str(prog["xruns"])
        wait = prog["wait_us"]
        waits = "no cycles yet" if wait["p50"] is None else \
            f"p50 {wait['p50']} us, p99 {wait['p99']} us, max {wait['max']} us"
        lines += [
            f"{prog['exe']} (pid {prog['pid']}, {prog['bits']}-bit) as JACK client "
            f"'{prog['client']}': {prog['state']}",
            f"  channels {prog['active_inputs']}/{prog['inputs']} in, "
            f"{prog['active_outputs']}/{prog['outputs']} out active; {prog['sample_type']}, "
            f"buffer {prog['buffer_frames'] or '-'} frames ({prog['buffer_mode']} decides), "
            f"latency in {prog['latency']['input']} / out {prog['latency']['output']} frames",
            f"  cycles {prog['cycles']}, deadline misses {prog['misses']}, late completions "
            f"{prog['late']}, JACK xruns {xruns}",
            f"  engine wait {waits}",
        ]
        for kind in ("inputs", "outputs"):
            for ch in prog["channels"][kind]:
                if not ch["active"] and not ch["connections"]:
                    continue
                link = ("<- " if kind == "inputs" else "-> ") + (
                    ", ".join(ch["connections"]) or "(not connected)")
                label = f"{'in ' if kind == 'inputs' else 'out'} {ch['name']}"
                if ch["active"] and ch["peak"] is not None:
                    lines.append(f"  {label:<18} {meter_bar(ch['peak'])} {_level(ch)}  {link}")
                else:
                    state = "active" if ch["active"] else "inactive"
                    lines.append(f"  {label:<18} {'(' + state + ')':<22} {'':>11}  {link}")
    text = "\n".join(lines) + "\n"
    for sibling in doc.get("siblings", []):
        text += "\n" + render(sibling)
    return text


def run(path: Path, as_json: bool, watch: bool) -> int:
    """``asiojack status``: print once, or redraw until Ctrl-C with ``watch``."""
    import json

    try:
        client = StatusClient(path)
    except StatusError as err:
        print(f"asiojack status: {err}", file=sys.stderr)
        return 1
    tty = sys.stdout.isatty()
    if watch and tty:
        sys.stdout.write("\x1b[2J")  # a clean screen to redraw on
    try:
        while True:
            doc = with_siblings(client.status(), path)
            text = json.dumps(doc, indent=2) + "\n" if as_json else render(doc)
            if watch and tty:
                # Home, draw, clear what the last frame left below.
                sys.stdout.write("\x1b[H" + text.replace("\n", "\x1b[K\n") + "\x1b[J")
            else:
                sys.stdout.write(text)
            sys.stdout.flush()
            if not watch:
                return 0
            time.sleep(WATCH_INTERVAL)
            if not tty:
                sys.stdout.write("\n")
    except KeyboardInterrupt:
        return 0
    except (StatusError, OSError) as err:
        print(f"asiojack status: {err}", file=sys.stderr)
        return 1
    finally:
        client.close()


__all__ = ["StatusError", "StatusClient", "JackProbe", "collect", "program_status", "encode",
           "query", "with_siblings", "render", "meter_bar", "jack_library", "is_pipewire", "run"]
