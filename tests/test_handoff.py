# SPDX-License-Identifier: LGPL-2.1-or-later
"""The hand-off between the engine and the driver costs no more system
calls than it must (issue 10).

Each cycle the engine wakes the driver's thread and waits for it.  It may
poll for the driver's completion for a few microseconds before it sleeps
(the spin); while it polls, the driver must not pay a FUTEX_WAKE, and
when it sleeps, the driver must wake it, or the cycle is lost.  The
engine counts its spins and sleeps in the segment, the C peer counts the
wakes it sent; real jackd, real server, the peer as the driver.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Jackd, start_jackd, start_peer, start_server

from asiojack_rig.harness import AsiojackServer, Peer


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
    """A host whose buffer switch takes longer than the spin: after four
    fruitless polls the engine rests for 512 cycles, so about 560 cycles
    cost at most eight polls, not one per cycle."""
    server = start_server(tmp_path, jackd256, extra_env={"ASIOJACK_SPIN_US": "20"})
    try:
        # 1 ms of work per buffer switch, far beyond the 20 us spin.
        c, _ = stream(peer_bin, server, "--post-work-us", "1000")
    finally:
        server.stop()
    assert c["spin_missed"] <= 4 * (c["cycles"] // 512 + 1), c
    assert c["spin_caught"] <= c["spin_missed"], c


@pytest.mark.parametrize("realtime", [True, False], ids=["jack-rt", "jack-not-rt"])
def test_the_engine_spins_by_default_only_where_it_can_pay(realtime: bool, rt_jackd: Jackd,
                                                            jackd256: Jackd, peer_bin: Path,
                                                            tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """No ASIOJACK_SPIN_US: the engine polls when JACK is real-time and the
    machine has more than one CPU (the driver's thread, just below JACK's,
    has a core while the engine polls), never otherwise."""
    monkeypatch.delenv("ASIOJACK_SPIN_US", raising=False)
    server = start_server(tmp_path, rt_jackd if realtime else jackd256)
    try:
        c, _ = stream(peer_bin, server)
    finally:
        server.stop()
    if realtime and (os.cpu_count() or 1) > 1:
        assert c["spin_caught"] + c["spin_missed"] > 0, c
    else:
        assert c["spin_caught"] == 0 and c["spin_missed"] == 0, c
