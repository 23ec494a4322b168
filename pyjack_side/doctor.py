# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack doctor``: what stands between a Windows program and JACK."""

from __future__ import annotations

import json
import os
import resource
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pyjack_side import wine
from pyjack_side.paths import check_private_dir, runtime_dir, socket_path

#: what winedll/unix/rt.c uses when $ASIOJACK_RT_PRIORITY asks for real-time
#: without a number (only consulted when JACK itself is not real-time)
RT_DEFAULT_PRIORITY = 70


@dataclass
class Check:
    """One finding: ``ok`` is True (fine), False (broken) or None (a warning)."""

    name: str
    ok: bool | None
    detail: str

    def line(self) -> str:
        """The finding as one printable line."""
        mark = {True: "ok  ", False: "FAIL", None: "warn"}[self.ok]
        return f"[{mark}] {self.name}: {self.detail}"


def check_wine() -> Check:
    """Wine is installed and runs."""
    try:
        binary = wine.wine_binary()
        version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout.strip()
    except (wine.WineError, OSError, subprocess.TimeoutExpired) as err:
        return Check("wine", False, str(err))
    return Check("wine", True, f"{version} ({binary})")


def check_driver_built() -> Check:
    """The package carries a built driver."""
    try:
        return Check("driver build", True, str(wine.packaged_driver_dir()))
    except wine.WineError as err:
        return Check("driver build", False, str(err))


def check_prefix(prefix: Path) -> list[Check]:
    """The prefix exists, lists the driver, and Wine can find both halves."""
    if not (prefix / "system.reg").exists():
        return [Check("prefix", False, f"no Wine prefix at {prefix}")]
    arch = wine.prefix_arch(prefix)
    checks = [Check("prefix", True, f"{prefix} ({arch})")]
    if arch == "win32":
        try:
            checks.append(Check("32-bit wine", True, wine.wine32_binary()))
        except wine.WineError as err:
            checks.append(Check("32-bit wine", False, f"{prefix} is a 32-bit prefix: {err}"))
            return checks
    if not wine.is_registered(prefix):
        checks.append(Check("registered", False,
                            f"asiojack is not registered: run asiojack register --prefix {prefix}"))
        return checks
    checks.append(Check("registered", True, "HKLM\\Software\\ASIO\\asiojack"))
    user_dir = wine.user_driver_dir()
    system_dir: Path | None
    try:
        system_dir = wine.wine_lib_dir()
    except wine.WineError:
        system_dir = None
    if system_dir and (system_dir / "x86_64-windows" / wine.DLL).exists():
        checks.append(Check("builtin files", True, f"in Wine's own {system_dir}"))
    elif (user_dir / "x86_64-windows" / wine.DLL).exists():
        on_path = str(user_dir) in os.environ.get("WINEDLLPATH", "").split(":")
        checks.append(Check("builtin files", True if on_path else None,
                            f"in {user_dir}" + ("" if on_path else
                                                f": run Wine with WINEDLLPATH={user_dir}")))
    else:
        checks.append(Check("builtin files", False,
                            "asiojack.dll/.so are installed nowhere Wine looks: "
                            f"run asiojack register --prefix {prefix}"))
    return checks


def check_jack() -> Check:
    """A JACK server answers."""
    import jack

    try:
        client = jack.Client("asiojack-doctor", no_start_server=True)
    except jack.JackError:
        server = os.environ.get("JACK_DEFAULT_SERVER", "default")
        return Check("jack", False, f"JACK server '{server}' not running")
    try:
        return Check("jack", True, f"{client.samplerate} Hz, {client.blocksize} frames")
    finally:
        client.close()


def check_runtime_dir() -> Check:
    """XDG_RUNTIME_DIR is set and private; asiojack's directory in it is safe."""
    path = runtime_dir()
    if not os.environ.get("ASIOJACK_RUNTIME_DIR"):
        xdg = os.environ.get("XDG_RUNTIME_DIR")
        if not xdg:
            return Check("runtime dir", None,
                         f"XDG_RUNTIME_DIR is not set: asiojack falls back to {path}, a "
                         "name another user could take first (the driver then refuses to "
                         "connect rather than talk to their server). Log in through a "
                         "session that sets it (pam_systemd), or set it to a private "
                         "directory (yours, mode 0700).")
        problem = check_private_dir(Path(xdg))
        if problem:
            return Check("runtime dir", None,
                         f"XDG_RUNTIME_DIR is unsafe: {problem}. Another user could pose as "
                         "the asiojack server there (the driver refuses to connect then); "
                         "point it at a private directory (yours, mode 0700).")
    if os.path.lexists(path):
        problem = check_private_dir(path)
        if problem:
            return Check("runtime dir", False,
                         f"{problem}: the driver and the server refuse it; remove it")
    return Check("runtime dir", True, f"{path} (private: yours, mode 0700, not a link)")


def check_server() -> Check:
    """The asiojack server answers and speaks our protocol version."""
    from pyjack_side.abi import lib
    from pyjack_side.protocol import new, pack

    path = socket_path()
    if not path.exists():
        return Check("asiojack server", None,
                     f"not running ({path}); the driver starts it when a program opens it")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(str(path))
            _, uid, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                         struct.calcsize("3i")))
            if uid != os.getuid():
                return Check("asiojack server", False,
                             f"{path} is served by uid {uid}, not by you: another user may be "
                             "posing as the asiojack server (the driver refuses it)")
            s.sendall(pack(lib.ASIOJACK_MSG_HELLO,
                           new("struct asiojack_msg_hello",
                               protocol_version=lib.ASIOJACK_PROTOCOL_VERSION,
                               pid=os.getpid(), bits=64, exe_name="asiojack-doctor")))
            header = s.recv(16, socket.MSG_WAITALL)
            _, msg_type, size, _ = struct.unpack("<4I", header)
            payload = s.recv(size, socket.MSG_WAITALL)
    except OSError as err:
        return Check("asiojack server", False, f"{path}: {err}")
    if msg_type == lib.ASIOJACK_MSG_WELCOME:
        from pyjack_side.abi import ffi

        welcome = ffi.from_buffer("struct asiojack_msg_welcome *", payload)
        return Check("asiojack server", True,
                     f"version {ffi.string(welcome.server_version).decode()}, protocol "
                     f"{welcome.protocol_version}, pid {welcome.server_pid}")
    return Check("asiojack server", False, f"answered with message type {msg_type}: "
                 + payload[8:].split(b"\0")[0].decode(errors="replace"))


def _server_log_lines() -> list[str]:
    try:
        return (socket_path().parent / "server.log").read_text(errors="replace").splitlines()
    except OSError:
        return []


def last_rt_refusal() -> str | None:
    """The server log's latest word on a driver thread refused real-time."""
    refusals = [line for line in _server_log_lines() if "without real-time priority" in line]
    return refusals[-1].split(": ", 2)[-1] if refusals else None


def last_driver_rt_priority() -> int | None:
    """SCHED_FIFO priority the driver's thread got in the last session that streamed.

    The driver writes it into the segment (``peer_rt_priority``, 0 = none) and
    the server logs it when the session closes.  None: no such session logged.
    """
    got = None
    for line in _server_log_lines():
        if "closing session " not in line:
            continue
        try:
            counters = json.loads(line.split("closing session ", 1)[1].split(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        if isinstance(counters, dict) and counters.get("cycles"):
            got = int(counters.get("peer_rt_priority", 0))
    return got


def jack_thread_priority() -> int | None:
    """SCHED_FIFO priority JACK gives its clients' threads; -1: not real-time; None: no JACK."""
    import jack

    from pyjack_side.session import jack_client_rt_priority

    try:
        client = jack.Client("asiojack-doctor", no_start_server=True)
    except jack.JackError:
        return None
    try:
        return jack_client_rt_priority(client)
    finally:
        client.close()


def driver_rt_priority(jack_priority: int, env_value: str | None) -> int:
    """SCHED_FIFO priority the driver's callback thread asks for; 0: none.

    As winedll/pe/callback.c and winedll/unix/rt.c decide it: one below the
    session's JACK thread (which waits for it), none when JACK is not
    real-time unless ``$ASIOJACK_RT_PRIORITY`` (``env_value``) asks for some
    (a number, 0 or less = none; anything else = 70).
    """
    if jack_priority >= 1:
        return min(max(jack_priority - 1, 1), 99)
    if env_value is None:
        return 0
    try:
        wanted = int(env_value)
    except ValueError:
        return RT_DEFAULT_PRIORITY
    return 0 if wanted <= 0 else min(wanted, 99)


def check_realtime() -> Check:
    """The driver's callback thread may use the SCHED_FIFO priority it will ask for."""
    refusal = last_rt_refusal()
    if refusal:
        return Check("real-time", False, f"last session: {refusal}")
    got = last_driver_rt_priority()
    last = "" if got is None else (
        f"; the last session's audio thread ran at SCHED_FIFO {got}" if got > 0
        else "; the last session's audio thread ran without real-time priority")
    jack_priority = jack_thread_priority()
    env_value = os.environ.get("ASIOJACK_RT_PRIORITY")
    if jack_priority is None:
        need = None
        wanted = "one below JACK's thread (JACK is not running, so not known yet)"
    else:
        need = driver_rt_priority(jack_priority, env_value)
        if need == 0:
            why = ("JACK runs without real-time scheduling" if jack_priority < 1
                   and env_value is None else "ASIOJACK_RT_PRIORITY disables it")
            return Check("real-time", True,
                         f"{why}, so the driver's audio thread asks for none{last}")
        wanted = (f"{need} (one below JACK's thread, {jack_priority})" if jack_priority >= 1
                  else f"{need} (ASIOJACK_RT_PRIORITY)")
    soft, _ = resource.getrlimit(resource.RLIMIT_RTPRIO)
    if os.geteuid() == 0:
        return Check("real-time", True,
                     f"running as root: SCHED_FIFO {wanted} allowed{last}")
    if soft == resource.RLIM_INFINITY or (need is not None and soft >= need):
        return Check("real-time", True,
                     f"RLIMIT_RTPRIO {soft}: SCHED_FIFO {wanted} allowed{last}")
    return Check("real-time", None,
                 f"RLIMIT_RTPRIO is {soft}: the host's audio thread asks for SCHED_FIFO "
                 f"{wanted} and may not get it, so it may miss deadlines under load{last}. "
                 "Add your user to the 'audio' group with rtprio 95 in "
                 "/etc/security/limits.d/ and log in again.")


def check_memlock() -> Check:
    """The server may lock session segments in RAM (RLIMIT_MEMLOCK)."""
    from pyjack_side import config as config_mod
    from pyjack_side.abi import lib

    try:
        cfg = config_mod.load()
    except config_mod.ConfigError:
        cfg = config_mod.Config()
    need = int(lib.asiojack_shm_size(cfg.inputs, cfg.outputs, lib.ASIOJACK_MAX_FRAMES))
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    shown = "unlimited" if soft == resource.RLIM_INFINITY else f"{soft // 1024} KiB"
    what = f"RLIMIT_MEMLOCK {shown}, a session of {cfg.inputs}x{cfg.outputs} channels " \
           f"needs {need // 1024} KiB"
    if os.geteuid() == 0:
        return Check("memory lock", True, f"{what}; running as root: segments are locked")
    if soft == resource.RLIM_INFINITY or soft >= need:
        return Check("memory lock", True, f"{what}: segments are locked in RAM")
    return Check("memory lock", None,
                 f"{what}: segments are only prefaulted and could be swapped out "
                 "(an xrun when the page comes back). Raise it with memlock in "
                 "/etc/security/limits.d/ (e.g. '@audio - memlock unlimited') and log in again.")


def run(prefix: Path) -> list[Check]:
    """All checks, in the order a problem would be met."""
    return [check_wine(), check_driver_built(), *check_prefix(prefix), check_jack(),
            check_runtime_dir(), check_server(), check_realtime(), check_memlock()]
