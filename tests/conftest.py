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
