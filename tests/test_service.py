# SPDX-License-Identifier: LGPL-2.1-or-later
"""The server as systemd starts it, and as the driver starts it.

- Socket activation: the server takes the listening socket passed by the
  sd_listen_fds protocol (LISTEN_FDS/LISTEN_PID, fd 3), from
  ``systemd-socket-activate`` and from a hand-made emulation of it.
- ``asiojack install-service`` writes units that ``systemd-analyze verify``
  accepts.
- The driver's auto-start hands the server a scrubbed environment (no
  LD_PRELOAD / LD_LIBRARY_PATH of a runtime), and its error names the
  socket it tried.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Jackd, wait_for


def private_runtime(tmp_path: Path) -> Path:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    return runtime


def base_env(jackd: Jackd, runtime: Path, tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, JACK_DEFAULT_SERVER=jackd.name, ASIOJACK_RUNTIME_DIR=str(runtime),
               ASIOJACK_CONFIG=str(tmp_path / "config.toml"),
               ASIOJACK_STATE_DIR=str(tmp_path / "state"), PYTHONUNBUFFERED="1")
    (tmp_path / "config.toml").write_text("inputs = 2\noutputs = 2\n")
    return env


def peer_result(peer_bin: Path, env: dict[str, str], *args: str) -> tuple[int, str]:
    r = subprocess.run([str(peer_bin), "--seconds", "0.3", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def server_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_systemd_socket_activate_starts_the_server_on_first_connection(
        jackd256: Jackd, peer_bin: Path, tmp_path: Path,
        stopper: list[subprocess.Popen[bytes]]) -> None:
    tool = shutil.which("systemd-socket-activate")
    if tool is None:
        assert not os.environ.get("CI"), "CI installs systemd: socket activation went untested"
        pytest.skip("systemd-socket-activate not installed (package systemd)")
    runtime = private_runtime(tmp_path)
    env = base_env(jackd256, runtime, tmp_path)
    sock = runtime / "control.sock"
    log = tmp_path / "server.log"
    # systemd-socket-activate passes only the variables named with -E.
    passed = [f"-E{k}" for k in ("JACK_DEFAULT_SERVER", "ASIOJACK_RUNTIME_DIR",
                                 "ASIOJACK_CONFIG", "ASIOJACK_STATE_DIR", "PYTHONUNBUFFERED",
                                 "HOME", "PATH")]
    proc = subprocess.Popen([tool, "-l", str(sock), *passed, sys.executable, "-m", "pyjack_side",
                             "-v", "serve"], env=env, cwd=tmp_path, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    stopper.append(proc)
    wait_for(sock.exists, 10, "systemd-socket-activate to listen")
    inode = sock.stat().st_ino
    # The first connection starts the server, which takes the socket over.
    code, out = peer_result(peer_bin, env)
    assert code == 0, (out, log.read_text())
    text = log.read_text()
    assert f"listening socket {sock} handed over by systemd" in text, text
    # The server neither re-created nor removed systemd's socket.
    assert sock.stat().st_ino == inode
    code, out = peer_result(peer_bin, env)
    assert code == 0, out


def test_sd_listen_fds_protocol_by_hand(jackd256: Jackd, peer_bin: Path, tmp_path: Path,
                                        stopper: list[subprocess.Popen[bytes]]) -> None:
    # What systemd does: make the socket, put it at fd 3, and exec the
    # service with LISTEN_FDS=1 and LISTEN_PID = the service's own pid.
    runtime = private_runtime(tmp_path)
    env = base_env(jackd256, runtime, tmp_path)
    path = runtime / "control.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen()
    log = tmp_path / "server.log"
    fd = listener.fileno()
    launcher = ("import os, sys\n"
                "os.dup2(int(sys.argv[1]), 3)\n"
                "os.close(int(sys.argv[1]))\n"
                "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
                "os.execv(sys.argv[2], sys.argv[2:])\n")
    proc = subprocess.Popen([sys.executable, "-c", launcher, str(fd), sys.executable, "-m",
                             "pyjack_side", "-v", "serve"], env=env, cwd=tmp_path, pass_fds=(fd,),
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stopper.append(proc)
    listener.close()   # the server holds it now, as under systemd
    code, out = peer_result(peer_bin, env)
    assert code == 0, (out, log.read_text())
    assert f"listening socket {path} handed over by systemd" in log.read_text()
    # On SIGTERM (systemctl stop) it leaves systemd's socket file alone.
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert path.exists()


def test_a_listen_pid_of_another_process_is_ignored(jackd256: Jackd, peer_bin: Path,
                                                   tmp_path: Path,
                                                   stopper: list[subprocess.Popen[bytes]]
                                                   ) -> None:
    # sd_listen_fds: LISTEN_FDS is for LISTEN_PID only (an inherited pair
    # must not make the server take a random fd 3 for its socket).
    runtime = private_runtime(tmp_path)
    env = dict(base_env(jackd256, runtime, tmp_path), LISTEN_FDS="1", LISTEN_PID="1")
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "pyjack_side", "-v", "serve"], env=env,
                            cwd=tmp_path, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    stopper.append(proc)
    wait_for(lambda: (runtime / "control.sock").exists() or proc.poll() is not None, 15,
             "the server to listen")
    assert proc.poll() is None, log.read_text()
    code, out = peer_result(peer_bin, env)
    assert code == 0, out
    assert "is not this process" in log.read_text()


def test_install_service_writes_units_systemd_accepts(tmp_path: Path) -> None:
    units = tmp_path / "units"
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "install-service", "--dir",
                        str(units), "--no-enable"], capture_output=True, text=True, cwd=tmp_path,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"wrote {units / 'asiojack.socket'}" in r.stdout
    socket_text = (units / "asiojack.socket").read_text()
    service_text = (units / "asiojack.service").read_text()
    # The socket is where the driver looks: $XDG_RUNTIME_DIR/asiojack/control.sock.
    assert "ListenStream=%t/asiojack/control.sock" in socket_text
    assert f"ExecStart={sys.executable} -m pyjack_side serve" in service_text
    assert "UnsetEnvironment=LD_LIBRARY_PATH LD_PRELOAD" in service_text
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        assert not os.environ.get("CI"), "CI installs systemd: the units went unverified"
        pytest.skip("systemd-analyze not installed")
    v = subprocess.run([analyze, "verify", str(units / "asiojack.socket"),
                        str(units / "asiojack.service")], capture_output=True, text=True,
                       timeout=60)
    assert v.returncode == 0, v.stdout + v.stderr
    # verify is not a rubber stamp: a broken unit is refused.
    (units / "asiojack.service").write_text(service_text.replace("ExecStart=", "ExecStart=nope"))
    bad = subprocess.run([analyze, "verify", str(units / "asiojack.service")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0


def test_install_service_without_a_user_manager_says_what_to_do(tmp_path: Path) -> None:
    # No user session bus here (CI, root over ssh): the files are written
    # and the user is told the command to run once logged in.
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"),
               DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent",
               XDG_RUNTIME_DIR=str(tmp_path / "no-runtime"))
    steps = subprocess.run([sys.executable, "-m", "pyjack_side", "install-service"], env=env,
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert steps.returncode == 0, steps.stderr
    assert (tmp_path / "config/systemd/user/asiojack.socket").exists()
    assert (tmp_path / "config/systemd/user/asiojack.service").exists()
    assert "systemctl --user enable --now asiojack.socket" in steps.stdout, steps.stdout


def preload_library(tmp_path: Path) -> Path:
    """A real, harmless library a runtime could put in LD_PRELOAD."""
    src = tmp_path / "runtime_preload.c"
    src.write_text("void asiojack_test_runtime_preload(void) {}\n")
    lib = tmp_path / "libruntime_preload.so"
    subprocess.run(["cc", "-shared", "-fPIC", str(src), "-o", str(lib)], check=True)
    return lib


def autostarted_servers(runtime: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if b"serve\0--auto" in cmdline and str(runtime).encode() in environ:
            pids.append(int(entry.name))
    return pids


def test_autostart_scrubs_the_programs_environment(jackd256: Jackd, peer_bin: Path,
                                                   tmp_path: Path) -> None:
    runtime = private_runtime(tmp_path)
    preload = preload_library(tmp_path)
    env = base_env(jackd256, runtime, tmp_path)
    env.update(ASIOJACK_SERVER=f"{sys.executable} -m pyjack_side",
               # What Proton / the Steam runtime put in a program's environment:
               LD_PRELOAD=str(preload), LD_LIBRARY_PATH=str(tmp_path / "steam-runtime/lib"),
               STEAM_RUNTIME="1", PYTHONHOME=str(tmp_path / "steam-runtime/python"))
    try:
        code, out = peer_result(peer_bin, env, "--autostart")
        assert code == 0, (out, (runtime / "server.log").read_text())
        pids = wait_for(lambda: autostarted_servers(runtime), 5, "the auto-started server")
        assert len(pids) == 1, pids
        pid = pids[0]
        environ = dict(v.split(b"=", 1) for v in
                       Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") if b"=" in v)
        for dropped in (b"LD_PRELOAD", b"LD_LIBRARY_PATH", b"STEAM_RUNTIME", b"PYTHONHOME"):
            assert dropped not in environ, (dropped, environ)
        # What the server needs is kept.
        assert environ[b"JACK_DEFAULT_SERVER"] == jackd256.name.encode()
        assert environ[b"ASIOJACK_RUNTIME_DIR"] == str(runtime).encode()
        assert b"PATH" in environ and b"HOME" in environ
        # And the runtime's library is not in the server.
        assert str(preload).encode() not in Path(f"/proc/{pid}/maps").read_bytes()
        log = (runtime / "server.log").read_text()
        assert f"no server on {runtime / 'control.sock'}, starting" in log, log
    finally:
        for pid in autostarted_servers(runtime):
            os.kill(pid, signal.SIGTERM)


def test_a_server_that_cannot_start_is_named_with_its_socket(jackd256: Jackd, peer_bin: Path,
                                                            tmp_path: Path) -> None:
    # Inside a container with no asiojack: the command does not exist.
    runtime = private_runtime(tmp_path)
    env = dict(base_env(jackd256, runtime, tmp_path),
               ASIOJACK_SERVER=str(tmp_path / "no-asiojack-here"))
    code, out = peer_result(peer_bin, env, "--autostart")
    sock = runtime / "control.sock"
    assert code == 1, out
    assert f"asiojack server not running on {sock} and could not be started" in out, out
    assert "asiojack install-service" in out, out
    log = (runtime / "server.log").read_text()
    assert f"no server on {sock}, starting: {tmp_path / 'no-asiojack-here'} serve" in log, log
    # Without auto-start the error names the socket too.
    code, out = peer_result(peer_bin, env)
    assert code == 1 and f"asiojack server not running (nothing listens on {sock})" in out, out
