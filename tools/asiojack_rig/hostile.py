# SPDX-License-Identifier: LGPL-2.1-or-later
"""Our own ASIO hosts under Wine, for tests/test_asio_semantics.py.

- ``resethost.exe`` (tests/host/resethost.c) streams through IASIO directly
  and reacts to reset requests like a DAW; :class:`HostProcess` runs it,
  collects its JSON lines as they come and sends it commands on stdin.
- ``asiocheck.exe`` (tests/host/asiocheck.c) is the host-misuse checker.
- :func:`restart_jackd` brings a stopped private jackd back under its name.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asiojack_rig.harness import Jackd, wait_for
from asiojack_rig.winehost import ROOT, wine_loader

Event = dict[str, Any]

# asioMessage selectors and ASIO codes, as the host prints them
SELECTOR_SUPPORTED, RESET_REQUEST, BUFFER_SIZE_CHANGE, LATENCIES_CHANGED = 1, 3, 4, 6
ASE_OK, ASE_SUCCESS = 0, 0x3F4847A0
ASE_NOT_PRESENT, ASE_INVALID_PARAMETER, ASE_INVALID_MODE = -1000, -998, -997
SAMPLE_POSITION_VALID, SYSTEM_TIME_VALID, SAMPLE_RATE_VALID = 2, 1, 4
TC_VALID, TC_RUNNING = 1, 2


def build_host(name: str, out_dir: Path) -> Path:
    """Build tests/host/<name>.c with MinGW into ``out_dir``."""
    exe = out_dir / f"{name}.exe"
    subprocess.run(["x86_64-w64-mingw32-gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                    str(ROOT / "tests" / "host" / f"{name}.c"), "-o", str(exe), "-lole32"],
                   check=True)
    return exe


class HostBuilds(dict[str, Path]):
    """tests/host/<name>.c built on first use, once: ``builds["resethost"]``."""

    def __init__(self, out_dir: Path) -> None:
        """Build into ``out_dir``."""
        super().__init__()
        self.out_dir = out_dir

    def __missing__(self, name: str) -> Path:
        """Build ``name`` now: the first use of it."""
        exe = build_host(name, self.out_dir)
        self[name] = exe
        return exe


class HostProcess:
    """A Wine host printing JSON lines; they are parsed as they arrive."""

    def __init__(self, exe: Path, args: list[str], env: dict[str, str],
                 prefix_args: list[str] | None = None) -> None:
        """Start ``exe`` under Wine with ``args``; a thread collects its lines."""
        cmd = [wine_loader(), str(exe), *(prefix_args or []), *args]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.events: list[Event] = []
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._stderr: list[str] = []
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            with self._lock:
                self.lines.append(line)
                if line.startswith("{"):
                    try:
                        self.events.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr.append(line)

    def snapshot(self) -> list[Event]:
        """The events so far (a copy)."""
        with self._lock:
            return list(self.events)

    def of(self, kind: str) -> list[Event]:
        """The events of one kind so far."""
        return [e for e in self.snapshot() if e.get("event") == kind]

    def wait(self, predicate: Callable[[Event], bool], timeout: float, what: str,
             after: int = 0) -> Event:
        """The first event (from index ``after``) satisfying ``predicate``."""
        def find() -> Event | None:
            for e in self.snapshot()[after:]:
                if predicate(e):
                    return e
            if self.proc.poll() is not None:
                self._reader.join(2)
                for e in self.snapshot()[after:]:
                    if predicate(e):
                        return e
                raise AssertionError(f"host exited ({self.proc.returncode}) before {what}: "
                                     f"{self.tail()}")
            return None
        result = wait_for(find, timeout, what + f" (host said: {self.tail()})")
        assert result is not None  # wait_for returns only a true value
        return result

    def wait_event(self, kind: str, timeout: float, after: int = 0, **fields: Any) -> Event:
        """The first event of ``kind`` (from index ``after``) with these field values."""
        return self.wait(lambda e: e.get("event") == kind and
                         all(e.get(k) == v for k, v in fields.items()),
                         timeout, f"event {kind} {fields}", after)

    def command(self, line: str, timeout: float = 10) -> Event:
        """Send one stdin command and return the host's answer to it."""
        n = len(self.snapshot())
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        kind = "can" if line == "can" else "device" if line in ("buffer-size", "latencies") \
            else "command"
        return self.wait(lambda e: e.get("event") == kind and
                         (kind != "command" or e.get("command") == line),
                         timeout, f"answer to {line!r}", n)

    def finish(self, timeout: float = 60) -> Event:
        """Let the host end (closing stdin: "no more commands"); its result line."""
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout)
        self._reader.join(5)
        result = [e for e in self.snapshot() if "result" in e]
        assert result, f"no result line: {self.tail()}"
        return result[-1]

    def kill(self) -> None:
        """SIGKILL the host and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def tail(self, n: int = 12) -> str:
        """The host's last ``n`` output lines, for failure messages."""
        with self._lock:
            lines = self.lines[-n:]
        return "\n".join(lines) + ("\nstderr: " + "".join(self._stderr[-5:]) if self._stderr
                                   else "")

    def messages(self) -> list[tuple[int, int, str]]:
        """(selector, value, thread) of every asioMessage, in order."""
        return [(e["selector"], e["value"], e["thread"]) for e in self.of("message")
                if e["selector"] != SELECTOR_SUPPORTED]


def restart_jackd(old: Jackd) -> Jackd:
    """Start a dummy jackd under the name of ``old`` (halted: :meth:`Jackd.halt`) again."""
    return old.restart()


def jack_period(jackd: Jackd) -> int:
    """JACK's current period, as a JACK client sees it."""
    c = jackd.client("period")
    try:
        return int(c.blocksize)
    finally:
        c.close()


def sleep_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Poll ``predicate`` for up to ``timeout`` s; whether it came true."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False
