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
from conftest import Segment, start_peer, start_server, wait_for
from harness import Jackd

PW_JACK_LIB = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"
STOCK_CONF = Path("/usr/share/pipewire/pipewire.conf")
HERE = Path(__file__).resolve().parent


class PipeWire:
    """A private PipeWire whose JACK server name is its socket's."""

    def __init__(self, tmp: Path, quantum: int) -> None:
        """Start it at ``quantum`` frames and wait until JACK clients connect."""
        self.runtime = tmp / "pw-run"
        self.runtime.mkdir(mode=0o700)
        text = STOCK_CONF.read_text()
        # Inside a VM the stock file raises the minimum quantum to 1024.
        text = re.sub(r"\n\s*vm\.overrides\s*=\s*\{[^}]*\}", "", text)
        text = re.sub(r"^context\.properties\s*=\s*\{",
                      "context.properties = {\n    default.clock.rate = 48000\n"
                      f"    default.clock.quantum = {quantum}\n"
                      f"    default.clock.force-quantum = {quantum}\n"
                      "    support.dbus = false\n", text, count=1, flags=re.M)
        conf = tmp / "pipewire.conf"
        conf.write_text(text)
        self.log = tmp / "pipewire.log"
        self.env = dict(os.environ, LD_LIBRARY_PATH=PW_JACK_LIB,
                        XDG_RUNTIME_DIR=str(self.runtime),
                        PIPEWIRE_RUNTIME_DIR=str(self.runtime),
                        JACK_DEFAULT_SERVER="pipewire-0")
        self.proc = subprocess.Popen(["pipewire", "-c", str(conf)], env=self.env,
                                     stdout=self.log.open("wb"), stderr=subprocess.STDOUT)

        def answers() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"pipewire exited: {self.log.read_text()}")
            r = subprocess.run(["jack_bufsize"], env=self.env, capture_output=True, text=True,
                               timeout=10)
            return r.returncode == 0 and r.stdout.strip() == str(quantum)

        try:
            wait_for(answers, 15, "PipeWire's JACK")
        except BaseException:
            self.stop()
            raise

    def latency(self, port: str, kind: str) -> tuple[int, int]:
        """A port's latency range as ``jack_lsp -l`` prints it."""
        out = subprocess.run(["jack_lsp", "-l"], env=self.env, capture_output=True,
                             text=True, timeout=10).stdout
        m = re.search(rf"^{re.escape(port)}\n(?:\s+.*\n)*?\s+port {kind} latency = "
                      r"\[ (\d+) (\d+) \]", out, flags=re.M)
        assert m, out
        return int(m.group(1)), int(m.group(2))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def pipewire(tmp_path: Path) -> Iterator[PipeWire]:
    if not Path(PW_JACK_LIB, "libjack.so.0").exists():
        # CI installs pipewire-jack (scripts/install-deps), so there this
        # can never be skipped.
        assert not os.environ.get("CI"), "pipewire-jack missing: PipeWire went unchecked"
        pytest.skip("pipewire-jack is not installed")
    pw = PipeWire(tmp_path, 256)
    yield pw
    pw.stop()


def test_latencies_on_pipewire_are_its_own_and_propagate(
        pipewire: PipeWire, peer_bin: Path, tmp_path: Path) -> None:
    # The server loads PipeWire's libjack; the harness only needs a name.
    fake = Jackd("pipewire-0", 256, 48000, pipewire.proc, pipewire.log)
    env_vars = [f"{k}={pipewire.env[k]}" for k in
                ("LD_LIBRARY_PATH", "XDG_RUNTIME_DIR", "PIPEWIRE_RUNTIME_DIR")]
    server = start_server(tmp_path, fake, "inputs = 2\noutputs = 2\n",
                          wrapper=["env", *env_vars])
    source = None
    try:
        peer = start_peer(peer_bin, server, "--seconds", "10", "--exe", "Latent.exe")
        seg = Segment(peer.shm_name)
        source = subprocess.Popen([sys.executable, str(HERE / "latency_source.py"),
                                   "latent:in_1", "latent:out_1", "500", "700", "8"],
                                  env=pipewire.env, stdout=subprocess.PIPE, text=True)
        assert source.stdout is not None
        assert source.stdout.readline().strip() == "READY"
        # The driver reads the source's figures, nothing added ...
        wait_for(lambda: (seg.input_latency, seg.output_latency) == (500, 700), 5,
                 f"the segment's latencies ({seg.input_latency}, {seg.output_latency})")
        # ... and the program passes them on: downstream of its outputs the
        # capture latency of its inputs, upstream of its inputs the playback
        # latency of its outputs (the widest range, as JACK's default does).
        wait_for(lambda: pipewire.latency("latent:out_1", "capture")[1] == 500, 5,
                 "capture latency through the program")
        wait_for(lambda: pipewire.latency("latent:in_1", "playback")[1] == 700, 5,
                 "playback latency through the program")
        assert pipewire.latency("src:out", "playback")[1] == 700
        peer.finish()
    finally:
        if source is not None:
            source.kill()
            source.wait()
        server.stop()
