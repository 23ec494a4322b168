# SPDX-License-Identifier: LGPL-2.1-or-later
"""New-style WoW64 (Wine 9+ --enable-archs): the 32-bit PE over the 64-bit unix library.

Debian's Wine 8 cannot run that mode, so this is a unit test of what the
mode needs, built and run here:

- every params struct of winedll/unixlib.h has one layout for gcc -m32,
  i686 MinGW (the compiler of the 32-bit PE) and gcc -m64;
- the thunks of ``__wine_unix_call_wow64_funcs`` (winedll/unix/wow64.c),
  fed struct images laid out at the -m32 offsets in memory below 4 GiB,
  run a session against a real asiojack server and jackd: the segment and
  the channel buffers they hand back are below 4 GiB (a 32-bit program's
  pointers reach them), 100 cycles go through WAIT/DONE, and a quit
  address no 32-bit program could hold is refused.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BRIDGE, ROOT, AsiojackServer

UNIXLIB = ROOT / "winedll" / "unixlib.h"
FIELD = re.compile(r"^\s+(?:struct\s+\w+|\w+)\s+(\w+)(?:\[[^\]]*\])?;")


def unixlib_structs() -> dict[str, list[str]]:
    """struct name (without asiojack_unix_) -> its field names, from unixlib.h."""
    structs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in UNIXLIB.read_text().splitlines():
        start = re.match(r"^struct asiojack_unix_(\w+) \{", line)
        if start:
            current = structs.setdefault(start.group(1), [])
        elif current is not None and line.startswith("};"):
            current = None
        elif current is not None and (m := FIELD.match(line)):
            current.append(m.group(1))
    return structs


def layout_source() -> str:
    lines = ["#include <stdio.h>", '#include "unixlib.h"', "int main(void) {"]
    for name, fields in unixlib_structs().items():
        lines.append(f'printf("SIZE32_{name} %zu\\n", sizeof(struct asiojack_unix_{name}));')
        for f in fields:
            lines.append(f'printf("OFF32_{name}_{f} %zu\\n", '
                         f"offsetof(struct asiojack_unix_{name}, {f}));")
    lines.append("return 0; }")
    return "\n".join(lines)


def layout(tmp_path: Path, flag: str) -> str:
    src = tmp_path / "unixlayout.c"
    src.write_text(layout_source())
    exe = tmp_path / f"unixlayout{flag}"
    r = subprocess.run(["cc", flag, "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{BRIDGE}",
                        f"-I{ROOT / 'winedll'}", str(src), "-o", str(exe)],
                       capture_output=True, text=True)
    if r.returncode != 0 and flag == "-m32":
        pytest.fail(f"gcc -m32 cannot build (install gcc-multilib): {r.stderr}")
    assert r.returncode == 0, r.stderr
    return subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout


def test_every_struct_has_fields_to_check() -> None:
    structs = unixlib_structs()
    assert {"control", "open_params", "create_params", "buffer_params", "wait_params",
            "done_params", "rt_params", "position_params", "monitor_params",
            "transport_params", "panel_params", "trace_params"} <= set(structs), structs
    assert "quit_address" in structs["wait_params"]


def test_params_layout_is_the_same_for_32_and_64_bit(tmp_path: Path) -> None:
    m32, m64 = layout(tmp_path, "-m32"), layout(tmp_path, "-m64")
    assert m32.count("\n") > 60
    assert m32 == m64


def test_params_layout_of_the_32bit_pe_compiler(tmp_path: Path) -> None:
    # The 32-bit PE is built by i686 MinGW (MS ABI: 8-byte aligned uint64_t,
    # unlike gcc -m32).  It cannot run here, so the offsets are checked at
    # compile time against the x86_64 numbers.
    mingw = shutil.which("i686-w64-mingw32-gcc")
    if mingw is None:
        pytest.fail("i686-w64-mingw32-gcc missing (gcc-mingw-w64-i686): the 32-bit PE's "
                    "layout went unchecked")
    asserts = ['#include "unixlib.h"']
    for line in layout(tmp_path, "-m64").splitlines():
        key, value = line.split()
        name = key.split("_", 1)[1]
        struct = next(s for s in unixlib_structs() if name == s or name.startswith(s + "_"))
        if key.startswith("SIZE32_"):
            expr = f"sizeof(struct asiojack_unix_{struct})"
        else:
            expr = f"offsetof(struct asiojack_unix_{struct}, {name[len(struct) + 1:]})"
        asserts.append(f'_Static_assert({expr} == {value}, "{key}");')
    src = tmp_path / "pe_layout.c"
    src.write_text("\n".join(asserts) + "\n")
    r = subprocess.run([mingw, "-std=c11", "-c", f"-I{BRIDGE}", f"-I{ROOT / 'winedll'}",
                        str(src), "-o", str(tmp_path / "pe_layout.o")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def build_checker(tmp_path: Path) -> Path:
    header = tmp_path / "layout32.h"
    header.write_text("".join(f"#define {key} {value}\n" for key, value in
                              (line.split() for line in layout(tmp_path, "-m32").splitlines())))
    unix = ROOT / "winedll" / "unix"
    sources = [ROOT / "tests/wow64/wow64check.c",
               *(unix / f for f in ("funcs.c", "session.c", "cycle.c", "rt.c", "panel.c",
                                    "trace.c", "wow64.c")),
               BRIDGE / "client/client.c", BRIDGE / "shm.c", BRIDGE / "client/autostart.c"]
    exe = tmp_path / "wow64check"
    subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-Wall", "-Wextra", "-Werror",
                    f"-I{tmp_path}", f"-I{BRIDGE}", f"-I{BRIDGE / 'client'}",
                    f"-I{ROOT / 'winedll'}", f"-I{unix}", *map(str, sources), "-o", str(exe),
                    "-lrt"], check=True)
    return exe


def test_wow64_thunks_run_a_session_below_4gib(asiojack: AsiojackServer,
                                               tmp_path: Path) -> None:
    exe = build_checker(tmp_path)
    r = subprocess.run([str(exe)], env=asiojack.env, capture_output=True, text=True,
                       timeout=60)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines, (r.stdout, r.stderr, asiojack.log_text())
    result = json.loads(lines[-1])
    assert r.returncode == 0 and result["ok"], (result, r.stderr)
    assert result["cycles"] == 100
    assert 0 < result["shm"] < 1 << 32
    # Without the thunk's low mapping the segment lands where a 32-bit
    # program cannot reach it.
    assert result["shm_native"] >= 1 << 32, result
    assert "hello from wow64check.exe (32-bit)" in asiojack.log_text()
