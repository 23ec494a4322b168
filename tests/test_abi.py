# SPDX-License-Identifier: LGPL-2.1-or-later
"""The contract's layout is one and the same for i386, x86_64 and Python."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import BRIDGE

from pyjack_side.abi import ffi, lib

STRUCTS = ["asiojack_shm", "asiojack_time", "asiojack_msg_header", "asiojack_msg_hello",
           "asiojack_msg_welcome", "asiojack_msg_error", "asiojack_msg_open",
           "asiojack_msg_opened", "asiojack_msg_create_buffers",
           "asiojack_msg_set_monitor", "asiojack_msg_transport", "asiojack_monitor",
           "asiojack_msg_status_reply", "asiojack_msg_redirect"]


def layout_program() -> str:
    lines = ['#include <stdio.h>', '#include "asiojack_abi.h"', "int main(void) {"]
    for name in STRUCTS:
        lines.append(f'printf("{name} size %zu\\n", sizeof(struct {name}));')
        for field, _ in ffi.typeof(f"struct {name}").fields:
            lines.append(f'printf("{name}.{field} %zu\\n", offsetof(struct {name}, {field}));')
    lines.append("return 0; }")
    return "\n".join(lines)


def python_layout() -> str:
    out = []
    for name in STRUCTS:
        out.append(f"{name} size {ffi.sizeof(f'struct {name}')}")
        for field, _ in ffi.typeof(f"struct {name}").fields:
            out.append(f"{name}.{field} {ffi.offsetof(f'struct {name}', field)}")
    return "\n".join(out) + "\n"


def c_layout(tmp_path: Path, *flags: str, cc: str = "cc") -> str:
    src = tmp_path / "layout.c"
    src.write_text(layout_program())
    exe = tmp_path / ("layout" + "".join(flags).replace("-", "_"))
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{BRIDGE}", *flags,
                    str(src), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


def can_build_m32(tmp_path: Path) -> bool:
    probe = tmp_path / "m32.c"
    probe.write_text("#include <stdio.h>\nint main(void){return 0;}\n")
    r = subprocess.run(["cc", "-m32", str(probe), "-o", str(tmp_path / "m32")],
                       capture_output=True)
    return r.returncode == 0


def test_x86_64_matches_python(tmp_path: Path) -> None:
    assert c_layout(tmp_path, "-m64") == python_layout()


def test_i386_matches_x86_64(tmp_path: Path) -> None:
    if not can_build_m32(tmp_path):
        # CI installs gcc-multilib, so there this can never be skipped.
        assert not os.environ.get("CI"), "gcc-multilib missing: the i386 layout went unchecked"
        pytest.skip("no -m32 toolchain (install gcc-multilib)")
    assert c_layout(tmp_path, "-m32") == c_layout(tmp_path, "-m64")


def test_static_asserts_catch_a_moved_field(tmp_path: Path) -> None:
    # The pins are live: a header whose field moved must not compile.
    header = (BRIDGE / "asiojack_abi.h").read_text()
    broken = header.replace("    uint32_t doorbell;", "    uint32_t extra;\n    uint32_t doorbell;")
    assert broken != header
    (tmp_path / "asiojack_abi.h").write_text(broken)
    src = tmp_path / "t.c"
    src.write_text('#include "asiojack_abi.h"\nint main(void){return 0;}\n')
    r = subprocess.run(["cc", "-std=c11", f"-I{tmp_path}", str(src), "-o",
                        str(tmp_path / "t")], capture_output=True, text=True)
    assert r.returncode != 0 and "moved" in r.stderr


def test_event_bits_are_distinct_single_bits() -> None:
    # Branches that each add an event must not both take the next bit: the
    # driver would deliver one for the other.
    bits = {name: int(getattr(lib, name)) for name in dir(lib)
            if name.startswith("ASIOJACK_EVENT_")}
    assert {"ASIOJACK_EVENT_OVERLOAD", "ASIOJACK_EVENT_STALLED"} <= set(bits), bits
    assert all(b and not b & (b - 1) for b in bits.values()), bits
    assert len(set(bits.values())) == len(bits), bits
    # WAIT's own bit (winedll/unixlib.h) lies above every segment event.
    assert max(bits.values()) < 0x80000000, bits
