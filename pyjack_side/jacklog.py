# SPDX-License-Identifier: LGPL-2.1-or-later
"""libjack's own messages, through asiojack's logger instead of the terminal.

libjack prints its errors and notices ("Cannot connect to server socket",
"JackShmReadWritePtr::~JackShmReadWritePtr - Init not done ...") straight
to stderr.  asiojack says in its own words what went wrong, so those lines
go to the ``pyjack_side.libjack`` logger at DEBUG level: ``-v`` shows them,
nothing else does.  libjack may call the handlers from its own threads;
the logging module is thread-safe, and none of asiojack's real-time code
calls into libjack's message functions.  jack_client_close kills a client's
threads at any instruction (asynchronous cancellation), so a client must not
be closed while one of them may still be in a handler: see
Session._await_shutdown_thread for the one moment that happens (JACK dying).
"""

import logging

log = logging.getLogger("pyjack_side.libjack")

_routed = False


def _error(message: str) -> None:
    log.debug("libjack error: %s", message)


def _info(message: str) -> None:
    log.debug("libjack: %s", message)


def route_libjack_messages() -> bool:
    """Install the handlers (once per process); False if libjack is not there."""
    global _routed
    if _routed:
        return True
    try:
        import jack
    except OSError:  # no libjack at all: nothing of it can print either
        return False
    jack.set_error_function(_error)
    jack.set_info_function(_info)
    _routed = True
    return True


__all__ = ["route_libjack_messages"]
