# SPDX-License-Identifier: LGPL-2.1-or-later
"""Framing and payloads of the control protocol (see bridge/asiojack_abi.h).

A message is a 16-byte header (magic, type, payload size) and a payload
that is one of the header's structs, byte for byte.
"""

import asyncio
from typing import Any

from pyjack_side.abi import ffi, lib

HEADER_SIZE: int = ffi.sizeof("struct asiojack_msg_header")

#: payload struct of each request type; None = no payload
REQUEST_PAYLOADS: dict[int, str | None] = {
    lib.ASIOJACK_MSG_HELLO: "struct asiojack_msg_hello",
    lib.ASIOJACK_MSG_OPEN: "struct asiojack_msg_open",
    lib.ASIOJACK_MSG_CREATE_BUFFERS: "struct asiojack_msg_create_buffers",
    lib.ASIOJACK_MSG_DISPOSE_BUFFERS: None,
    lib.ASIOJACK_MSG_START: None,
    lib.ASIOJACK_MSG_STOP: None,
    lib.ASIOJACK_MSG_CLOSE: None,
    lib.ASIOJACK_MSG_SET_MONITOR: "struct asiojack_msg_set_monitor",
    lib.ASIOJACK_MSG_TRANSPORT: "struct asiojack_msg_transport",
    lib.ASIOJACK_MSG_STATUS: None,
}


class ProtocolError(Exception):
    """A peer sent something that is not a valid message."""


def pack(msg_type: int, payload: Any = None) -> bytes:
    """Frame one message; ``payload`` is a cdata struct pointer or None."""
    body = b"" if payload is None else bytes(ffi.buffer(payload))
    header = ffi.new("struct asiojack_msg_header *",
                     {"magic": lib.ASIOJACK_MSG_MAGIC, "type": msg_type, "size": len(body)})
    return bytes(ffi.buffer(header)) + body


def new(struct: str, **fields: Any) -> Any:
    """A zeroed payload struct with ``fields`` set (strings are encoded)."""
    obj = ffi.new(struct + " *")
    for name, value in fields.items():
        if isinstance(value, str):
            value = value.encode()
        setattr(obj, name, value)
    return obj


def error(code: int, message: str) -> bytes:
    """A framed ERROR reply."""
    payload = new("struct asiojack_msg_error", code=code,
                  server_protocol_version=lib.ASIOJACK_PROTOCOL_VERSION,
                  message=message.encode()[: lib.ASIOJACK_TEXT_LEN - 1])
    return pack(lib.ASIOJACK_MSG_ERROR, payload)


def text(field: Any) -> str:
    """Decode a NUL-terminated char array field."""
    return ffi.string(field).decode("utf-8", "replace")  # type: ignore[no-any-return]


async def read_message(reader: asyncio.StreamReader, first_wait: float | None = None,
                       rest_wait: float | None = None) -> tuple[int, bytes]:
    """Read one framed message; raise ProtocolError on bad framing.

    ``first_wait`` bounds the wait for the message to begin (None: no
    bound), ``rest_wait`` the time from its first byte to its last: a peer
    that sends half a message must not hold its connection forever.
    """
    try:
        first = await asyncio.wait_for(reader.readexactly(1), first_wait)
    except TimeoutError:
        raise ProtocolError(f"no message within {first_wait:.0f} s") from None
    try:
        return await asyncio.wait_for(_read_rest(reader, first), rest_wait)
    except TimeoutError:
        raise ProtocolError(f"message not completed within {rest_wait:.0f} s") from None


async def _read_rest(reader: asyncio.StreamReader, first: bytes) -> tuple[int, bytes]:
    raw = first + await reader.readexactly(HEADER_SIZE - 1)
    header = ffi.from_buffer("struct asiojack_msg_header *", raw)
    if header.magic != lib.ASIOJACK_MSG_MAGIC:
        raise ProtocolError(f"bad message magic 0x{header.magic:08x}: not an asiojack driver")
    if header.size > lib.ASIOJACK_MAX_MESSAGE:
        raise ProtocolError(f"message of {header.size} bytes is larger than "
                            f"{lib.ASIOJACK_MAX_MESSAGE}")
    msg_type, size = int(header.type), int(header.size)
    payload = await reader.readexactly(size) if size else b""
    return msg_type, payload


def decode(msg_type: int, payload: bytes) -> Any:
    """Check a request's payload size and view it as its struct."""
    if msg_type not in REQUEST_PAYLOADS:
        raise ProtocolError(f"unknown message type {msg_type}")
    struct = REQUEST_PAYLOADS[msg_type]
    expected = 0 if struct is None else ffi.sizeof(struct)
    if len(payload) != expected:
        raise ProtocolError(f"message type {msg_type} has {len(payload)} payload bytes, "
                            f"expected {expected}")
    return None if struct is None else ffi.from_buffer(struct + " *", bytearray(payload))
