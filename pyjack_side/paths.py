# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where asiojack keeps its per-user files.

The driver (bridge/client/client.c) resolves the same places: keep the two in step.
"""

import os
from pathlib import Path


def runtime_dir() -> Path:
    """Directory of the control socket and the server log.

    ``$ASIOJACK_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/asiojack``, else
    ``/tmp/asiojack-<uid>``.
    """
    explicit = os.environ.get("ASIOJACK_RUNTIME_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg:
        return Path(xdg) / "asiojack"
    return Path(f"/tmp/asiojack-{os.getuid()}")


def socket_path() -> Path:
    """The control socket the driver connects to."""
    return runtime_dir() / "control.sock"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) and refuse one that others can enter."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"{path} belongs to uid {st.st_uid}, not to you")
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def config_path() -> Path:
    """The configuration file: ``$ASIOJACK_CONFIG`` or the XDG config home."""
    explicit = os.environ.get("ASIOJACK_CONFIG")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "asiojack" / "config.toml"


def routes_path() -> Path:
    """Where each program's JACK connections are kept between runs."""
    explicit = os.environ.get("ASIOJACK_STATE_DIR")
    if explicit:
        return Path(explicit) / "routes.json"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "asiojack" / "routes.json"
