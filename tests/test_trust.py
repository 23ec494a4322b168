# SPDX-License-Identifier: LGPL-2.1-or-later
"""Nothing that crosses the boundary is trusted (issue 9, items 1-4, 10, 12).

Each test plays one attack against the real driver code (the C peer is
built from bridge/client/client.c, as the Wine unix library is) or the real
server.  Tests that need a second local user create one with ``useradd``
and remove it after; they need root and say so (CI runs as root).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import (
    ROOT,
    AsiojackServer,
    Jackd,
    build_peer,
    server_segments,
    start_peer,
    start_server,
    wait_for,
)
from fakeserver import HostileServer
from rawclient import RawClient

from asiojack_rig.winehost import WinePrefix
from pyjack_side.abi import ffi, lib
from pyjack_side.protocol import new

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="needs root: useradd/chown of a second local user "
                                       "(CI runs as root)")


@pytest.fixture(scope="module")
def other_user() -> Iterator[pwd.struct_passwd]:
    """A second local user, made for these tests and removed after them."""
    name = f"ajtrust{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def public_dir() -> Iterator[Path]:
    """A directory every user may read: programs the second user runs live here."""
    path = Path(tempfile.mkdtemp(prefix="asiojack-trust-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def public_peer(peer_bin: Path, public_dir: Path) -> Path:
    """The C peer, where the second user can run it."""
    dst = public_dir / "peer"
    shutil.copy(peer_bin, dst)
    dst.chmod(0o755)
    return dst


def run_peer(peer: Path, env: dict[str, str], *args: str,
             user: pwd.struct_passwd | None = None) -> tuple[int, dict[str, object], str]:
    """Run the peer to its end: (exit code, its JSON line, all it printed)."""
    kwargs: dict[str, object] = {}
    if user is not None:
        kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    out = subprocess.run([str(peer), *args], env=env, capture_output=True, text=True,
                         timeout=60, cwd="/", **kwargs)  # type: ignore[call-overload]
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    return out.returncode, (json.loads(lines[-1]) if lines else {}), out.stdout + out.stderr


def clean_env(**extra: str) -> dict[str, str]:
    """Our environment without any runtime directory, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_RUNTIME_DIR", "ASIOJACK_RUNTIME_DIR")}
    env.update(extra)
    return env


class Recorder:
    """fakeserver.py's ``record``, run as some user: logs every byte it is sent."""

    def __init__(self, public_dir: Path, sock: Path, user: pwd.struct_passwd | None) -> None:
        script = public_dir / "fakeserver.py"
        if not script.exists():
            shutil.copy(ROOT / "tests" / "fakeserver.py", script)
            script.chmod(0o644)
        self.log = public_dir / f"record-{time.monotonic_ns()}.log"
        self.log.touch()
        self.log.chmod(0o666)
        kwargs: dict[str, object] = {}
        if user is not None:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        # The system's Python: the second user may not reach ours (it may be
        # under /root), and the recorder needs only the standard library.
        python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable
        self.proc = subprocess.Popen([python, str(script), "record", str(sock),
                                      str(self.log)], stdout=subprocess.PIPE, text=True,
                                     cwd="/", **kwargs)  # type: ignore[call-overload]
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "LISTENING"

    def received(self) -> bytes:
        return self.log.read_bytes()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def autostart_past_a_recorder(public_dir: Path, directory: Path,
                              listener: pwd.struct_passwd | None, peer: Path,
                              env: dict[str, str], user: pwd.struct_passwd | None = None,
                              remove: Path | None = None
                              ) -> tuple[int, dict[str, object], str, bytes]:
    """Run the peer (``--autostart``) while a :class:`Recorder` of ``listener``
    listens on ``directory``/control.sock; then remove ``remove`` (default:
    ``directory``).

    Returns the peer's exit code, its JSON line, all it printed and every
    byte the recorder was sent.
    """
    recorder = Recorder(public_dir, directory / "control.sock", listener)
    try:
        code, result, out = run_peer(peer, env, "--autostart", "--seconds", "0.1", user=user)
        received = recorder.received()
    finally:
        recorder.stop()
        shutil.rmtree(remove or directory, ignore_errors=True)
    return code, result, out, received


# ------------------------------------------------------------------ item 1
@needs_root
def test_driver_refuses_a_fallback_dir_another_user_made(
        other_user: pwd.struct_passwd, public_dir: Path, public_peer: Path) -> None:
    """No XDG_RUNTIME_DIR: another user made /tmp/asiojack-<uid> first and serves there.

    The victim is the second user; the attacker is whoever else (here root)
    created the directory.  The driver must not send a byte there.
    """
    fallback = Path(f"/tmp/asiojack-{other_user.pw_uid}")
    shutil.rmtree(fallback, ignore_errors=True)
    fallback.mkdir(mode=0o777)
    fallback.chmod(0o777)
    code, result, out, received = autostart_past_a_recorder(
        public_dir, fallback, None, public_peer, clean_env(ASIOJACK_SERVER="false", HOME="/"),
        user=other_user)
    assert code == 1, out
    assert f"{fallback} belongs to uid 0" in str(result.get("message")), out
    assert "posing as the asiojack server" in str(result.get("message")), out
    assert received == b"", received   # not even a connection
    assert result["error"] == -6        # ASIOJACK_CLIENT_UNSAFE


@needs_root
def test_driver_refuses_a_dir_another_user_squats_in_an_open_xdg_runtime_dir(
        other_user: pwd.struct_passwd, public_dir: Path, public_peer: Path,
        tmp_path: Path) -> None:
    """XDG_RUNTIME_DIR writable by all: the attacker makes its asiojack/ first."""
    xdg = Path(tempfile.mkdtemp(prefix="xdg-", dir="/tmp"))
    xdg.chmod(0o1777)
    squat = xdg / "asiojack"
    squat.mkdir()
    os.chown(squat, other_user.pw_uid, other_user.pw_gid)
    code, result, out, received = autostart_past_a_recorder(
        public_dir, squat, other_user, public_peer,
        clean_env(XDG_RUNTIME_DIR=str(xdg), ASIOJACK_SERVER="false"), remove=xdg)
    assert code == 1, out
    assert f"belongs to uid {other_user.pw_uid}" in str(result.get("message")), out
    assert received == b"", received


@needs_root
def test_driver_refuses_a_server_of_another_uid(
        other_user: pwd.struct_passwd, public_dir: Path, peer_bin: Path) -> None:
    """The directory is ours and private, but the socket in it is another user's.

    The second user listens; the socket file is then moved into our runtime
    directory (what only root could do, or a bug).  The server's uid
    (SO_PEERCRED) is checked before HELLO tells it anything.
    """
    theirs = Path(tempfile.mkdtemp(prefix="theirs-", dir="/tmp"))
    os.chown(theirs, other_user.pw_uid, other_user.pw_gid)
    ours = Path(tempfile.mkdtemp(prefix="ours-", dir="/tmp"))   # root's, 0700
    recorder = Recorder(public_dir, theirs / "control.sock", other_user)
    try:
        os.rename(theirs / "control.sock", ours / "control.sock")
        code, result, out = run_peer(peer_bin, clean_env(ASIOJACK_RUNTIME_DIR=str(ours)),
                                     "--seconds", "0.1")
        received = recorder.received()
    finally:
        recorder.stop()
        shutil.rmtree(theirs, ignore_errors=True)
        shutil.rmtree(ours, ignore_errors=True)
    assert code == 1, out
    message = str(result.get("message"))
    assert f"runs as uid {other_user.pw_uid}" in message and "not as you" in message, out
    assert b"raw.exe" not in received and b"peer.exe" not in received
    assert received in (b"", b"<connection>"), received   # connected, said nothing


@pytest.mark.parametrize("kind", ["symlink", "open"])
def test_driver_refuses_a_runtime_dir_that_is_not_private(
        kind: str, asiojack: AsiojackServer, peer_bin: Path, tmp_path: Path) -> None:
    """A symlink to the real directory, or the directory open to others: refused."""
    if kind == "symlink":
        runtime = tmp_path / "link"
        runtime.symlink_to(asiojack.runtime)
        words = "is a symbolic link"
    else:
        runtime = asiojack.runtime
        runtime.chmod(0o755)
        words = "is open to other users (mode 0755"
    try:
        code, result, out = run_peer(peer_bin, dict(asiojack.env,
                                                    ASIOJACK_RUNTIME_DIR=str(runtime)),
                                     "--seconds", "0.1")
    finally:
        asiojack.runtime.chmod(0o700)
    assert code == 1 and words in str(result.get("message")), out
    assert "hello from" not in asiojack.log_text()


def test_segment_geometry_rewritten_after_the_check_cannot_move_buffers(
        peer_bin: Path, tmp_path: Path) -> None:
    """A server rewrites channel_stride, audio_offset and n_inputs mid-stream.

    The driver computes buffer addresses from the geometry it copied and
    checked at open, so the host's copies stay inside the segment: no
    SIGSEGV, every cycle handled.
    """
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    server = HostileServer(runtime / "control.sock", "scribble")
    try:
        code, result, out = run_peer(peer_bin, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime)),
                                     "--seconds", "1")
    finally:
        server.close()
    assert code == 0, out                        # -11 (SIGSEGV) before the fix
    assert server.cycles > 40, server.cycles     # the rewrite came at cycle 20
    assert int(str(result["handled"])) > 40, result


def test_driver_in_wine_keeps_the_geometry_it_checked(prefix: WinePrefix, hosts: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """The PE driver sizes and indexes by the layout the unix side checked at open.

    The server rewrites n_inputs, channel_stride, audio_offset and
    bytes_per_sample when createBuffers arrives: the driver's clearing of
    the output buffers (frames x bytes per sample) and its channel checks
    use its own copy, so a real ASIO host under Wine streams on.
    """
    from asiojack_rig.hostile import ASE_OK, HostProcess

    host_exe = hosts["resethost"]
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    server = HostileServer(runtime / "control.sock", "scribble-at-create")
    host = HostProcess(host_exe, ["--seconds", "1.5"],
                       prefix.run_env({"ASIOJACK_RUNTIME_DIR": str(runtime)}))
    try:
        result = host.finish(90)
    finally:
        host.kill()
        server.close()
    assert server.rewritten
    device = host.of("device")[0]
    assert (device["inputs"], device["outputs"]) == (2, 2), device
    assert host.of("started") and host.of("started")[0]["code"] == ASE_OK, host.tail()
    assert max(e["callbacks"] for e in host.of("tick")) > 10, host.tail()
    assert "result" in result, host.tail()


@pytest.mark.parametrize(("behaviour", "words"), [
    ("unsealed", "not sealed against resizing"),
    ("short", "the server announced"),
    ("open", "not a private file of yours"),
    pytest.param("foreign", "not a private file of yours (uid 65534", marks=needs_root),
])
def test_driver_refuses_a_segment_it_cannot_trust(behaviour: str, words: str,
                                                  peer_bin: Path, tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    server = HostileServer(runtime / "control.sock", behaviour)
    try:
        code, result, out = run_peer(peer_bin, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime)),
                                     "--seconds", "0.2")
    finally:
        server.close()
    assert code == 1 and words in str(result.get("message")), out
    assert result["error"] == -5   # ASIOJACK_CLIENT_SHM


# ------------------------------------------------------------------ item 2
def test_autostart_log_never_follows_a_symlink(peer_bin: Path, tmp_path: Path) -> None:
    """server.log is a symlink to a file of the user's: nothing lands in that file."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("# the user's own file\n")
    (runtime / "server.log").symlink_to(bashrc)
    # A "server" that only prints: without the check its words went to bashrc.
    code, result, out = run_peer(peer_bin, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime),
                                                     ASIOJACK_SERVER="echo TRACEBACK"),
                                 "--autostart", "--seconds", "0.1")
    time.sleep(0.3)   # what a spawned echo would have written has been written
    assert bashrc.read_text() == "# the user's own file\n"
    assert code == 1 and "symbolic link" in str(result.get("message")), out


def test_settings_log_never_follows_a_symlink(tmp_path: Path) -> None:
    """The control panel's settings.log is opened the same checked way."""
    logopen = build_peer(tmp_path / "logopen", "logopen")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("# the user's own file\n")
    (runtime / "settings.log").symlink_to(bashrc)
    code, result, out = run_peer(logopen, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime)),
                                 "settings.log", "TRACEBACK\n")
    assert code == 1 and "symbolic link" in str(result.get("error")), out
    assert bashrc.read_text() == "# the user's own file\n"
    (runtime / "settings.log").unlink()
    code, result, out = run_peer(logopen, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime)),
                                 "settings.log", "a line\n")
    assert code == 0 and (runtime / "settings.log").read_text() == "a line\n", out
    assert stat.S_IMODE((runtime / "settings.log").stat().st_mode) == 0o600


# ------------------------------------------------------------------ item 3
def serve(runtime: Path, jackd: Jackd | None, tmp_path: Path,
          timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ASIOJACK_RUNTIME_DIR=str(runtime),
               ASIOJACK_CONFIG=str(tmp_path / "none.toml"))
    if jackd is not None:
        env["JACK_DEFAULT_SERVER"] = jackd.name
    return subprocess.run([sys.executable, "-m", "pyjack_side", "serve"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=timeout)


def test_server_refuses_a_symlinked_runtime_dir_and_leaves_its_target_alone(
        tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    target.chmod(0o755)
    link = tmp_path / "run"
    link.symlink_to(target)
    out = serve(link, None, tmp_path)
    assert out.returncode == 1, out
    assert "is a symbolic link" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o755   # not chmod'ed through the link
    assert not (target / "control.sock").exists()


@needs_root
def test_server_refuses_another_users_runtime_dir_in_words(
        other_user: pwd.struct_passwd, tmp_path: Path) -> None:
    squat = tmp_path / "run"
    squat.mkdir(mode=0o700)
    os.chown(squat, other_user.pw_uid, other_user.pw_gid)
    out = serve(squat, None, tmp_path)
    assert out.returncode == 1, out
    assert f"belongs to uid {other_user.pw_uid}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr, out.stderr


def test_server_refuses_a_runtime_dir_open_to_others(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir()
    runtime.chmod(0o777)
    out = serve(runtime, None, tmp_path)
    assert out.returncode == 1 and "open to other users" in out.stderr, out
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o777
    assert not (runtime / "control.sock").exists()


# ------------------------------------------------------------------ item 4
def test_segment_is_a_sealed_memfd_a_peer_cannot_resize(
        asiojack: AsiojackServer, peer_bin: Path) -> None:
    """A peer shrinking its segment would SIGBUS the JACK thread: the seals forbid it."""
    with RawClient(asiojack.socket) as raw:
        raw.hello(exe="shrinker.exe")
        raw.open()
        fd = raw.segment_fd
        seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        assert seals & fcntl.F_SEAL_SHRINK and seals & fcntl.F_SEAL_GROW
        assert seals & fcntl.F_SEAL_SEAL
        size = os.fstat(fd).st_size
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 4096)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, size * 2)
        assert os.fstat(fd).st_size == size
        raw.create_buffers(256, range(2), range(2))
        raw.request(lib.ASIOJACK_MSG_START)
        seg = raw.segment()
        wait_for(lambda: seg.cycles > 10, 5, "cycles in the segment")
        # No name in /dev/shm another user could have taken first.
        pid = asiojack.proc.pid
        assert not list(Path("/dev/shm").glob(f"asiojack-*-{pid}-*"))
    peer = start_peer(peer_bin, asiojack, "--seconds", "0.3")
    assert peer.finish()["returncode"] == 0
    assert asiojack.proc.poll() is None
    wait_for(lambda: not server_segments(asiojack), 5, "the sessions' segments to go")


# ----------------------------------------------------------------- item 10
def open_as(raw: RawClient, exe: str, wish: str | bytes) -> str:
    """HELLO as program ``exe``, OPEN wishing for ``wish``: the client name the server gave."""
    raw.hello(exe=exe)
    raw.send(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open", client_name=wish))
    msg_type, payload = raw.reply()
    if msg_type != lib.ASIOJACK_MSG_OPENED:
        err = ffi.from_buffer("struct asiojack_msg_error *", payload)
        raise AssertionError(ffi.string(err.message).decode())
    opened = ffi.from_buffer("struct asiojack_msg_opened *", bytearray(payload))
    return ffi.string(opened.client_name).decode()  # type: ignore[no-any-return]


def opened_name(asiojack: AsiojackServer, exe: str, wish: str = "") -> str:
    with RawClient(asiojack.socket) as raw:
        return open_as(raw, exe, wish)


def test_server_names_the_client_whatever_the_driver_wishes(asiojack: AsiojackServer) -> None:
    # What the driver sends: the exe name and its base name as the wish.
    assert opened_name(asiojack, "REAPER.exe", "REAPER") == "reaper"
    assert opened_name(asiojack, "C:\\Program Files\\x\\Live 11.exe", "Live 11") == "live 11"
    assert opened_name(asiojack, "evil.exe", "a:b\x01c") == "abc"


def test_a_long_non_ascii_name_is_cut_at_a_character_and_opens(
        asiojack: AsiojackServer, jackd256: Jackd) -> None:
    base = "Звукорежиссёр-" * 8              # 2 bytes a letter: far over 63 bytes
    # What the driver sends: the exe name, and its base name cut to the
    # 64-byte field (here in the middle of a letter).
    wish = base.encode()[:63]
    names = []
    with RawClient(asiojack.socket) as first, RawClient(asiojack.socket) as second:
        for raw in (first, second):
            names.append(open_as(raw, base + ".exe", wish))
        # Both are JACK clients under those names.
        watcher = jackd256.client("watch")
        try:
            assert all(watcher.get_ports(f"{name}:in_1") for name in names), names
        finally:
            watcher.close()
    a, b = names
    assert len(a.encode()) <= 60 and a.startswith("звукорежиссёр-"), a
    assert "\ufffd" not in a, a
    assert b == a + "-2", (a, b)


def test_a_newline_in_a_program_name_cannot_forge_a_log_line(asiojack: AsiojackServer) -> None:
    forged = "asiojack: WARNING forged: the JACK server was taken over"
    opened_name(asiojack, f"evil.exe\n{forged}")
    log = asiojack.log_text()
    assert "hello from evil.exe\\n" in log, log
    assert not any(line.startswith(forged) for line in log.splitlines()), log


# ----------------------------------------------------------------- item 12
def test_a_late_reply_is_never_taken_for_the_next_one(tmp_path: Path) -> None:
    """START's reply comes after its timeout; STOP must not read it as its own."""
    replies = build_peer(tmp_path / "replies", "replies", "-DASIOJACK_REPLY_TIMEOUT_MS=500")
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    server = HostileServer(runtime / "control.sock", "late", late_s=0.8)
    try:
        code, result, out = run_peer(replies, clean_env(ASIOJACK_RUNTIME_DIR=str(runtime)))
    finally:
        server.close()
    assert code == 0, out
    assert result["first"] == -3 and "did not answer" in str(result["first_error"]), result
    # Before the fix: second = -4 with "late answer to the first request".
    assert result["second"] == -3, result
    assert "late answer" not in str(result["second_error"]), result
    assert "not connected" in str(result["second_error"]), result


def test_a_second_server_refuses_while_the_first_runs(jackd256: Jackd, tmp_path: Path,
                                                      peer_bin: Path) -> None:
    """Even with the first one's socket gone (unlinked by a racing server), one only."""
    first = start_server(tmp_path, jackd256)
    try:
        first.socket.unlink()
        out = serve(first.runtime, jackd256, tmp_path)
        assert out.returncode == 1, (out.stdout, out.stderr)
        assert "another asiojack server is running" in out.stderr, out.stderr
        assert first.proc.poll() is None
    finally:
        first.stop()
    # Once the first is gone, so is its lock: a new server starts there.
    env = dict(first.env)
    second = subprocess.Popen([sys.executable, "-m", "pyjack_side", "serve"], env=env,
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    try:
        wait_for(lambda: first.socket.exists() or second.poll() is not None, 15,
                 "a new server on the same directory")
        assert second.poll() is None, second.communicate()[0]
    finally:
        second.terminate()
        second.wait(10)


def test_doctor_warns_about_a_missing_or_open_xdg_runtime_dir(tmp_path: Path) -> None:
    env = clean_env(WINEPREFIX=str(tmp_path / "no-prefix"))
    out = subprocess.run([sys.executable, "-m", "pyjack_side", "doctor"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "[warn] runtime dir: XDG_RUNTIME_DIR is not set" in out.stdout, out.stdout
    open_dir = tmp_path / "xdg"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    env["XDG_RUNTIME_DIR"] = str(open_dir)
    out = subprocess.run([sys.executable, "-m", "pyjack_side", "doctor"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert "[warn] runtime dir: XDG_RUNTIME_DIR is unsafe" in out.stdout, out.stdout
    assert "open to other users" in out.stdout, out.stdout


def auto_servers(runtime: Path) -> list[int]:
    """Pids of auto-started servers of this runtime directory."""
    pids = []
    for pid in subprocess.run(["pgrep", "-f", "pyjack_side serve --auto"], capture_output=True,
                              text=True).stdout.split():
        try:
            if str(runtime).encode() in Path(f"/proc/{pid}/environ").read_bytes():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def test_two_programs_autostarting_at_once_share_one_server(
        jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    """Each starts a server; one server wins the lock, and both programs reach it."""
    runtime = tmp_path / "run"
    env = clean_env(ASIOJACK_RUNTIME_DIR=str(runtime), JACK_DEFAULT_SERVER=jackd256.name,
                    ASIOJACK_CONFIG=str(tmp_path / "none.toml"),
                    ASIOJACK_STATE_DIR=str(tmp_path / "state"),
                    ASIOJACK_SERVER=f"{sys.executable} -m pyjack_side")
    try:
        peers = [subprocess.Popen([str(peer_bin), "--autostart", "--seconds", "0.5",
                                   "--exe", f"twin{i}.exe"], env=env, cwd=tmp_path,
                                  stdout=subprocess.PIPE, text=True) for i in range(2)]
        outs = [p.communicate(timeout=60)[0] for p in peers]
        log = (runtime / "server.log").read_text()
        assert [p.returncode for p in peers] == [0, 0], (outs, log)
        wait_for(lambda: len(auto_servers(runtime)) == 1, 10, "one server left")
        assert log.count("asiojack: serving on") == 1, log   # one server, ever
    finally:
        for pid in auto_servers(runtime):
            os.kill(pid, 15)
