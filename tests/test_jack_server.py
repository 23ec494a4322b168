# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each program's session opens on the JACK server the program names.

The asiojack server may have been started (by systemd, or by the driver
for another program) with another JACK_DEFAULT_SERVER than a program that
comes later.  The driver sends the program's JACK_DEFAULT_SERVER (or
"default") in OPEN, and the session's JACK client opens there.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AsiojackServer, Jackd, start_jackd, start_peer, start_server, wait_for

from asiojack_rig.winehost import WinePrefix, parse_host_output, read_until_started
from pyjack_side.abi import lib


@pytest.fixture(scope="module")
def jackd_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jackd]:
    server = start_jackd(tmp_path_factory.mktemp("jackd-b"), 128)
    yield server
    server.stop()


def clients_on(jackd: Jackd) -> set[str]:
    watcher = jackd.client("watch")
    try:
        return {p.name.split(":", 1)[0] for p in watcher.get_ports()}
    finally:
        watcher.close()


def run_peer(peer_bin: Path, server: AsiojackServer, jack_server: str | None,
             *args: str) -> dict[str, object]:
    """A peer whose own environment names ``jack_server``; its JSON result."""
    import subprocess

    env = dict(server.env)
    env.pop("JACK_DEFAULT_SERVER", None)
    if jack_server is not None:
        env["JACK_DEFAULT_SERVER"] = jack_server
    proc = subprocess.run([str(peer_bin), *args], env=env, capture_output=True, text=True,
                          timeout=60)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, (proc.stdout, proc.stderr)
    error = re.match(r'\{"error": (-?\d+), "message": "(.*)"\}$', lines[-1])
    if error:  # the peer does not escape quotes inside the message
        return {"error": int(error.group(1)), "message": error.group(2),
                "returncode": proc.returncode}
    result: dict[str, object] = json.loads(lines[-1])
    result["returncode"] = proc.returncode
    return result


def test_two_programs_on_two_jack_servers_at_once(jackd256: Jackd, jackd_b: Jackd,
                                                  peer_bin: Path, tmp_path: Path) -> None:
    # The asiojack server's own environment names jackd256 only.
    server = start_server(tmp_path, jackd256)
    try:
        env_a = dict(server.env, JACK_DEFAULT_SERVER=jackd256.name)
        env_b = dict(server.env, JACK_DEFAULT_SERVER=jackd_b.name)
        server.env = env_a
        peer_a = start_peer(peer_bin, server, "--exe", "alpha.exe", "--seconds", "5")
        server.env = env_b
        peer_b = start_peer(peer_bin, server, "--exe", "beta.exe", "--seconds", "5")
        # Both stream at once, each on its own program's JACK server.
        on_a, on_b = clients_on(jackd256), clients_on(jackd_b)
        assert peer_a.client_name in on_a and peer_a.client_name not in on_b, (on_a, on_b)
        assert peer_b.client_name in on_b and peer_b.client_name not in on_a, (on_a, on_b)
        # `asiojack status` shows both JACK servers and each one's program.
        out = subprocess.run([sys.executable, "-m", "pyjack_side", "status", "--json"],
                             env=server.env, capture_output=True, text=True, timeout=30,
                             cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        servers = [doc, *doc["siblings"]]
        shown = {(d["jack"]["server_name"], p["client"]) for d in servers for p in d["programs"]}
        assert (jackd256.name, peer_a.client_name) in shown, shown
        assert (jackd_b.name, peer_b.client_name) in shown, shown
        ra, rb = peer_a.finish(), peer_b.finish()
        assert ra["returncode"] == 0 and rb["returncode"] == 0, (ra, rb)
        assert int(ra["handled"]) > 0 and int(rb["handled"]) > 0, (ra, rb)
        # jack2's libjack binds a process to one JACK server: the asiojack
        # server kept jackd256's session and handed jackd_b's to a sibling.
        log = server.log_text()
        assert f"on JACK server '{jackd256.name}'" in log, log
        assert f"JACK server '{jackd_b.name}': redirected to" in log, log
        sibling_log = "".join(p.read_text() for p in server.runtime.glob("jack-*.log"))
        assert f"on JACK server '{jackd_b.name}'" in sibling_log, sibling_log
    finally:
        server.stop()


def test_a_program_without_jack_default_server_uses_default(jackd256: Jackd, peer_bin: Path,
                                                            tmp_path: Path) -> None:
    # The program names no server: libjack would use "default", and so must
    # the session, whatever the asiojack server's own environment says.
    server = start_server(tmp_path, jackd256)
    try:
        r = run_peer(peer_bin, server, None, "--seconds", "0.2")
    finally:
        server.stop()
    if r["returncode"] == 0:
        # A "default" JACK server runs on this machine: then the session must
        # be there, not on the asiojack server's jackd.
        assert "JACK server 'default': redirected" in server.log_text()
    else:
        assert r["error"] == -4, r
        assert "JACK server 'default' not running" in str(r["message"]), r


def test_the_error_names_the_jack_server_that_is_down(asiojack: AsiojackServer,
                                                      peer_bin: Path) -> None:
    r = run_peer(peer_bin, asiojack, "asiojack-test-nobody", "--seconds", "0.2")
    assert r["returncode"] == 1 and r["error"] == -4, r
    assert "JACK server 'asiojack-test-nobody' not running" in str(r["message"]), r
    # The asiojack server itself lives on and serves a program on a live JACK.
    ok = run_peer(peer_bin, asiojack, asiojack.jackd.name, "--seconds", "0.2")
    assert ok["returncode"] == 0, ok


def test_open_carries_the_jack_server_in_the_protocol() -> None:
    from pyjack_side.abi import ffi

    assert lib.ASIOJACK_PROTOCOL_VERSION >= 3
    assert ffi.sizeof("struct asiojack_msg_open") == 136
    assert ffi.offsetof("struct asiojack_msg_open", "jack_server") == 72


def test_wine_host_opens_on_its_own_jack_server(prefix: WinePrefix, jackd256: Jackd,
                                                jackd_b: Jackd, tmp_path: Path) -> None:
    # A lingering asiojack server started for jackd256; the program runs on
    # jackd_b (the situation of issue 8: the next program's init failed).
    server = start_server(tmp_path, jackd256, "inputs = 2\noutputs = 2\n")
    try:
        env = prefix.run_env({"ASIOJACK_RUNTIME_DIR": str(server.runtime),
                              "JACK_DEFAULT_SERVER": jackd_b.name,
                              "ASIOJACK_CONFIG": str(server.config)})
        proc = prefix.popen_host("stream", "--device", "asiojack", "--seconds", "3",
                                 "--channels", "2", env=env)
        seen = read_until_started(proc)
        assert proc.poll() is None, (seen, proc.communicate(), server.log_text())
        assert "pahost" in clients_on(jackd_b)
        assert "pahost" not in clients_on(jackd256)
        out, err = proc.communicate(timeout=60)
        result = parse_host_output(proc.returncode, out, err).result
        assert result.get("result") == "ok", (out, err, server.log_text())
        wait_for(lambda: "pahost" not in clients_on(jackd_b), 3, "the session to close")
    finally:
        server.stop()
