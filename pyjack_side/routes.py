# SPDX-License-Identifier: LGPL-2.1-or-later
"""Saved routes: a program's JACK connections, kept from one run to the next.

When a session closes, the connections of its ports are saved under its
JACK client name (``reaper``: ``in_1`` <- ``system:capture_1``, ...).  When a
program of that name opens again, they are restored, and only a program
never seen before is auto-connected.  The file is JSON, private to the user.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

#: port short name -> the full names of the ports it is connected to
Routes = dict[str, list[str]]


def load_all(path: Path) -> dict[str, Routes]:
    """Every saved client's routes; nothing (and a warning) for a damaged file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning("saved routes in %s not used: %s", path, err)
        return {}
    if not isinstance(data, dict):
        log.warning("saved routes in %s not used: not a JSON object", path)
        return {}
    routes: dict[str, Routes] = {}
    for client, ports in data.items():
        if isinstance(ports, dict):
            routes[client] = {str(port): [str(peer) for peer in peers]
                              for port, peers in ports.items() if isinstance(peers, list)}
    return routes


def load(path: Path, client: str) -> Routes | None:
    """The saved routes of one client, None if it has none."""
    return load_all(path).get(client)


def _damaged(path: Path) -> bool:
    try:
        return not isinstance(json.loads(path.read_text(encoding="utf-8")), dict)
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True


def save(path: Path, client: str, routes: Routes) -> None:
    """Keep ``client``'s routes (an atomic rewrite of the file, mode 0600).

    A damaged file is not overwritten but moved aside, so nothing the user
    may want to repair by hand is lost.
    """
    if _damaged(path):
        aside = path.with_name(path.name + ".damaged")
        os.replace(path, aside)
        log.warning("saved routes in %s were damaged: kept as %s", path, aside)
    everything = load_all(path)
    everything[client] = routes
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(everything, f, indent=1, sort_keys=True)
    os.replace(tmp, path)
