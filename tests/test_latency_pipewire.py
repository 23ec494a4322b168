# SPDX-License-Identifier: LGPL-2.1-or-later
"""Latency truth on PipeWire's JACK library (issue 7).

A private headless PipeWire (its dummy driver, no devices); the asiojack
server runs on PipeWire's libjack (``LD_LIBRARY_PATH``, as ``pw-jack``
does), the C peer is the driver.  A JACK client of the test with latency of
its own (tests/latency_source.py) feeds the program and is fed by it: the
driver must read that client's latencies, and each side must see the other
side's through the program, which adds none.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import start_peer, start_server, wait_for
from pwjack import PW_JACK_LIB, PipeWire, start_pipewire

HERE = Path(__file__).resolve().parent


def latency(pw: PipeWire, port: str, kind: str) -> tuple[int, int]:
    """A port's latency range as ``jack_lsp -l`` prints it."""
    out = subprocess.run(["jack_lsp", "-l"], env=pw.env(), capture_output=True,
                         text=True, timeout=10).stdout
    m = re.search(rf"^{re.escape(port)}\n(?:\s+.*\n)*?\s+port {kind} latency = "
                  r"\[ (\d+) (\d+) \]", out, flags=re.M)
    assert m, out
    return int(m.group(1)), int(m.group(2))


@pytest.fixture
def pipewire(tmp_path: Path) -> Iterator[PipeWire]:
    if not Path(PW_JACK_LIB, "libjack.so.0").exists():
        # CI installs pipewire-jack (scripts/install-deps), so there this
        # can never be skipped.
        assert not os.environ.get("CI"), "pipewire-jack missing: PipeWire went unchecked"
        pytest.skip("pipewire-jack is not installed")
    pw = start_pipewire(tmp_path, 256)
    yield pw
    pw.stop()


def test_latencies_on_pipewire_are_its_own_and_propagate(
        pipewire: PipeWire, peer_bin: Path, tmp_path: Path) -> None:
    # The server loads PipeWire's libjack.
    server = start_server(tmp_path, pipewire, "inputs = 2\noutputs = 2\n",  # type: ignore[arg-type]
                          extra_env=pipewire.extra_env())
    source = None
    try:
        peer = start_peer(peer_bin, server, "--seconds", "10", "--exe", "Latent.exe")
        seg = peer.segment()
        source = subprocess.Popen([sys.executable, str(HERE / "latency_source.py"),
                                   "latent:in_1", "latent:out_1", "500", "700", "8"],
                                  env=pipewire.env(), stdout=subprocess.PIPE, text=True)
        assert source.stdout is not None
        assert source.stdout.readline().strip() == "READY"
        # The driver reads the source's figures, nothing added ...
        wait_for(lambda: (seg.input_latency, seg.output_latency) == (500, 700), 5,
                 f"the segment's latencies ({seg.input_latency}, {seg.output_latency})")
        # ... and the program passes them on: downstream of its outputs the
        # capture latency of its inputs, upstream of its inputs the playback
        # latency of its outputs (the widest range, as JACK's default does).
        wait_for(lambda: latency(pipewire, "latent:out_1", "capture")[1] == 500, 5,
                 "capture latency through the program")
        wait_for(lambda: latency(pipewire, "latent:in_1", "playback")[1] == 700, 5,
                 "playback latency through the program")
        assert latency(pipewire, "src:out", "playback")[1] == 700
        peer.finish()
    finally:
        if source is not None:
            source.kill()
            source.wait()
        server.stop()
