# SPDX-License-Identifier: LGPL-2.1-or-later
"""The bridge contract as Python sees it.

Everything here comes from ``bridge/asiojack_abi.h`` through the compiled
cffi module; nothing is restated.  ``ffi`` gives struct types and sizes,
``lib`` the constants and the C functions.
"""

from pyjack_side._engine import ffi, lib

PROTOCOL_VERSION: int = lib.ASIOJACK_PROTOCOL_VERSION
MAX_CHANNELS: int = lib.ASIOJACK_MAX_CHANNELS
MAX_FRAMES: int = lib.ASIOJACK_MAX_FRAMES
NAME_LEN: int = lib.ASIOJACK_NAME_LEN

SAMPLE_TYPES: dict[str, int] = {
    "float32": lib.ASIOJACK_SAMPLE_FLOAT32,
    "int32": lib.ASIOJACK_SAMPLE_INT32,
    "int24": lib.ASIOJACK_SAMPLE_INT24,
    "int16": lib.ASIOJACK_SAMPLE_INT16,
}

__all__ = ["ffi", "lib", "PROTOCOL_VERSION", "MAX_CHANNELS", "MAX_FRAMES", "NAME_LEN",
           "SAMPLE_TYPES"]
