# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest fixtures over the real parts in asiojack_rig (tools/asiojack_rig/harness.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from asiojack_rig.harness import (  # noqa: F401  (re-exported for the test modules)
    BRIDGE,
    ROOT,
    AsiojackServer,
    Jackd,
    Peer,
    Segment,
    build_peer,
    server_segments,
    start_jackd,
    start_peer,
    start_server,
    wait_for,
)
from asiojack_rig.hostile import HostBuilds
from asiojack_rig.winehost import WinePrefix, make_prefix


@pytest.fixture(scope="session")
def peer_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The C test peer, built from tests/peer/peer.c and the bridge sources."""
    return build_peer(tmp_path_factory.mktemp("peer") / "peer")


@pytest.fixture(scope="module")
def jackd256(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jackd]:
    server = start_jackd(tmp_path_factory.mktemp("jackd"), 256)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def jackd64(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jackd]:
    server = start_jackd(tmp_path_factory.mktemp("jackd64"), 64)
    yield server
    server.stop()


@pytest.fixture
def asiojack(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    server = start_server(tmp_path, jackd256)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wine_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    """The run's one 64-bit Wine 8 prefix, asiojack registered (64- and 32-bit).

    A new prefix costs ~10 s of wineboot and the registration: every test
    that does not change the prefix in a way others would see uses this
    one (through :func:`prefix`).  Its wineserver runs until the end of
    the run.
    """
    prefix = make_prefix(tmp_path_factory.mktemp("wine"), persistent=True)
    yield prefix
    prefix.stop_wineserver()


@pytest.fixture
def prefix(wine_prefix: WinePrefix) -> WinePrefix:
    """The shared prefix (:func:`wine_prefix`), its wineserver running.

    A test that killed the prefix's wineserver (e.g. to start one under
    other limits) leaves none: the next test gets a persistent one again.
    """
    wine_prefix.keep_wineserver()
    return wine_prefix


@pytest.fixture(scope="session")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> HostBuilds:
    """Our Windows hosts (tests/host/*.c, MinGW), each built once a run: ``hosts["asiocheck"]``."""
    return HostBuilds(tmp_path_factory.mktemp("hosts"))
