# SPDX-License-Identifier: LGPL-2.1-or-later
"""The driver in Wine, end to end, with PortAudio's ASIO host as the program.

The run's shared Wine prefix (conftest.py: asiojack registered in it with the
real ``asiojack register``), a private dummy jackd per period, a private
asiojack server per test.  The program is tests/host/pahost.c driving
``libportaudio64bit-asio.dll`` from sounddevice's Windows wheel.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    AsiojackServer,
    Jackd,
    server_segments,
    start_jackd,
    start_server,
    wait_for,
)

from asiojack_rig.harness import session_ports
from asiojack_rig.probe import LoopProbe
from asiojack_rig.winehost import (
    WinePrefix,
    parse_host_output,
    read_until_started,
    wine_loader,
)

CONFIG = "inputs = 6\noutputs = 4\ndeadline = 0.9\n"


@pytest.fixture
def server(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    s = start_server(tmp_path, jackd256, CONFIG)
    yield s
    s.stop()


def in_prefix(pid: int, prefix: WinePrefix) -> bool:
    """Whether process ``pid`` runs in ``prefix`` (its WINEPREFIX)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"WINEPREFIX={prefix.path}".encode() in environ


def shm_segments(server: AsiojackServer) -> list[str]:
    """The session segments (memfds) the server has mapped now."""
    return sorted(server_segments(server))


def test_device_is_listed_with_configured_channels(prefix: WinePrefix,
                                                   server: AsiojackServer) -> None:
    out = prefix.host("list", env=prefix.server_env(server))
    assert out.result.get("result") == "ok", out
    asio = [d for d in out.devices() if d.get("asio")]
    names = [d["name"] for d in asio]
    assert "asiojack" in names, out.devices()
    dev = asio[names.index("asiojack")]
    assert (dev["max_input_channels"], dev["max_output_channels"]) == (6, 4), dev
    assert dev["default_sample_rate"] == 48000, dev
    # PortAudio probed, then released the driver: nothing is left open.
    assert wait_for(lambda: not session_ports(server.jackd, "pahost"), 3, "probe session to end")


@pytest.mark.parametrize("frames", [64, 256])
def test_duplex_stream_runs_at_jack_period(frames: int, prefix: WinePrefix, jackd64: Jackd,
                                           jackd256: Jackd, tmp_path: Path) -> None:
    jackd = jackd64 if frames == 64 else jackd256
    server = start_server(tmp_path, jackd, CONFIG)
    try:
        seconds = 2.0
        out = prefix.host("stream", "--device", "asiojack", "--frames", str(frames),
                          "--seconds", str(seconds), "--channels", "2",
                          env=prefix.server_env(server))
    finally:
        server.stop()
    r = out.result
    assert r.get("result") == "ok", (out, server.log_text())
    assert r["min_frames_per_buffer"] == r["max_frames_per_buffer"] == frames, r
    expected = seconds * jackd.rate / frames
    assert r["callbacks"] > 0.7 * expected, r
    assert "closing session" in server.log_text()


def start_streaming_host(prefix: WinePrefix, server: AsiojackServer, seconds: float,
                         channels: int = 2) -> subprocess.Popen[str]:
    proc = prefix.popen_host("stream", "--device", "asiojack", "--seconds", str(seconds),
                             "--channels", str(channels), env=prefix.server_env(server))
    seen = read_until_started(proc)
    assert proc.poll() is None, (seen, proc.communicate())
    assert len(session_ports(server.jackd, "pahost")) == 10
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, object]:
    """The streaming host's result line, once it has ended."""
    out, err = proc.communicate(timeout=timeout)
    return parse_host_output(proc.returncode, out, err).result


def test_signal_through_the_host_is_bit_exact(prefix: WinePrefix, server: AsiojackServer,
                                               jackd256: Jackd) -> None:
    host = start_streaming_host(prefix, server, seconds=5)
    probe = LoopProbe(jackd256.client("probe"))
    try:
        result = probe.through("pahost:in_2", "pahost:out_2", 2.0)
    finally:
        probe.close()
    assert finish(host).get("result") == "ok"
    assert result.audible > 0.8 * result.blocks, result
    assert result.not_exact == 0 and result.torn == 0, result
    assert result.on_time(jackd256.frames), result


def iodelay_frames(env: dict[str, str], through: str | None, seconds: float = 4.0) -> set[int]:
    """Round trips jack_iodelay reports, in whole frames, after its first readings."""
    proc = subprocess.Popen(["stdbuf", "-oL", "jack_iodelay"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        wait_for(lambda: session_ports_env(env, "jack_delay"), 10, "jack_iodelay's ports")
        connect = ["jack_connect", "-s", env["JACK_DEFAULT_SERVER"]]
        if through is None:
            subprocess.run([*connect, "jack_delay:out", "jack_delay:in"], check=True, env=env)
        else:
            subprocess.run([*connect, "jack_delay:out", f"{through}:in_1"], check=True, env=env)
            subprocess.run([*connect, f"{through}:out_1", "jack_delay:in"], check=True, env=env)
        time.sleep(seconds)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    readings = [float(m.group(1)) for m in re.finditer(r"([\d.]+) frames\s+[\d.]+ ms total", out)]
    assert len(readings) > 4, out
    return {round(v) for v in readings[3:]}  # the first readings are junk


def session_ports_env(env: dict[str, str], client: str) -> bool:
    out = subprocess.run(["jack_lsp", "-s", env["JACK_DEFAULT_SERVER"]], env=env,
                         capture_output=True, text=True)
    return any(line.startswith(client + ":") for line in out.stdout.splitlines())


def test_jack_iodelay_round_trip_through_the_host_is_one_period(
        prefix: WinePrefix, server: AsiojackServer, jackd256: Jackd) -> None:
    env = dict(os.environ, JACK_DEFAULT_SERVER=jackd256.name)
    direct = iodelay_frames(env, None)
    host = start_streaming_host(prefix, server, seconds=12)
    through = iodelay_frames(env, "pahost")
    assert finish(host).get("result") == "ok"
    # A wire straight back is the graph's one-period feedback; through the
    # host it must be the same: the bridge adds nothing.
    assert direct == {jackd256.frames}, direct
    assert through == {jackd256.frames}, through


def test_twenty_open_close_cycles_leave_nothing_behind(prefix: WinePrefix,
                                                       server: AsiojackServer) -> None:
    threads_before = len(os.listdir(f"/proc/{server.proc.pid}/task"))
    out = prefix.host("cycles", "--device", "asiojack", "--count", "20",
                      env=prefix.server_env(server), timeout=240)
    assert out.result.get("result") == "ok", out
    cycles = [e for e in out.events if e.get("event") == "cycle"]
    assert len(cycles) == 20 and all(c["ok"] for c in cycles), cycles
    # The driver's callback thread goes with each stream: no growth in the host.
    assert cycles[-1]["threads"] == cycles[0]["threads"], [c["threads"] for c in cycles]
    # No JACK client, segment, server thread or Wine process is left.
    wait_for(lambda: not session_ports(server.jackd, "pahost"), 3, "the last session to close")
    assert shm_segments(server) == []
    wait_for(lambda: len(os.listdir(f"/proc/{server.proc.pid}/task")) <= threads_before + 1,
             5, "the server's threads to settle")
    # Only this prefix's: other test runs on the machine may run pahost too.
    leftover = subprocess.run(["pgrep", "-f", "pahost.exe"], capture_output=True, text=True)
    mine = [pid for pid in leftover.stdout.split()
            if in_prefix(int(pid), prefix)]
    assert mine == []
    assert server.proc.poll() is None


def test_killing_the_wine_process_mid_stream(prefix: WinePrefix, server: AsiojackServer,
                                             jackd256: Jackd) -> None:
    host = start_streaming_host(prefix, server, seconds=30)
    assert shm_segments(server)
    killed_at = time.monotonic()
    host.send_signal(signal.SIGKILL)
    host.wait()
    wait_for(lambda: not session_ports(jackd256, "pahost") and not shm_segments(server), 1.0,
             "the killed program's JACK client and segment to vanish")
    assert time.monotonic() - killed_at < 1.0
    # The graph and the server run on, and serve the next program.
    assert jackd256.proc.poll() is None and server.proc.poll() is None
    out = prefix.host("stream", "--device", "asiojack", "--seconds", "0.5",
                      env=prefix.server_env(server))
    assert out.result.get("result") == "ok", out


def test_driver_starts_the_server_itself(prefix: WinePrefix, jackd256: Jackd,
                                         tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    env = prefix.run_env({"ASIOJACK_RUNTIME_DIR": str(runtime),
                          "JACK_DEFAULT_SERVER": jackd256.name,
                          "ASIOJACK_CONFIG": str(tmp_path / "none.toml"),
                          "ASIOJACK_STATE_DIR": str(tmp_path / "state"),
                          "ASIOJACK_SERVER": f"{os.sys.executable} -m pyjack_side"})
    try:
        out = prefix.host("stream", "--device", "asiojack", "--seconds", "0.5",
                          "--channels", "2", env=env)
        assert out.result.get("result") == "ok", (out, (runtime / "server.log").read_text())
        assert (runtime / "control.sock").exists()
    finally:
        subprocess.run(["pkill", "-f", f"ASIOJACK_RUNTIME_DIR={runtime}"], check=False)
        pids = subprocess.run(["pgrep", "-f", "pyjack_side serve --auto"], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            env_file = Path(f"/proc/{pid}/environ")
            try:
                if str(runtime).encode() in env_file.read_bytes():
                    os.kill(int(pid), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def test_asiocheck_conformance(prefix: WinePrefix, server: AsiojackServer,
                               hosts: dict[str, Path]) -> None:
    r = subprocess.run([wine_loader(), str(hosts["asiocheck"])], env=prefix.server_env(server),
                       capture_output=True, text=True, timeout=120)
    result = parse_host_output(r.returncode, r.stdout, r.stderr)
    failed = [e for e in result.events if e.get("ok") is False]
    assert result.result.get("result") == "ok", (failed, result.result)
    checks = [e for e in result.events if "ok" in e]
    assert len(checks) > 50


def asiojack_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([os.sys.executable, "-m", "pyjack_side", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_register_reports_a_missing_prefix(prefix: WinePrefix, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-prefix"
    r = asiojack_cli("register", "--prefix", str(missing), env=prefix.env, cwd=tmp_path)
    assert r.returncode == 1
    assert f"no Wine prefix at {missing}" in r.stderr


def test_register_reports_missing_wine(prefix: WinePrefix, tmp_path: Path) -> None:
    env = dict(prefix.env, WINE=str(tmp_path / "no-wine-here"), PATH="/nonexistent")
    r = subprocess.run([os.sys.executable, "-m", "pyjack_side", "register", "--prefix",
                        str(prefix.path)], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "Wine not found" in r.stderr, r.stderr


def test_doctor_on_a_registered_prefix(prefix: WinePrefix, server: AsiojackServer,
                                       tmp_path: Path) -> None:
    env = prefix.server_env(server)
    r = asiojack_cli("doctor", "--prefix", str(prefix.path), env=env, cwd=tmp_path)
    lines = r.stdout.splitlines()
    assert r.returncode == 0, r.stdout + r.stderr
    for name in ("wine", "driver build", "prefix", "registered", "builtin files", "jack",
                 "asiojack server", "real-time"):
        assert any(line.startswith("[ok  ] " + name + ":") for line in lines), (name, lines)
    assert "48000 Hz, 256 frames" in r.stdout
    # This jackd runs --no-realtime: the driver's thread asks for no SCHED_FIFO either.
    assert ("[ok  ] real-time: JACK runs without real-time scheduling, so the driver's audio "
            "thread asks for none") in r.stdout, r.stdout


def test_doctor_names_what_is_wrong(prefix: WinePrefix, tmp_path: Path) -> None:
    env = dict(prefix.env, JACK_DEFAULT_SERVER="no-such-jack-server",
               ASIOJACK_RUNTIME_DIR=str(tmp_path / "run"))
    r = asiojack_cli("doctor", "--prefix", str(tmp_path / "empty"), env=env, cwd=tmp_path)
    assert r.returncode == 1
    assert f"[FAIL] prefix: no Wine prefix at {tmp_path / 'empty'}" in r.stdout
    assert "[FAIL] jack: JACK server 'no-such-jack-server' not running" in r.stdout
    assert "[warn] asiojack server: not running" in r.stdout


def test_unregister_then_register_again(prefix: WinePrefix, server: AsiojackServer,
                                        tmp_path: Path) -> None:
    from pyjack_side import wine

    try:
        r = asiojack_cli("unregister", "--prefix", str(prefix.path), env=prefix.env,
                         cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "unregistered asiojack.dll" in r.stdout
        out = prefix.host("list", env=prefix.server_env(server))
        assert "asiojack" not in [d["name"] for d in out.devices() if d.get("asio")]
        r = asiojack_cli("register", "--prefix", str(prefix.path), env=prefix.env,
                         cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "registered asiojack.dll" in r.stdout and "WINEDLLPATH=" in r.stdout
        out = prefix.host("list", env=prefix.server_env(server))
        assert "asiojack" in [d["name"] for d in out.devices() if d.get("asio")]
    finally:
        # The prefix is the run's shared one: leave it registered, whatever failed.
        if not wine.is_registered(prefix.path):
            asiojack_cli("register", "--prefix", str(prefix.path), env=prefix.env, cwd=tmp_path)


def test_callback_thread_runs_just_below_jacks_realtime_thread(prefix: WinePrefix,
                                                              tmp_path: Path) -> None:
    import json

    if os.geteuid() != 0 and not os.environ.get("CI"):
        pytest.skip("SCHED_FIFO needs root or an rtprio limit")
    jackd = start_jackd(tmp_path, 256, realtime=True)
    server = start_server(tmp_path, jackd, CONFIG)
    try:
        out = prefix.host("stream", "--device", "asiojack", "--seconds", "0.5",
                          env=prefix.server_env(server))
        assert out.result.get("result") == "ok", out
        wait_for(lambda: "closing session" in server.log_text(), 5, "the session to close")
        doctor = asiojack_cli("doctor", "--prefix", str(prefix.path),
                              env=prefix.server_env(server), cwd=tmp_path)
    finally:
        server.stop()
        jackd.stop()
    counters = [json.loads(line.split("closing session ", 1)[1].split(" ", 1)[1])
                for line in server.log_text().splitlines() if "closing session" in line]
    streamed = [c for c in counters if c["cycles"] > 0]
    assert streamed, counters
    jack_prio = int(re.search(r"JACK RT priority (\d+)", server.log_text()).group(1))
    assert jack_prio > 1
    assert streamed[-1]["peer_rt_priority"] == jack_prio - 1, (streamed, jack_prio)
    assert streamed[-1]["peer_rt_errno"] == 0
    # The doctor tells the priority the driver asks for and the one it got.
    assert (f"[ok  ] real-time: running as root: SCHED_FIFO {jack_prio - 1} (one below JACK's "
            f"thread, {jack_prio}) allowed; the last session's audio thread ran at SCHED_FIFO "
            f"{jack_prio - 1}") in doctor.stdout, doctor.stdout


def test_a_thread_refused_realtime_is_reported(prefix: WinePrefix, tmp_path: Path) -> None:
    import shutil as sh

    if not sh.which("setpriv") or os.geteuid() != 0:
        assert not os.environ.get("CI"), "CI runs as root with setpriv (util-linux)"
        pytest.skip("needs root and setpriv to take CAP_SYS_NICE away")
    jackd = start_jackd(tmp_path, 256, realtime=True)
    server = start_server(tmp_path, jackd, CONFIG)
    try:
        # The program runs without CAP_SYS_NICE and with RLIMIT_RTPRIO 0,
        # as an ordinary user without an audio group would.
        cmd = ["setpriv", "--bounding-set=-sys_nice", "--", "prlimit", "--rtprio=0",
               wine_loader(), str(prefix.pahost), str(prefix.portaudio), "stream", "--device",
               "asiojack", "--seconds", "0.5"]
        env = prefix.server_env(server)
        subprocess.run(["wineserver", "-k"], env=env, check=False)  # start one under setpriv
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert parse_host_output(r.returncode, r.stdout, r.stderr).result.get("result") == "ok"
        wait_for(lambda: "without real-time priority" in server.log_text(), 5,
                 "the server to report the refusal")
        assert "Operation not permitted" in server.log_text()
        doctor = asiojack_cli("doctor", "--prefix", str(prefix.path), env=env, cwd=tmp_path)
        assert "[FAIL] real-time: last session:" in doctor.stdout, doctor.stdout
    finally:
        server.stop()
        jackd.stop()
        subprocess.run(["wineserver", "-k"], env=prefix.env, check=False)
