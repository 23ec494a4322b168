# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where asiojack keeps its per-user files.

The driver (bridge/client/client.c) resolves the same places: keep the two in step.
"""

import os
import stat
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


class UnsafeDirError(PermissionError):
    """A runtime directory another user could reach: refused, never repaired."""


def check_private_dir(path: Path) -> str | None:
    """What is unsafe about ``path`` as a private directory, or None if it is safe.

    Safe means: a real directory (lstat: a symbolic link is refused, never
    followed), owned by us, with no access for group or others.  The driver
    (bridge/client/client.c, private_dir) applies the same rule.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return f"{path} does not exist"
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link (to {os.readlink(path)})"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory"
    if st.st_uid != os.getuid():
        return (f"{path} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}): "
                "another user may be posing as the asiojack server")
    if st.st_mode & 0o077:
        return f"{path} is open to other users (mode {stat.S_IMODE(st.st_mode):04o}, not 0700)"
    return None


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if missing; refuse one that is not private.

    Raises :class:`UnsafeDirError` with words (what is wrong, what to do)
    for a symbolic link, another user's directory or one open to others.
    Nothing is chmod'ed or followed: a directory that was open to others
    may already hold someone else's files.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    problem = check_private_dir(path)
    if problem:
        raise UnsafeDirError(f"unsafe runtime directory: {problem}; remove it "
                             "(or set XDG_RUNTIME_DIR to a private directory) and try again")
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
