# SPDX-License-Identifier: LGPL-2.1-or-later
"""The driver against a hostile host, and either side dying (issue 9, items 7 and 11).

Each misdeed is done by a MinGW-built host under Wine (tests/host/
hostilehost.c, resethost.c) against a real asiojack server and jackd.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from asiojack_rig.harness import AsiojackServer, Jackd, start_jackd, start_server, wait_for
from asiojack_rig.hostile import RESET_REQUEST, HostProcess, restart_jackd
from asiojack_rig.winehost import WinePrefix, wine_loader

CONFIG = "inputs = 2\noutputs = 2\ndeadline = 0.9\n"


@pytest.fixture
def server(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    s = start_server(tmp_path, jackd256, CONFIG)
    yield s
    s.stop()


def run_hostile(prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer,
                mode: str) -> list[dict[str, object]]:
    r = subprocess.run([wine_loader(), str(hosts["hostilehost"]), mode],
                       env=prefix.server_env(server), capture_output=True, text=True, timeout=120)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert events and "result" in events[-1], (r.returncode, r.stdout, r.stderr[-2000:])
    failed = [e for e in events if e.get("ok") is False]
    assert events[-1]["result"] == "ok" and r.returncode == 0, (events[-1], failed)
    return events


def test_class_factory_query_interface_counts_its_reference(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    events = run_hostile(prefix, hosts, server, "factory")
    assert any(e.get("check") == "cannot-unload-while-a-driver-lives" for e in events)


def test_channel_info_refuses_an_is_input_that_is_neither_true_nor_false(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    events = run_hostile(prefix, hosts, server, "is-input")
    assert len([e for e in events if e.get("check") == "odd-is-input-refused"]) == 3


def test_stop_inside_the_callback_while_another_thread_stops_does_not_deadlock(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    events = run_hostile(prefix, hosts, server, "stop-in-callback")
    assert any(e.get("check") == "restream" and e["ok"] for e in events)


def test_release_inside_the_callback_frees_the_driver_after_it(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    run_hostile(prefix, hosts, server, "release-in-callback")
    # The session was closed all the same.
    wait_for(lambda: "closing session" in server.log_text(), 10, "the session to close")


def streaming(host: HostProcess, after: int = 0, timeout: float = 30) -> None:
    """Wait until the host started (again) and its callbacks come."""
    host.wait_event("started", timeout, after, code=0)
    host.wait(lambda e: e.get("event") == "tick" and e["callbacks"] > 10, 10, "callbacks", after)


def servers_of(runtime: Path) -> list[int]:
    """Pids of asiojack servers started for this runtime dir (the driver starts them)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"pyjack_side" in cmdline and b"serve" in cmdline and \
                f"ASIOJACK_RUNTIME_DIR={runtime}".encode() in environ:
            pids.append(int(proc.name))
    return pids


def test_server_killed_mid_stream_resets_the_host_onto_a_new_server(
        prefix: WinePrefix, hosts: dict[str, Path], jackd256: Jackd, tmp_path: Path) -> None:
    server = start_server(tmp_path, jackd256, CONFIG)
    env = prefix.server_env(server)
    env.update(ASIOJACK_SERVER=f"{sys.executable} -m pyjack_side",
               ASIOJACK_STATE_DIR=str(tmp_path / "state"))
    host = HostProcess(hosts["resethost"], ["--commands", "--reopen-seconds", "30"], env)
    try:
        streaming(host)
        n = len(host.snapshot())
        server.proc.kill()          # kill -9: no goodbye on the socket, no event in the segment
        server.proc.wait()
        reset = host.wait_event("reset", 15, n)
        assert RESET_REQUEST in [s for s, _, _ in host.messages()]
        # The host re-created its buffers; the driver opened them on a new
        # server it started itself, and they stream.
        streaming(host, after=n)
        new = servers_of(server.runtime)
        assert new and server.proc.pid not in new, new
    finally:
        result = host.finish()
        for pid in servers_of(server.runtime):
            os.kill(pid, signal.SIGTERM)
        server.stop()
    assert result["result"] == "ok", host.tail()
    stopped = [e for e in host.snapshot()[n:] if e.get("event") == "stopped"]
    assert stopped and stopped[0]["stop"] == 0 and stopped[0]["dispose"] == 0, stopped
    assert "server" in stopped[0]["error"] or reset["error"] == "", (stopped, reset)


def test_jack_gone_and_back_recovers_by_recreating_buffers_on_the_same_driver(
        prefix: WinePrefix, hosts: dict[str, Path], tmp_path: Path) -> None:
    jackd = start_jackd(tmp_path, 256)
    again: Jackd | None = None
    server = start_server(tmp_path, jackd, CONFIG)
    host = HostProcess(hosts["resethost"],
                       ["--commands", "--keep-driver", "--reopen-seconds", "30"],
                       prefix.server_env(server))
    try:
        streaming(host)
        jackd.halt()
        host.wait_event("reset", 15)
        time.sleep(1.0)             # createBuffers is refused while JACK is away
        n = len(host.snapshot())
        again = restart_jackd(jackd)
        streaming(host, after=n)
    finally:
        result = host.finish()
        server.stop()
        (again or jackd).stop()
    assert result["result"] == "ok", host.tail()
    creates = host.of("create")
    assert creates[-1]["code"] == 0
    assert not host.of("released"), "the host never released the driver"


def test_a_stalled_host_is_told_overload_and_streams_on(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    run_hostile(prefix, hosts, server, "stall")
    wait_for(lambda: "closing session" in server.log_text(), 10, "the session to close")
    closing = [line for line in server.log_text().splitlines() if "closing session" in line]
    counters = json.loads(closing[-1].split("closing session", 1)[1].split(" ", 2)[2])
    assert counters["stalls"] == 1 and counters["unwaited"] > 50, counters


def test_queries_from_another_thread_survive_resets_that_reopen_the_session(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    host = HostProcess(hosts["hostilehost"], ["query-race"], prefix.server_env(server))
    try:
        host.wait(lambda e: e.get("event") == "racing", 30, "the race to begin")
        # Each edit changes the channel count: the server asks the host to
        # reset, and its disposeBuffers re-opens the session on a new segment.
        for i in range(40):
            if host.proc.poll() is not None:
                break
            server.config.write_text(f"inputs = {2 + i % 2}\noutputs = 2\n")
            time.sleep(0.6)
        host.proc.wait(60)
    finally:
        host.kill()
    results = [e for e in host.snapshot() if "result" in e]
    assert results and results[-1]["result"] == "ok", host.tail()
    assert [e for e in host.of("queries") if e["count"] > 0], host.tail()
