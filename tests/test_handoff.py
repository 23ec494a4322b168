# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hand-off between the engine and the driver costs no more system
calls than it must, and stays on one CPU (issue 10).

Each cycle the engine wakes the driver's thread and waits for it.  It may
poll for the driver's completion for a few microseconds before it sleeps
(the spin); while it polls, the driver must not pay a FUTEX_WAKE, and
when it sleeps, the driver must wake it, or the cycle is lost.  The
engine counts its spins and sleeps in the segment, the C peer counts the
wakes it sent; real jackd, real server, the peer as the driver.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Jackd, start_jackd, start_peer, start_server, wait_for

from asiojack_rig.harness import AsiojackServer, Peer
from asiojack_rig.winehost import WinePrefix, parse_host_output, read_until_started


def stream(peer_bin: Path, server: AsiojackServer, *args: str) -> tuple[dict[str, int],
                                                                         dict[str, object]]:
    """Run the peer for 3 s; the engine's hand-off counters and its result."""
    peer: Peer = start_peer(peer_bin, server, "--seconds", "3", "--exe", "Handoff.exe", *args)
    seg = peer.segment()
    result = peer.finish()
    counters = {name: getattr(seg, name) for name in
                ("cycles", "completed", "misses", "engine_sleeps", "spin_caught",
                 "spin_missed")}
    counters["done_wakes"] = int(result["done_wakes"])  # type: ignore[call-overload]
    print(counters)
    assert result["returncode"] == 0 and counters["cycles"] > 300, (result, counters)
    return counters, result


@pytest.fixture(scope="module")
def rt_jackd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jackd]:
    j = start_jackd(tmp_path_factory.mktemp("rtjackd"), 256, realtime=True)
    yield j
    j.stop()


def test_the_driver_wakes_the_engine_only_when_it_sleeps(jackd256: Jackd, peer_bin: Path,
                                                         tmp_path: Path) -> None:
    """With a spin the engine mostly sees the cycle done before it sleeps,
    and then the driver sends no wake-up: its FUTEX_WAKEs never exceed the
    cycles the spin did not catch.  Before, it sent one every cycle."""
    server = start_server(tmp_path, jackd256, extra_env={"ASIOJACK_SPIN_US": "200"})
    try:
        c, _ = stream(peer_bin, server)
    finally:
        server.stop()
    assert c["spin_caught"] >= c["cycles"] // 10, c
    # A wake-up only for a cycle the engine slept on (late completions of
    # an earlier cycle, at most one per miss, may wake it too).
    assert c["done_wakes"] <= c["cycles"] - c["spin_caught"] + c["misses"] + 2, c
    assert c["spin_caught"] + c["engine_sleeps"] <= c["cycles"], c


def test_without_a_spin_every_sleep_gets_its_wake_up(jackd256: Jackd, peer_bin: Path,
                                                     tmp_path: Path) -> None:
    """ASIOJACK_SPIN_US=0: no poll; the engine sleeps on (nearly) every
    cycle and the driver wakes it each time, and no cycle is lost to a
    missing wake-up: the peer finished them all in time."""
    server = start_server(tmp_path, jackd256, extra_env={"ASIOJACK_SPIN_US": "0"})
    try:
        c, _ = stream(peer_bin, server)
    finally:
        server.stop()
    assert c["spin_caught"] == 0 and c["spin_missed"] == 0, c
    assert c["engine_sleeps"] >= c["cycles"] // 2, c
    assert c["done_wakes"] >= c["engine_sleeps"] - c["misses"], c
    # A lost wake-up would leave the engine asleep until its deadline,
    # and a slow machine misses a few cycles anyway: the driver finished
    # nearly all in time.
    assert c["completed"] >= 0.9 * c["cycles"], c


def test_a_slow_host_is_not_polled_for(jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    """A host whose buffer switch takes longer than the spin: after about
    four fruitless polls (a rare catch buys more) the engine rests for 512
    cycles, so about 560 cycles cost a handful of polls, not one per
    cycle."""
    server = start_server(tmp_path, jackd256, extra_env={"ASIOJACK_SPIN_US": "20"})
    try:
        # 1 ms of work per buffer switch, far beyond the 20 us spin.
        c, _ = stream(peer_bin, server, "--post-work-us", "1000")
    finally:
        server.stop()
    assert c["spin_missed"] <= 16, c
    assert c["spin_caught"] <= c["spin_missed"], c


@pytest.mark.parametrize(("realtime", "same_cpu"), [(True, False), (True, True), (False, False)],
                         ids=["jack-rt", "jack-rt-same-cpu", "jack-not-rt"])
def test_the_engine_spins_by_default_only_where_it_can_pay(realtime: bool, same_cpu: bool,
                                                            rt_jackd: Jackd, jackd256: Jackd,
                                                            peer_bin: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """No ASIOJACK_SPIN_US: the engine polls when JACK is real-time, the
    machine has more than one CPU (the driver's thread, just below JACK's,
    has a core while the engine polls) and the two threads were not pinned
    to one CPU (there a poll would hold the CPU the driver needs); never
    otherwise."""
    monkeypatch.delenv("ASIOJACK_SPIN_US", raising=False)
    server = start_server(tmp_path, rt_jackd if realtime else jackd256,
                          f"same_cpu = {'true' if same_cpu else 'false'}\n")
    try:
        c, _ = stream(peer_bin, server)
    finally:
        server.stop()
    if realtime and not same_cpu and (os.cpu_count() or 1) > 1:
        assert c["spin_caught"] + c["spin_missed"] > 0, c
    else:
        assert c["spin_caught"] == 0 and c["spin_missed"] == 0, c


def pinned_threads(pid: int) -> dict[int, str]:
    """The threads of ``pid`` allowed on fewer CPUs than this test: tid -> CPU list."""
    everywhere = os.sched_getaffinity(0)
    pinned = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            allowed = os.sched_getaffinity(int(tid))
        except ProcessLookupError:
            continue  # the thread ended meanwhile
        if allowed != everywhere:
            pinned[int(tid)] = ",".join(map(str, sorted(allowed)))
    return pinned


@pytest.mark.parametrize("same_cpu", [True, False], ids=["same-cpu", "same-cpu-off"])
def test_the_driver_thread_runs_on_the_jack_threads_cpu(same_cpu: bool, prefix: WinePrefix,
                                                        jackd256: Jackd,
                                                        tmp_path: Path) -> None:
    """The server pins the session's JACK thread to one CPU (the last one
    for the first session) and the driver, under Wine, pins its callback thread
    to the same one: the kernel shows one pinned thread in each process,
    and status says so.  ``same_cpu = false`` pins nothing."""
    cpus = sorted(os.sched_getaffinity(0))
    server = start_server(tmp_path, jackd256, "inputs = 4\noutputs = 4\ndeadline = 0.9\n"
                          f"same_cpu = {'true' if same_cpu else 'false'}\n")
    try:
        host = prefix.popen_host("stream", "--device", "asiojack", "--seconds", "4",
                                 "--channels", "2", env=prefix.server_env(server))
        seen = read_until_started(host)
        assert host.poll() is None, (seen, host.communicate())
        # The callback thread pins itself when it starts, which may be just
        # after the host said it started.
        wait_for(lambda: not same_cpu or len(cpus) < 2 or pinned_threads(host.pid), 5,
                 "the driver's callback thread to pin itself")
        in_server, in_wine = pinned_threads(server.proc.pid), pinned_threads(host.pid)
        r = subprocess.run([sys.executable, "-m", "pyjack_side", "status", "--json"],
                           env=server.env, cwd=server.runtime.parent, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        [prog] = json.loads(r.stdout)["programs"]
        out, err = host.communicate(timeout=60)
        assert parse_host_output(host.returncode, out, err).result.get("result") == "ok"
    finally:
        server.stop()
    print(in_server, in_wine, prog["cpu"])
    if same_cpu and len(cpus) > 1:
        # Sessions take the CPUs from the last one down, one each in turn
        # (PortAudio opens the driver once to list it, then to stream).
        cpu = cpus[-1 - (prog["session_id"] - 1) % len(cpus)]
        assert prog["cpu"] == {"jack": cpu, "driver": cpu}, prog
        assert list(in_server.values()) == [str(cpu)], in_server
        assert list(in_wine.values()) == [str(cpu)], in_wine
    else:
        assert prog["cpu"] == {"jack": -1, "driver": -1}, prog
        assert in_server == {} and in_wine == {}, (in_server, in_wine)
