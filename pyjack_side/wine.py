# SPDX-License-Identifier: LGPL-2.1-or-later
"""Putting the driver into a Wine prefix, taking it out, and checking it.

Wine loads asiojack as a *builtin* DLL: the PE half ``asiojack.dll`` and its
unix library ``asiojack.so`` live side by side as
``<dir>/x86_64-windows/asiojack.dll`` and ``<dir>/x86_64-unix/asiojack.so``,
where ``<dir>`` is on ``WINEDLLPATH`` (user install) or is Wine's own
library directory (``--system``).  A copy of the PE also goes into the
prefix's ``system32``: hosts check that the registered file exists, and Wine,
seeing its builtin mark, loads the builtin from the library path instead.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

DLL = "asiojack.dll"
SO = "asiojack.so"
#: the driver's files, by Wine's directory names for them
DRIVER_FILES = (("x86_64-windows", DLL), ("x86_64-unix", SO),
                ("i386-windows", DLL), ("i386-unix", SO))
#: registry key a host enumerates ASIO drivers under
ASIO_KEY = r"Software\\ASIO\\asiojack"

log = logging.getLogger(__name__)


class WineError(RuntimeError):
    """A Wine step that failed, with what to do about it."""


def wine_binary() -> str:
    """The 64-bit Wine loader: ``$WINE``, Debian's ``wine64`` or ``wine``."""
    explicit = os.environ.get("WINE")
    if explicit:
        if found := shutil.which(explicit):
            return found
        raise WineError(f"Wine not found: WINE={explicit} is not an executable")
    for candidate in ("/usr/lib/wine/wine64", "wine64", "wine"):
        if found := shutil.which(candidate):
            return found
    raise WineError("Wine not found: install it (Debian: apt-get install wine wine64) "
                    "or set WINE to the wine64 binary")


#: how to get 32-bit Wine on Debian without apt removing wine64 (version
#: skew with the security suite can make `apt-get install wine32:i386`
#: alone remove wine64 and libwine:amd64)
WINE32_INSTALL = ("install 32-bit Wine (Debian: dpkg --add-architecture i386 && apt-get update "
                  "&& apt-get install wine64 wine32:i386 libwine:amd64 libwine:i386, in one "
                  "command; if apt proposes to remove wine64, answer no and see "
                  "scripts/install-deps), or set WINE32 to a 32-bit-capable wine")


def wine32_binary() -> str:
    """The Wine loader of 32-bit prefixes: ``$WINE32``, Debian's ``wine`` (wine32) or ``wine``.

    On Debian the 32-bit loader is /usr/lib/wine/wine, from the wine32:i386
    package; without it Debian's ``wine`` wrapper falls back to wine64,
    which cannot run a 32-bit prefix.
    """
    explicit = os.environ.get("WINE32")
    if explicit:
        if found := shutil.which(explicit):
            return found
        raise WineError(f"32-bit Wine not found: WINE32={explicit} is not an executable; "
                        + WINE32_INSTALL)
    debian = Path("/usr/lib/wine")
    if (debian / "wine64").exists():
        if (debian / "wine").exists():
            return str(debian / "wine")
        raise WineError("this Wine has no 32-bit loader (/usr/lib/wine/wine, package "
                        "wine32:i386): " + WINE32_INSTALL)
    if found := shutil.which("wine"):
        return found
    raise WineError("32-bit Wine not found: " + WINE32_INSTALL)


def prefix_arch(prefix: Path) -> str:
    """``win32`` or ``win64``: what ``#arch=`` in the prefix's system.reg says.

    Wine writes the line when it creates a prefix (WINEARCH); a prefix
    without it is taken for the 64-bit default.
    """
    try:
        with open(prefix / "system.reg", encoding="utf-8", errors="replace") as f:
            head = [next(f, "") for _ in range(8)]
    except OSError:
        return "win64"
    for line in head:
        match = re.match(r"#arch=(win32|win64)\s*$", line.strip())
        if match:
            return match.group(1)
    return "win64"


def wine_for(prefix: Path) -> str:
    """The Wine loader that can run programs in ``prefix``."""
    return wine32_binary() if prefix_arch(prefix) == "win32" else wine_binary()


def wine_lib_dir() -> Path:
    """Wine's own builtin DLL directory (the one holding x86_64-windows/)."""
    for candidate in (Path("/usr/lib/x86_64-linux-gnu/wine"), Path("/usr/lib/wine"),
                      Path("/usr/lib64/wine"), Path("/opt/wine-stable/lib64/wine")):
        if (candidate / "x86_64-windows" / "ntdll.dll").exists():
            return candidate
    raise WineError("cannot find Wine's library directory (x86_64-windows/ntdll.dll)")


def packaged_driver_dir() -> Path:
    """Where the build put the driver: ``$ASIOJACK_DRIVER_DIR`` or the package."""
    explicit = os.environ.get("ASIOJACK_DRIVER_DIR")
    candidates = [Path(explicit)] if explicit else []
    package = Path(__file__).resolve().parent
    candidates.append(package / "driver")
    # An editable install runs from the source tree; the build is beside it.
    candidates += sorted(package.parent.glob("build/*/winedll"))
    for candidate in candidates:
        if (candidate / "x86_64-windows" / DLL).exists() and \
                (candidate / "x86_64-unix" / SO).exists():
            return candidate
    raise WineError("the asiojack driver was not built: install MinGW "
                    "(gcc-mingw-w64-x86-64) and Wine's winebuild (wine64-tools), "
                    "then reinstall asiojack")


def user_driver_dir() -> Path:
    """The per-user WINEDLLPATH entry ``asiojack register`` fills."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "asiojack" / "wine"


def default_prefix() -> Path:
    """``$WINEPREFIX`` or ``~/.wine``."""
    return Path(os.environ.get("WINEPREFIX") or Path.home() / ".wine")


def wine_env(prefix: Path, dll_dir: Path | None) -> dict[str, str]:
    """Environment to run Wine in ``prefix`` with asiojack on WINEDLLPATH."""
    env = dict(os.environ, WINEPREFIX=str(prefix))
    env.setdefault("WINEDEBUG", "-all")
    if dll_dir is not None:
        paths = [str(dll_dir)] + [p for p in env.get("WINEDLLPATH", "").split(":")
                                  if p and p != str(dll_dir)]
        env["WINEDLLPATH"] = ":".join(paths)
    return env


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".new")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)  # never leave a half-written DLL for a running host


def _system32(prefix: Path) -> Path:
    return prefix / "drive_c" / "windows" / "system32"


@dataclass
class Registration:
    """What :func:`register` did."""

    prefix: Path
    dll_dir: Path
    system: bool
    steps: list[str]

    @property
    def winedllpath_needed(self) -> bool:
        """Whether Wine must be run with ``WINEDLLPATH`` including :attr:`dll_dir`."""
        return not self.system


def _run_wine(prefix: Path, dll_dir: Path | None, *args: str, timeout: float = 120) -> str:
    env = wine_env(prefix, dll_dir)

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([wine_for(prefix), *args], env=env, capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise WineError(f"wine {' '.join(args)} did not finish in {timeout:.0f} s") from err

    r = run(env)
    if r.returncode != 0 and not (r.stderr or r.stdout).strip():
        # Silent (regsvr32 /s says nothing, and WINEDEBUG=-all hides why a
        # DLL did not load): once more with Wine's error channel on, so the
        # failure has words, or so a Wine that was still busy with the
        # prefix (it updates it on first use) gets its second chance.
        log.info("wine %s failed silently (exit %d): once more with WINEDEBUG=err+all",
                 " ".join(args), r.returncode)
        r = run({**env, "WINEDEBUG": "err+all"})
    if r.returncode != 0:
        detail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise WineError(f"wine {' '.join(args)} failed (exit {r.returncode}): "
                        + (" / ".join(detail) or "Wine said nothing"))
    return r.stdout


def register(prefix: Path, system: bool = False, source: Path | None = None) -> Registration:
    """Install the driver files and register the COM class and ASIO driver in ``prefix``."""
    source = source or packaged_driver_dir()
    if not (prefix / "system.reg").exists():
        raise WineError(f"no Wine prefix at {prefix}: create it first "
                        f"(WINEPREFIX={prefix} wineboot --init)")
    win32 = prefix_arch(prefix) == "win32"
    if win32:
        # Only the i386 driver can load in a 32-bit prefix: fail before
        # copying anything if it, or a 32-bit Wine, is missing.
        if not (source / "i386-windows" / DLL).exists() or \
                not (source / "i386-unix" / SO).exists():
            raise WineError(f"{prefix} is a 32-bit prefix (WINEARCH=win32) and the 32-bit "
                            f"driver was not built: install gcc-mingw-w64-i686 and "
                            f"gcc-multilib, then reinstall asiojack")
        wine32_binary()
    dll_dir = wine_lib_dir() if system else user_driver_dir()
    steps = []
    if win32:
        steps.append(f"{prefix} is a 32-bit prefix (#arch=win32): installing the i386 driver")
    for sub, name in DRIVER_FILES:
        if sub.startswith("i386") and not (source / sub / name).exists():
            continue  # built without i686 MinGW: 64-bit programs only
        _copy(source / sub / name, dll_dir / sub / name)
        steps.append(f"installed {dll_dir / sub / name}")
    # In a 32-bit prefix, system32 holds 32-bit DLLs.
    pe_arch = "i386-windows" if win32 else "x86_64-windows"
    _copy(source / pe_arch / DLL, _system32(prefix) / DLL)
    steps.append(f"installed {_system32(prefix) / DLL}")
    wine_dir = None if system else dll_dir
    _run_wine(prefix, wine_dir, "regsvr32", "/s", DLL)
    if not is_registered(prefix):
        raise WineError("regsvr32 ran but left no HKLM\\Software\\ASIO\\asiojack")
    bits = " (32-bit)" if win32 else ""
    steps.append(f"registered {DLL}{bits} in {prefix} (HKLM\\Software\\ASIO\\asiojack)")
    if not win32:
        steps += _register_32bit(prefix, source, wine_dir)
    return Registration(prefix, dll_dir, system, steps)


def _register_32bit(prefix: Path, source: Path, wine_dir: Path | None) -> list[str]:
    """Register the 32-bit driver for 32-bit programs, where Wine can run them."""
    syswow64 = prefix / "drive_c" / "windows" / "syswow64"
    if not (source / "i386-windows" / DLL).exists() or not syswow64.is_dir():
        return []
    _copy(source / "i386-windows" / DLL, syswow64 / DLL)
    steps = [f"installed {syswow64 / DLL}"]
    try:
        _run_wine(prefix, wine_dir, "C:\\windows\\syswow64\\regsvr32.exe", "/s", DLL)
    except WineError as err:
        steps.append(f"32-bit programs: not registered, this Wine cannot run 32-bit code "
                     f"({WINE32_INSTALL}): {err}")
    else:
        steps.append(f"registered the 32-bit {DLL} for 32-bit programs")
    return steps



def unregister(prefix: Path, system: bool = False) -> list[str]:
    """Undo :func:`register` for ``prefix``."""
    dll_dir = wine_lib_dir() if system else user_driver_dir()
    steps = []
    if is_registered(prefix) and (dll_dir / "x86_64-windows" / DLL).exists():
        _run_wine(prefix, None if system else dll_dir, "regsvr32", "/s", "/u", DLL)
        steps.append(f"unregistered {DLL} from {prefix}")
    for path in (_system32(prefix) / DLL, prefix / "drive_c" / "windows" / "syswow64" / DLL):
        if path.exists():
            path.unlink()
            steps.append(f"removed {path}")
    if system:
        for sub, name in DRIVER_FILES:
            if (dll_dir / sub / name).exists():
                (dll_dir / sub / name).unlink()
                steps.append(f"removed {dll_dir / sub / name}")
    return steps


def is_registered(prefix: Path) -> bool:
    """Whether the prefix's registry lists the asiojack ASIO driver.

    Wine is asked first: a running wineserver writes ``system.reg`` back
    only lazily.  Without Wine, the file is all there is.
    """
    if not (prefix / "system.reg").exists():
        return False
    try:
        wine_for(prefix)
    except WineError:
        text = (prefix / "system.reg").read_text(encoding="utf-8", errors="replace")
        return re.search(r"^\[" + ASIO_KEY + r"\]", text, re.M | re.I) is not None
    try:
        _run_wine(prefix, None, "reg", "query", r"HKLM\Software\ASIO\asiojack", "/v", "CLSID",
                  timeout=60)
    except WineError:
        return False
    return True


# ------------------------------------------------- a drop-in for WineASIO
#: the COM class asiojack registers itself under (winedll/pe/driver.h)
ASIOJACK_CLSID = "{214671F4-47F6-4A5B-B921-2B3E3C5B5F59}"
#: the registry name and COM class WineASIO registers (read from its source)
WINEASIO_NAME = "WineASIO"
WINEASIO_CLSID = "{48D0C522-BFCC-45CC-8B84-17F25F33E6E8}"
#: the driver name hosts list for WineASIO (its Description value)
WINEASIO_DESCRIPTION = "WineASIO Driver"
#: the alias's COM class name, by which asiojack knows the alias as its own
ALIAS_MARKER = "asiojack (as WineASIO)"
_SOFTWARE = "HKEY_LOCAL_MACHINE\\Software"
#: where each registry view keeps the ASIO list and the COM classes
_VIEWS = {"64": (_SOFTWARE + "\\ASIO", _SOFTWARE + "\\Classes\\CLSID"),
          "32": (_SOFTWARE + "\\Wow6432Node\\ASIO",
                 _SOFTWARE + "\\Classes\\Wow6432Node\\CLSID")}

Registry = dict[str, dict[str, str]]


def _parse_reg(text: str) -> Registry:
    """Keys (lower case) to their string values (lower-case names, '@' the default)."""
    keys: Registry = {}
    current: dict[str, str] | None = None
    value_line = re.compile(r'^(@|"((?:[^"\\]|\\.)*)")="((?:[^"\\]|\\.)*)"$')
    for line in text.splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = keys.setdefault(line[1:-1].lower(), {})
            continue
        found = value_line.match(line)
        if found and current is not None:
            name = "@" if found.group(1) == "@" else found.group(2).lower()
            current[name] = re.sub(r"\\(.)", r"\1", found.group(3))
    return keys


def _registry(prefix: Path) -> Registry:
    """The keys of HKLM Software that asiojack reads, both views, through Wine.

    Each view's ASIO key and the COM classes of asiojack and WineASIO, with
    their subkeys; not all of HKLM Software, whose export (every COM class
    of the prefix, ~9 MB) takes Wine some ten seconds.
    """
    keys: Registry = {}
    for asio, classes in _VIEWS.values():
        for key in (asio, f"{classes}\\{ASIOJACK_CLSID}", f"{classes}\\{WINEASIO_CLSID}"):
            keys.update(_export(prefix, key))
    return keys


def _export(prefix: Path, key: str) -> Registry:
    """Registry key ``key`` and its subkeys, read through Wine; empty if there is no such key."""
    out = prefix / "drive_c" / "asiojack-registry.reg"
    try:
        _run_wine(prefix, None, "regedit", "/E", "C:\\asiojack-registry.reg", key, timeout=180)
        if not out.exists():
            return {}   # regedit said "Unable to open the registry key" (and exits 0)
        return _parse_reg(out.read_bytes().decode("utf-16", "replace"))
    finally:
        out.unlink(missing_ok=True)


def _import(prefix: Path, lines: list[str]) -> None:
    """Apply registry edits (REGEDIT4 lines) through Wine in one call."""
    reg = prefix / "drive_c" / "asiojack-edit.reg"
    reg.write_text("REGEDIT4\r\n\r\n" + "\r\n".join(lines) + "\r\n", encoding="ascii")
    try:
        _run_wine(prefix, None, "regedit", "/S", "C:\\asiojack-edit.reg", timeout=180)
    finally:
        reg.unlink(missing_ok=True)


def _reg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wineasio_owner(prefix: Path, registry: Registry | None = None) -> str | None:
    """Who holds WineASIO's name or CLSID in ``prefix``: None (nobody), 'asiojack', or words.

    The words name what the keys point at, for the refusal.
    """
    registry = _registry(prefix) if registry is None else registry
    owner: str | None = None
    for view, (asio, classes) in _VIEWS.items():
        name_key = registry.get(f"{asio}\\{WINEASIO_NAME}".lower())
        class_key = registry.get(f"{classes}\\{WINEASIO_CLSID}".lower())
        server = registry.get(f"{classes}\\{WINEASIO_CLSID}\\InprocServer32".lower(), {})
        if name_key is None and class_key is None:
            continue
        dll = server.get("@", "")
        if dll.lower().endswith(DLL) and class_key is not None \
                and class_key.get("@") == ALIAS_MARKER:
            owner = owner or "asiojack"
            continue
        return (f"WineASIO is registered in {prefix} ({view}-bit view: "
                f"HKLM\\Software\\ASIO\\{WINEASIO_NAME} -> {dll or 'no COM class'})")
    return owner


def refuse_if_wineasio(prefix: Path, registry: Registry | None = None) -> None:
    """Raise WineError, in words, when WineASIO itself is registered in ``prefix``."""
    owner = wineasio_owner(prefix, registry)
    if owner not in (None, "asiojack"):
        raise WineError(f"{owner}: asiojack will not take its place while it is there. "
                        "Unregister WineASIO first (wine regsvr32 /u wineasio64.dll, and "
                        "wineasio.dll for 32-bit), or register asiojack without "
                        "--as-wineasio")


def register_wineasio_alias(prefix: Path) -> list[str]:
    """Register asiojack under WineASIO's registry name and CLSID too.

    Refuses (WineError, nothing written) when WineASIO itself is registered
    in ``prefix``; call after :func:`register`.  Each registry view asiojack
    is registered in (64-bit, and 32-bit where wine32 registered it) gets the
    alias, pointing at the same DLL as asiojack's own class.
    """
    registry = _registry(prefix)
    refuse_if_wineasio(prefix, registry)
    lines, steps = [], []
    for view, (asio, classes) in _VIEWS.items():
        own = registry.get(f"{classes}\\{ASIOJACK_CLSID}\\InprocServer32".lower(), {})
        if not own.get("@"):
            continue  # asiojack is not registered in this view
        alias = f"{classes}\\{WINEASIO_CLSID}"
        lines += [f"[{alias}]", f"@={_reg_string(ALIAS_MARKER)}", "",
                  f"[{alias}\\InprocServer32]", f"@={_reg_string(own['@'])}",
                  f'"ThreadingModel"={_reg_string("Both")}', "",
                  # Hosts list a driver by Description: the name WineASIO setups look for.
                  f"[{asio}\\{WINEASIO_NAME}]", f'"CLSID"={_reg_string(WINEASIO_CLSID)}',
                  f'"Description"={_reg_string(WINEASIO_DESCRIPTION)}', ""]
        steps.append(f"registered asiojack as {WINEASIO_NAME} ({WINEASIO_CLSID}, "
                     f"{view}-bit view)")
    if not lines:
        raise WineError("asiojack itself is not registered in this prefix: run "
                        "asiojack register first")
    _import(prefix, lines)
    return steps


def unregister_wineasio_alias(prefix: Path) -> list[str]:
    """Remove what :func:`register_wineasio_alias` wrote, and only that."""
    if not (prefix / "system.reg").exists():
        return []
    registry = _registry(prefix)
    if wineasio_owner(prefix, registry) != "asiojack":
        return []  # nothing of ours; WineASIO's own keys are not ours to touch
    lines, steps = [], []
    for view, (asio, classes) in _VIEWS.items():
        if f"{classes}\\{WINEASIO_CLSID}".lower() not in registry:
            continue
        lines += [f"[-{classes}\\{WINEASIO_CLSID}]", f"[-{asio}\\{WINEASIO_NAME}]", ""]
        steps.append(f"removed the {WINEASIO_NAME} alias ({view}-bit view)")
    if lines:
        _import(prefix, lines)
    return steps
