# SPDX-License-Identifier: LGPL-2.1-or-later
"""A JACK client with latency of its own, for the latency tests.

JACK-Client has no latency API, so this talks to libjack through ctypes:
client ``src`` with an output port ``src:out`` claiming CAPTURE frames of
capture latency (a "device" feeding the program) and an input port
``src:in`` claiming PLAYBACK frames of playback latency (a "device" the
program feeds).  It connects ``src:out`` to INTO and FROM to ``src:in``,
prints "READY", and stays for SECONDS.  It runs in its own process, so
that it loads whichever libjack LD_LIBRARY_PATH names (PipeWire's).

    python latency_source.py INTO FROM CAPTURE PLAYBACK SECONDS
"""

from __future__ import annotations

import ctypes
import sys
import time


class Range(ctypes.Structure):
    """jack_latency_range_t."""

    _fields_ = [("min", ctypes.c_uint32), ("max", ctypes.c_uint32)]


def main(into: str, source: str, capture: int, playback: int, seconds: float) -> int:
    """Run the client; 0 when it connected."""
    lib = ctypes.CDLL("libjack.so.0")
    ptr = ctypes.c_void_p
    lib.jack_client_open.restype = ptr
    lib.jack_client_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ptr]
    lib.jack_port_register.restype = ptr
    lib.jack_port_register.argtypes = [ptr, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                                       ctypes.c_ulong]
    lib.jack_port_set_latency_range.argtypes = [ptr, ctypes.c_int, ctypes.POINTER(Range)]
    lib.jack_connect.argtypes = [ptr, ctypes.c_char_p, ctypes.c_char_p]
    lib.jack_activate.argtypes = [ptr]
    callback_type = ctypes.CFUNCTYPE(None, ctypes.c_int, ptr)
    lib.jack_set_latency_callback.argtypes = [ptr, callback_type, ptr]

    client = lib.jack_client_open(b"src", 1, None)  # JackNoStartServer
    if not client:
        print("no JACK server", flush=True)
        return 1
    audio = b"32 bit float mono audio"
    out = lib.jack_port_register(client, b"out", audio, 0x2, 0)  # JackPortIsOutput
    sink = lib.jack_port_register(client, b"in", audio, 0x1, 0)  # JackPortIsInput

    def on_latency(mode: int, arg: object) -> None:
        # A client with a latency callback sets its own ranges: the
        # capture latency of what it sends, the playback latency of what
        # it receives.
        if mode == 0:  # JackCaptureLatency
            lib.jack_port_set_latency_range(out, 0, ctypes.byref(Range(capture, capture)))
        else:
            lib.jack_port_set_latency_range(sink, 1, ctypes.byref(Range(playback, playback)))

    keep = callback_type(on_latency)
    lib.jack_set_latency_callback(client, keep, None)
    lib.jack_activate(client)
    if lib.jack_connect(client, b"src:out", into.encode()) or \
            lib.jack_connect(client, source.encode(), b"src:in"):
        print("connect failed", flush=True)
        return 1
    print("READY", flush=True)
    time.sleep(seconds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
                          float(sys.argv[5])))
