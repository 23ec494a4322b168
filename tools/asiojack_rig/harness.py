# SPDX-License-Identifier: LGPL-2.1-or-later
"""Real parts for tests and benchmarks: a private jackd, the asiojack server, the C peer.

Nothing is mocked.  Every jackd gets a private server name, every asiojack
server a private runtime directory, so neither tests nor benchmarks see or
disturb a JACK server or asiojack server the user runs.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import jack

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "bridge"
_names = itertools.count(1)
T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str,
             interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def terminate(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float) -> None:
    """SIGTERM ``proc`` and reap it; SIGKILL it if it has not exited after ``timeout`` s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Jackd:
    """A running private jackd with the dummy driver."""

    name: str
    frames: int
    rate: int
    proc: subprocess.Popen[bytes]
    log: Path
    name_lock: int = -1   # flock'd file that reserves the name on this machine
    sync: bool = False    # started with -S: clients run synchronously

    def client(self, name: str) -> jack.Client:
        """A JACK client of the test itself on this server."""
        return jack.Client(name, servername=self.name, no_start_server=True)

    def stop(self) -> None:
        """Stop jackd (terminate, then kill if it hangs)."""
        # A clean exit unregisters the server name; a killed jackd leaves
        # its slot in JACK's registry taken (see below).
        terminate(self.proc, 20)
        _names_in_use.discard(self.name)
        if self.name_lock >= 0:
            os.close(self.name_lock)  # releases the flock
            self.name_lock = -1

    def halt(self) -> None:
        """Stop jackd but keep its name reserved, for :meth:`restart` (JACK gone, then back).

        Between a :meth:`stop` and a new start under the name, another test
        run on the machine could take the name's lock and start a jackd of
        that name: the restart would then fail, or a client of this run
        would meet that run's server.
        """
        terminate(self.proc, 20)

    def restart(self) -> Jackd:
        """A new jackd under this halted one's name and settings; it takes over the name."""
        new = start_jackd(self.log.parent, self.frames, self.rate, name=self.name, sync=self.sync)
        new.name_lock, self.name_lock = self.name_lock, -1
        return new


# jackd2's shared registry has 8 server slots, and the slot of a jackd that
# died uncleanly is only reclaimed by a server of the same name.  So the
# tests draw names from a small pool instead of making up new ones: a
# crashed test's slot is taken back by the next server of that name.
#
# Test runs that overlap on one machine (several checkouts) would otherwise
# race for a name: a probe can reach the other run's jackd of that name
# before this run's jackd has failed.  A flock per name, held for the
# jackd's life, reserves it machine-wide.
SERVER_NAMES = [f"asiojack-test-{i}" for i in range(6)]
_names_in_use: set[str] = set()
NAME_LOCK_DIR = Path("/tmp/asiojack-test-jackd-names")


def _reserve_name(name: str) -> int:
    """Take a flock on the name's lock file; -1 if another process holds it."""
    import fcntl

    NAME_LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(NAME_LOCK_DIR / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return -1
    return fd


def start_jackd(tmp: Path, frames: int, rate: int = 48000, realtime: bool = False,
                name: str | None = None, sync: bool = False) -> Jackd:
    """Start ``jackd -d dummy`` under a private name and wait until it answers.

    ``sync`` starts it with ``-S``: in the default (asynchronous) mode the
    dummy's capture latency is one period and its playback latency two; in
    synchronous mode both are one.
    """
    if name is not None:
        return _start_jackd(tmp, frames, rate, realtime, name, sync)
    for candidate in SERVER_NAMES:
        if candidate in _names_in_use:
            continue
        lock = _reserve_name(candidate)
        if lock < 0:
            continue  # another test run on this machine owns it
        if _name_answers(candidate):
            # Nobody holds the lock, yet a server answers: a jackd outside
            # the tests, or one a killed run left behind.  Our own jackd
            # would fail on the name while the probe below talked to that
            # one.
            os.close(lock)
            continue
        try:
            server = _start_jackd(tmp, frames, rate, realtime, candidate, sync)
        except NameTaken:
            os.close(lock)
            continue  # a jackd outside the tests has that name
        except BaseException:
            os.close(lock)
            raise
        server.name_lock = lock
        return server
    raise AssertionError(f"all of {SERVER_NAMES} are in use")


def _name_answers(name: str) -> bool:
    """Whether a JACK server runs under ``name`` now."""
    try:
        jack.Client("asiojack-name-probe", servername=name, no_start_server=True).close()
    except jack.JackError:
        return False
    return True


class NameTaken(Exception):
    """jackd refused the name: a live server has it."""


def _start_jackd(tmp: Path, frames: int, rate: int, realtime: bool, name: str,
                 sync: bool = False) -> Jackd:
    log = tmp / f"{name}-{next(_names)}.log"
    # setpriv --pdeathsig: jackd gets SIGTERM when the thread that started
    # it ends (the test process killed, a timeout), so a killed run leaves
    # no jackd holding a name of the pool.  Start it from the main thread.
    cmd = ["setpriv", "--pdeathsig", "TERM",
           "jackd", "-R" if realtime else "--no-realtime", *(["-S"] if sync else []),
           "-n", name, "-d", "dummy",
           "-r", str(rate), "-p", str(frames), "-C", "2", "-P", "2"]
    proc = subprocess.Popen(cmd, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = Jackd(name, frames, rate, proc, log, sync=sync)
    _names_in_use.add(name)

    def answers() -> bool:
        if proc.poll() is not None:
            _names_in_use.discard(name)
            text = log.read_text()
            if "server already active" in text:
                raise NameTaken(name)
            raise AssertionError(f"jackd exited: {text}")
        try:
            c = server.client("probe")
        except jack.JackError:
            return False
        c.close()
        # The answer must be our jackd's, not one that took the name since.
        time.sleep(0.05)
        if proc.poll() is not None:
            return answers()
        return True

    wait_for(answers, 15, "jackd to answer")
    return server


@dataclass
class AsiojackServer:
    """A running ``asiojack serve`` bound to one jackd."""

    jackd: Jackd
    runtime: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log: Path
    config: Path
    peers: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def socket(self) -> Path:
        """The server's control socket."""
        return self.runtime / "control.sock"

    def log_text(self) -> str:
        """What the server logged so far."""
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """Kill the peers started against this server, then stop the server."""
        for peer in self.peers:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
        terminate(self.proc, 10)


def session_ports(jackd: Jackd, client: str) -> list[str]:
    """The full names of JACK client ``client``'s ports on ``jackd``."""
    watcher = jackd.client("watch")
    try:
        return [p.name for p in watcher.get_ports(f"{client}:")]
    finally:
        watcher.close()


def jack_latency(jackd: Jackd, port: str, kind: str) -> int:
    """The max of a port's JACK latency range (``kind`` capture/playback), per ``jack_lsp -l``."""
    import re

    out = subprocess.run(["jack_lsp", "-l", "-s", jackd.name, port], capture_output=True,
                         text=True, timeout=10).stdout
    m = re.search(rf"port {kind} latency = \[ (\d+) (\d+) \]", out)
    assert m, out
    return int(m.group(2))


def server_env(jackd: Jackd, runtime: Path, config: Path) -> dict[str, str]:
    """The environment of a server bound to ``jackd`` with its own dirs."""
    env = dict(os.environ)
    env.update(JACK_DEFAULT_SERVER=jackd.name, ASIOJACK_RUNTIME_DIR=str(runtime),
               ASIOJACK_CONFIG=str(config), ASIOJACK_STATE_DIR=str(runtime.parent / "state"),
               PYTHONUNBUFFERED="1")
    return env


def start_server(tmp: Path, jackd: Jackd, config_text: str = "",
                 extra_env: dict[str, str] | None = None,
                 wrapper: list[str] | None = None) -> AsiojackServer:
    """Start the asiojack server with a private runtime dir and config file.

    ``extra_env`` is added to its environment (e.g. to load another libjack);
    ``wrapper`` runs it under another command (e.g. ``prlimit ...``).
    """
    base = tmp / f"asiojack-{next(_names)}"
    base.mkdir()
    runtime = base / "run"
    config = base / "config.toml"
    config.write_text(config_text or "inputs = 4\noutputs = 4\ndeadline = 0.9\n")
    env = server_env(jackd, runtime, config)
    env.update(extra_env or {})
    # Where an auto-started server logs, so `asiojack doctor` finds it too.
    runtime.mkdir(mode=0o700)
    log = runtime / "server.log"
    # cwd away from the source tree, which would shadow the installed package.
    proc = subprocess.Popen([*(wrapper or []), sys.executable, "-m", "pyjack_side", "-v",
                             "serve"], cwd=base,
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    server = AsiojackServer(jackd, runtime, env, proc, log, config)

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"asiojack serve exited: {log.read_text()}")
        return server.socket.exists()

    wait_for(listening, 15, "the asiojack server socket")
    return server



def build_peer(out: Path, program: str = "peer", *defines: str) -> Path:
    """Build a C test program (tests/peer/<program>.c) with the bridge's client sources."""
    cc = os.environ.get("CC", "cc")
    sources = [ROOT / f"tests/peer/{program}.c"] + [BRIDGE / f for f in
                                                     ("client/client.c", "shm.c",
                                                      "client/autostart.c")]
    subprocess.run([cc, "-std=c11", "-D_GNU_SOURCE", *defines, "-O2", "-Wall", "-Wextra",
                    "-Werror", f"-I{BRIDGE}", f"-I{BRIDGE / 'client'}", *map(str, sources),
                    "-o", str(out)], check=True)
    return out


@dataclass
class Peer:
    """A running test peer and what it said."""

    proc: subprocess.Popen[str]
    client_name: str
    shm_fd: int      # the peer's descriptor of its segment (a memfd)

    def segment(self) -> Segment:
        """The peer's segment, mapped through its descriptor in /proc."""
        return Segment(f"/proc/{self.proc.pid}/fd/{self.shm_fd}")

    def segment_name(self) -> str:
        """The memfd name of the peer's segment (``asiojack-session-<n>``), as maps show it."""
        link = os.readlink(f"/proc/{self.proc.pid}/fd/{self.shm_fd}")
        return link.removeprefix("/memfd:").removesuffix(" (deleted)")

    def finish(self, timeout: float = 30) -> dict[str, object]:
        """Wait for the peer to exit; its last JSON line plus ``returncode``."""
        import json

        out, _ = self.proc.communicate(timeout=timeout)
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert lines, f"peer printed no result: {out!r}"
        result: dict[str, object] = json.loads(lines[-1])
        result["returncode"] = self.proc.returncode
        return result


def start_peer(peer_bin: Path, server: AsiojackServer, *args: str) -> Peer:
    """Start a peer and wait until it streams ("READY" line)."""
    proc = subprocess.Popen([str(peer_bin), *args], env=server.env, stdout=subprocess.PIPE,
                            text=True)
    server.peers.append(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        rest = proc.stdout.read() if proc.poll() is not None else ""
        raise AssertionError(f"peer did not start: {line!r}{rest!r}\n{server.log_text()}")
    _, client_name, shm_fd = line.split()
    return Peer(proc, client_name, int(shm_fd))


def _children(pid: int) -> list[int]:
    """The pids of process ``pid``'s children (from each /proc/<n>/stat's ppid)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue   # gone meanwhile
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def server_segments(server: AsiojackServer) -> set[str]:
    """Names of the session segments (memfds) the server has mapped now.

    A session for another JACK server than the asiojack server's own lives
    in a sibling server the server started (REDIRECT): its child, whose
    mappings count too.
    """
    names: set[str] = set()
    for pid in [server.proc.pid, *_children(server.proc.pid)]:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue   # a sibling that just exited
        names |= {line.split("/memfd:", 1)[1].split()[0]
                  for line in maps.splitlines() if "/memfd:asiojack-session-" in line}
    return names


def server_segment_files(pid: int) -> dict[str, str]:
    """The session segments process ``pid`` has mapped: memfd name -> a path to open it.

    The path is the mapping's entry in /proc/<pid>/map_files (opening one
    needs CAP_SYS_ADMIN: root, as in CI), for a test that has no descriptor
    of the segment, e.g. one a Windows host under Wine holds.
    """
    found: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        if "/memfd:asiojack-session-" not in line:
            continue
        name = line.split("/memfd:", 1)[1].split()[0]
        found.setdefault(name, f"/proc/{pid}/map_files/{line.split()[0]}")
    return found


class Segment:
    """Read-only view of a session's shared memory, for its counters.

    Segments are memfds with no name: a test maps one through a descriptor
    it holds (``fd``, e.g. from :class:`rawclient.RawClient`) or through a
    driver process's descriptor in /proc (``path``).
    """

    def __init__(self, path: str | None = None, fd: int = -1) -> None:
        """Map the segment read-only, from ``fd`` (left open) or ``path``."""
        import mmap

        from pyjack_side.abi import ffi

        own = fd < 0
        if own:
            assert path is not None
            fd = os.open(path, os.O_RDONLY)
        try:
            self._map = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
        finally:
            if own:
                os.close(fd)
        self.shm = ffi.from_buffer("struct asiojack_shm *", self._map)

    def __getattr__(self, name: str) -> int:
        """A counter or word of the segment, by its field name."""
        return int(getattr(self.shm, name))

    def wait_histogram(self) -> list[int]:
        """The engine's histogram of waits for the peer, per bucket."""
        return [int(v) for v in self.shm.wait_histogram]
