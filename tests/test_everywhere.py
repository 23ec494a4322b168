# SPDX-License-Identifier: LGPL-2.1-or-later
"""The driver where musicians run Wine, end to end, with PortAudio's ASIO host.

Each configuration of tests/containers.py gets the checks tests/test_wine.py
makes for 64-bit programs on this machine's Wine 8: the device is listed, a
duplex stream runs at JACK's period, what goes through the program comes back
bit-exact one period later, and its JACK client is gone after it exits and
after it is killed.  The configurations:

- a 32-bit program on Wine 8 (classic WoW64, wine32 installed);
- Wine 10 in a Debian trixie root with no libjack (a stand-in for Proton's
  Steam runtime), 64- and 32-bit programs; jackd and the asiojack server run
  outside the root, the program inside;
- the same root with its own PID namespace as well, where the program's pid
  means nothing outside.

One prefix per Wine (shared by its 64- and 32-bit programs; Wine 8's is the
run's shared prefix), one jackd and one asiojack server for the module.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from containers import (
    Config,
    ConfigPrefix,
    host_files,
    make_config_prefix,
    mapped_files,
    trixie_root,
    wine_program_pid,
)

from asiojack_rig.harness import (
    AsiojackServer,
    Jackd,
    server_segments,
    session_ports,
    start_server,
    wait_for,
)
from asiojack_rig.probe import LoopProbe
from asiojack_rig.winehost import WinePrefix, read_until_started

CONFIG = "inputs = 6\noutputs = 4\ndeadline = 0.9\n"

CONFIGS = [
    Config("wine8-32bit", 32),
    Config("wine10-container-64bit", 64, container=True),
    Config("wine10-container-32bit", 32, container=True),
    Config("wine10-container-pidns-64bit", 64, container=True, pidns=True),
]
WINE_VERSION = {False: "wine-8.", True: "wine-10."}


@pytest.fixture(scope="module")
def prefixes(wine_prefix: WinePrefix, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        Callable[[Config], ConfigPrefix]]:
    """One prefix per Wine, with asiojack registered.

    Wine 8: the run's shared prefix (conftest.py), registered for 32-bit
    programs as well.  Wine 10: a prefix of this module, made on first use.
    """
    made: dict[bool, ConfigPrefix] = {}
    last: dict[bool, Config] = {}

    def get(config: Config) -> ConfigPrefix:
        if not config.container:
            if config.bits == 32:
                # register says so when it could not register for 32-bit programs
                assert "registered the 32-bit asiojack.dll" in wine_prefix.registered, \
                    wine_prefix.registered
            wine_prefix.keep_wineserver()
            files = tmp_path_factory.getbasetemp() / "everywhere-wine8"
            files.mkdir(exist_ok=True)
            pahost, portaudio = host_files(config, files)
            return ConfigPrefix(config, wine_prefix.path, wine_prefix.env, pahost, portaudio)
        if config.container not in made:
            made[config.container] = make_config_prefix(config,
                                                        tmp_path_factory.mktemp("wine10"))
        shared = made[config.container]
        prefix = ConfigPrefix(config, shared.path, shared.env, shared.pahost,
                              shared.portaudio)
        if config.bits != shared.config.bits:
            prefix.pahost, prefix.portaudio = host_files(config, shared.path.parent)
        # Processes of one PID namespace only may share a wineserver.
        if config.pidns != last.get(config.container, config).pidns:
            shared.wineserver("-k")
        if not config.pidns:
            # A wineserver kept running: each program finds it (and Wine's
            # services) started.  In its own PID namespace a program
            # starts its own, which goes with the namespace.
            shared.keep_wineserver()
        last[config.container] = config
        return prefix

    yield get
    for shared in made.values():
        shared.wineserver("-k")


@pytest.fixture(scope="module")
def server(jackd256: Jackd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        AsiojackServer]:
    s = start_server(tmp_path_factory.mktemp("asiojack"), jackd256, CONFIG)
    yield s
    s.stop()


def host_env(prefix: ConfigPrefix, server: AsiojackServer) -> dict[str, str]:
    return dict(prefix.env, ASIOJACK_RUNTIME_DIR=str(server.runtime),
                JACK_DEFAULT_SERVER=server.jackd.name, ASIOJACK_CONFIG=str(server.config))


def client_of(prefix: ConfigPrefix) -> str:
    """The JACK client name the server gives the program (pahost64.exe: pahost64)."""
    return prefix.pahost.stem


def start_streaming_host(prefix: ConfigPrefix, server: AsiojackServer,
                         seconds: float) -> subprocess.Popen[str]:
    """A duplex stream of 2 channels, once the host says it started."""
    proc = prefix.popen_host("stream", "--device", "asiojack", "--seconds", str(seconds),
                             "--channels", "2", env=host_env(prefix, server))
    seen = read_until_started(proc)
    assert proc.poll() is None, (seen, proc.communicate(), server.log_text()[-3000:])
    assert len(session_ports(server.jackd, client_of(prefix))) == 10
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, object]:
    from asiojack_rig.winehost import parse_host_output
    out, err = proc.communicate(timeout=timeout)
    return parse_host_output(proc.returncode, out, err).result


@pytest.fixture(params=CONFIGS, ids=[c.id for c in CONFIGS])
def prefix(request: pytest.FixtureRequest,
           prefixes: Callable[[Config], ConfigPrefix]) -> ConfigPrefix:
    config: Config = request.param
    if config.container:
        root = trixie_root()
        jack = [str(p) for p in root.rglob("libjack*")]
        assert jack == [], f"the container must hold no JACK library: {jack}"
    return prefixes(config)


def test_device_is_listed(prefix: ConfigPrefix, server: AsiojackServer) -> None:
    version = subprocess.run([*prefix.config.enter(), prefix.config.loader(), "--version"],
                             env=prefix.env, capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith(WINE_VERSION[prefix.config.container]), version
    out = prefix.host("list", env=host_env(prefix, server))
    assert out.result.get("result") == "ok", (out, server.log_text()[-3000:])
    asio = [d for d in out.devices() if d.get("asio")]
    names = [d["name"] for d in asio]
    assert "asiojack" in names, out.devices()
    dev = asio[names.index("asiojack")]
    assert (dev["max_input_channels"], dev["max_output_channels"]) == (6, 4), dev
    assert dev["default_sample_rate"] == 48000, dev
    assert f"({prefix.config.bits}-bit)" in server.log_text()
    wait_for(lambda: not session_ports(server.jackd, client_of(prefix)), 3,
             "the probe session to end")


def test_stream_round_trip_is_one_period_and_bit_exact(
        prefix: ConfigPrefix, server: AsiojackServer, jackd256: Jackd) -> None:
    seconds = 5.0
    host = start_streaming_host(prefix, server, seconds)
    client = client_of(prefix)
    try:
        # The program's process maps our unix library of its bitness, and
        # no JACK library at all.
        pid = wine_program_pid(host.pid, prefix.pahost.name)
        assert pid is not None, "the Wine process of the host"
        if prefix.config.container:
            assert os.readlink(f"/proc/{pid}/root") == str(trixie_root())
        same_pidns = os.readlink(f"/proc/{pid}/ns/pid") == os.readlink("/proc/self/ns/pid")
        assert same_pidns != prefix.config.pidns
        maps = mapped_files(pid)
        arch = "x86_64-unix" if prefix.config.bits == 64 else "i386-unix"
        assert any(m.endswith(f"/{arch}/asiojack.so") for m in maps), sorted(maps)
        assert not [m for m in maps if "libjack" in m], sorted(maps)
        probe = LoopProbe(jackd256.client("probe"))
        try:
            result = probe.through(f"{client}:in_2", f"{client}:out_2", 2.0)
        finally:
            probe.close()
        r = finish(host)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
    assert r.get("result") == "ok", (r, server.log_text()[-3000:])
    assert r["min_frames_per_buffer"] == r["max_frames_per_buffer"] == jackd256.frames, r
    assert r["callbacks"] > 0.7 * seconds * jackd256.rate / jackd256.frames, r
    assert result.audible > 0.8 * result.blocks, result
    assert result.not_exact == 0 and result.torn == 0, result
    # The round trip through the program is JACK's one-period feedback.
    assert result.on_time(jackd256.frames), result
    wait_for(lambda: not session_ports(jackd256, client), 3,
             "the JACK client to go after the program ended")
    assert not server_segments(server)


def test_client_gone_after_the_wine_process_is_killed(
        prefix: ConfigPrefix, server: AsiojackServer, jackd256: Jackd) -> None:
    host = start_streaming_host(prefix, server, 30)
    client = client_of(prefix)
    assert server_segments(server)
    pid = wine_program_pid(host.pid, prefix.pahost.name)
    assert pid is not None
    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not session_ports(jackd256, client) and not server_segments(server), 10.0,
             "the killed program's JACK client and segment to vanish")
    # A liveness bound, not a speed target (that is a benchmark figure): on
    # a loaded 2-core machine the teardown was seen to take over a second.
    assert time.monotonic() - killed_at < 10.0
    host.kill()
    host.communicate()
    assert jackd256.proc.poll() is None and server.proc.poll() is None
    if prefix.config.pidns:
        # Killed with its whole namespace: the server learned of it by the
        # socket and by the peer's pid as the kernel gave it (SO_PEERCRED),
        # not the pid the driver sees inside its namespace.
        assert f"pid {pid}: hello from" in server.log_text(), server.log_text()[-2000:]
    # The server serves the next program.
    out = prefix.host("stream", "--device", "asiojack", "--seconds", "0.5",
                      env=host_env(prefix, server))
    assert out.result.get("result") == "ok", out
    wait_for(lambda: not session_ports(jackd256, client), 3, "the next program's client to go")
