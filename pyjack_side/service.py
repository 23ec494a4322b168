# SPDX-License-Identifier: LGPL-2.1-or-later
"""systemd user units: the server is there before any program asks for it.

``asiojack.socket`` makes the control socket (``%t/asiojack/control.sock``,
the path the driver computes from ``$XDG_RUNTIME_DIR``) and starts
``asiojack.service`` on the first connection, handing it the listening
socket (see :func:`pyjack_side.server.systemd_socket`).  That is what lets
a program in a container with no ``asiojack`` inside (Proton's Steam
runtime) reach a server: the driver's own auto-start would run
``asiojack`` inside the container, where it does not exist.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SOCKET_UNIT = "asiojack.socket"
SERVICE_UNIT = "asiojack.service"


def unit_dir() -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``: where a user's own units live."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def socket_unit() -> str:
    """The text of asiojack.socket."""
    return """\
# Written by `asiojack install-service`.
[Unit]
Description=asiojack control socket (ASIO for Wine programs, through JACK)

[Socket]
# The path the driver computes: $XDG_RUNTIME_DIR/asiojack/control.sock
ListenStream=%t/asiojack/control.sock
SocketMode=0600
DirectoryMode=0700
# One server for every connection: it takes the listening socket.
Accept=no

[Install]
WantedBy=sockets.target
"""


def service_unit(python: str | None = None) -> str:
    """The text of asiojack.service, running the server with ``python``."""
    python = python or sys.executable
    return f"""\
# Written by `asiojack install-service`.
[Unit]
Description=asiojack server (ASIO for Wine programs, through JACK)
Requires={SOCKET_UNIT}
After={SOCKET_UNIT}

[Service]
Type=simple
ExecStart={python} -m pyjack_side serve
# Never a runtime's libraries in the server (a container's old libjack).
UnsetEnvironment=LD_LIBRARY_PATH LD_PRELOAD
# The JACK server of programs that name none: systemctl --user edit
# asiojack.service, Environment=JACK_DEFAULT_SERVER=...; programs that
# set JACK_DEFAULT_SERVER themselves get theirs whatever this says.
Restart=on-failure

[Install]
Also={SOCKET_UNIT}
"""


def install(directory: Path | None = None, enable: bool = True) -> list[str]:
    """Write both units into ``directory`` and, with ``enable``, start the socket.

    Returns what was done, in words; a systemctl that cannot reach the
    user's manager is reported, not raised: the files are still in place.
    """
    directory = directory or unit_dir()
    directory.mkdir(parents=True, exist_ok=True)
    steps = []
    for name, text in ((SOCKET_UNIT, socket_unit()), (SERVICE_UNIT, service_unit())):
        path = directory / name
        tmp = path.with_name(name + ".new")
        tmp.write_text(text)
        os.replace(tmp, path)
        steps.append(f"wrote {path}")
    if not enable:
        return steps
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        steps.append("systemctl not found: start the server yourself (asiojack serve)")
        return steps
    for args in (["daemon-reload"], ["enable", "--now", SOCKET_UNIT]):
        r = subprocess.run([systemctl, "--user", *args], capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0:
            steps.append(f"systemctl --user {' '.join(args)} failed: {r.stderr.strip()} "
                         f"(no user session manager?  Log in as this user and run "
                         f"`systemctl --user enable --now {SOCKET_UNIT}`)")
            return steps
    steps.append(f"enabled and started {SOCKET_UNIT}: the server starts on the first "
                 f"connection")
    return steps


__all__ = ["install", "socket_unit", "service_unit", "unit_dir", "SOCKET_UNIT",
           "SERVICE_UNIT"]
