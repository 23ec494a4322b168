# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the build puts in the package: both halves of the driver, 64- and 32-bit."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

import pyjack_side
from pyjack_side.wine import packaged_driver_dir

ROOT = Path(__file__).resolve().parent.parent

BUILTIN_MARK = b"Wine builtin DLL"
PE_MACHINES = {"x86_64-windows": 0x8664, "i386-windows": 0x14C}
ELF_CLASSES = {"x86_64-unix": 2, "i386-unix": 1}
EXPORTS = {"DllGetClassObject", "DllCanUnloadNow", "DllRegisterServer", "DllUnregisterServer"}


def pe_machine(path: Path) -> int:
    data = path.read_bytes()
    (offset,) = struct.unpack_from("<I", data, 0x3C)
    assert data[offset:offset + 4] == b"PE\0\0"
    (machine,) = struct.unpack_from("<H", data, offset + 4)
    return int(machine)


def require_32bit_tools() -> None:
    if shutil.which("i686-w64-mingw32-gcc"):
        return
    assert not os.environ.get("CI"), "CI installs gcc-mingw-w64-i686: the 32-bit build must run"
    pytest.skip("i686-w64-mingw32-gcc not installed: no 32-bit driver was built")


@pytest.mark.parametrize("arch", ["x86_64-windows", "i386-windows"])
def test_pe_half_is_a_builtin_dll_with_the_com_exports(arch: str) -> None:
    if arch.startswith("i386"):
        require_32bit_tools()
    dll = packaged_driver_dir() / arch / "asiojack.dll"
    # winebuild --builtin marks it; without the mark Wine ignores the DLL
    # on WINEDLLPATH and never loads its unix library.
    assert BUILTIN_MARK in dll.read_bytes()[:0x80]
    assert pe_machine(dll) == PE_MACHINES[arch]
    objdump = "x86_64-w64-mingw32-objdump"
    table = subprocess.run([objdump, "-p", str(dll)], capture_output=True, text=True,
                           check=True).stdout
    exported = {line.split()[-1] for line in table.split("[Ordinal/Name Pointer] Table")[1]
                .splitlines()[1:6] if line.strip().startswith("[")}
    assert exported == EXPORTS


@pytest.mark.parametrize("arch", ["x86_64-unix", "i386-unix"])
def test_unix_half_exports_only_the_call_table(arch: str) -> None:
    if arch.startswith("i386"):
        require_32bit_tools()
    so = packaged_driver_dir() / arch / "asiojack.so"
    assert so.read_bytes()[:5] == b"\x7fELF" + bytes([ELF_CLASSES[arch]])
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(so)], capture_output=True,
                             text=True, check=True).stdout.split("\n")
    defined = {line.split()[-1] for line in symbols if line.strip()}
    # The x86_64 library also serves 32-bit PEs under new-style WoW64 (Wine 9+).
    tables = {"__wine_unix_call_funcs"}
    if arch == "x86_64-unix":
        tables.add("__wine_unix_call_wow64_funcs")
    assert defined == tables
    needed = subprocess.run(["objdump", "-p", str(so)], capture_output=True, text=True,
                            check=True).stdout
    assert "libjack" not in needed, "the Wine process must never load libjack"


def test_one_version_source() -> None:
    """meson.build's project version is the one pyproject, the package and the command give."""
    meson = re.search(r"project\('asiojack'.*?version:\s*'([^']+)'",
                      (ROOT / "meson.build").read_text(), re.S)
    assert meson, "no project version in meson.build"
    expected = meson.group(1)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert version("asiojack") == expected
    assert pyjack_side.__version__ == expected
    command = shutil.which("asiojack")
    assert command, "the asiojack command is not installed"
    shown = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    assert shown.stdout.strip() == f"asiojack {expected}"
