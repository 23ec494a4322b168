# SPDX-License-Identifier: LGPL-2.1-or-later
"""Where musicians run Wine: the configurations tests/test_everywhere.py covers.

A :class:`Config` says which Wine runs the program (this machine's Wine 8,
or the Wine 10 of a Debian trixie root that holds no libjack), whether the
program is 64- or 32-bit, and whether the root is entered with its own PID
namespace.  :class:`ConfigPrefix` is one prefix of that configuration with
asiojack registered by the real ``asiojack register``, and runs PortAudio's
ASIO host in it.

The trixie root (scripts/make-trixie-root, built once per machine) stands in
for a container such as Proton's Steam runtime: jackd and the asiojack
server run outside it; the program runs inside, through ``unshare -m`` and
``chroot``, with ``/dev`` (for /dev/shm), ``/proc``, ``/sys`` and ``/tmp``
bound in.  All test files live under /tmp, so every path is the same inside
and outside.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from asiojack_rig.winehost import (
    PA_DLL,
    PA_DLL32,
    ROOT,
    WINE64,
    HostResult,
    keep_wineserver,
    parse_host_output,
    portaudio_dll,
)

TRIXIE_RECIPE = "1"   # keep in step with RECIPE in scripts/make-trixie-root
WINE32 = "/usr/lib/wine/wine"


def trixie_root() -> Path:
    """The cached trixie root, or a failure that says how to build it."""
    root = Path(os.environ.get("ASIOJACK_TRIXIE_ROOT")
                or f"/var/cache/asiojack-tests/trixie-root-{TRIXIE_RECIPE}")
    recipe = root / ".asiojack-recipe"
    if not recipe.exists() or recipe.read_text().strip() != TRIXIE_RECIPE:
        raise AssertionError(f"no trixie root (recipe {TRIXIE_RECIPE}) at {root}: "
                             "run scripts/make-trixie-root as root (scripts/install-deps does)")
    return root


@dataclass(frozen=True)
class Config:
    """One way of running a Windows program under Wine."""

    id: str
    bits: int                 # the program's: 64 or 32
    container: bool = False   # Wine 10 inside the trixie root, else this machine's Wine 8
    pidns: bool = False       # the root entered with its own PID namespace as well

    @property
    def gcc(self) -> str:
        return "x86_64-w64-mingw32-gcc" if self.bits == 64 else "i686-w64-mingw32-gcc"

    @property
    def portaudio_name(self) -> str:
        return PA_DLL if self.bits == 64 else PA_DLL32

    def loader(self) -> str:
        """The Wine loader for this program, as a path inside its root."""
        return WINE64 if self.bits == 64 else WINE32

    def enter(self, root: Path | None = None) -> list[str]:
        """Command prefix that runs what follows inside the configuration's root."""
        if not self.container:
            return []
        root = root or trixie_root()
        ns = ["-p", "-f"] if self.pidns else []
        return ["unshare", "-m", *ns, "--", "sh", "-euc", _ENTER, "enter", str(root)]


# Runs as: sh -c _ENTER enter ROOT CMD...; mounts are private (unshare -m).
_ENTER = r"""
root=$1; shift
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --bind /tmp "$root/tmp"
exec chroot "$root" "$@"
"""


def build_host_exe(name: str, config: Config, out_dir: Path, *libs: str) -> Path:
    """tests/host/<name>.c built with the MinGW of the configuration's bitness."""
    exe = out_dir / f"{name}{config.bits}.exe"
    if not exe.exists():
        subprocess.run([config.gcc, "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
                        str(ROOT / "tests" / "host" / f"{name}.c"), "-o", str(exe), *libs],
                       check=True)
    return exe


@dataclass
class ConfigPrefix:
    """A Wine prefix of one configuration, asiojack registered, PortAudio's host built."""

    config: Config
    path: Path
    env: dict[str, str]
    pahost: Path
    portaudio: Path

    def command(self, exe: Path, *args: str) -> list[str]:
        return [*self.config.enter(), self.config.loader(), str(exe), *args]

    def host(self, *args: str, env: dict[str, str], timeout: float = 120) -> HostResult:
        """Run pahost with PortAudio's DLL to its end; its parsed JSON lines."""
        proc = subprocess.run(self.command(self.pahost, str(self.portaudio), *args), env=env,
                              capture_output=True, text=True, timeout=timeout)
        return parse_host_output(proc.returncode, proc.stdout, proc.stderr)

    def popen_host(self, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(self.command(self.pahost, str(self.portaudio), *args), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def keep_wineserver(self) -> None:
        """A wineserver kept running, with Wine's services (winehost.keep_wineserver)."""
        outside_pidns = Config("wineserver", 64, self.config.container)
        keep_wineserver([*outside_pidns.enter(), "wineserver"],
                        [*outside_pidns.enter(), WINE64], self.env)

    def wineserver(self, *args: str) -> None:
        """Run the Wine's wineserver (e.g. ``-k``, ``-w``) for this prefix."""
        outside_pidns = Config("wineserver", 64, self.config.container)
        # No pipes: a server stays in the background and would hold them open.
        subprocess.run([*outside_pidns.enter(), "wineserver", *args], env=self.env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60, check=False)


def make_config_prefix(config: Config, base: Path) -> ConfigPrefix:
    """Create a prefix with the configuration's Wine and register asiojack in it.

    The real ``asiojack register`` runs outside; for a container, ``WINE``
    points it at a wrapper that runs the root's own Wine 10, so the prefix
    is made and registered by the Wine that later runs the program.
    """
    assert str(base).startswith("/tmp/") or not config.container, \
        f"the container sees only /tmp of this machine, and {base} is elsewhere"
    prefix = base / "prefix"
    data_home = base / "data"
    env = dict(os.environ)
    env.update(WINEPREFIX=str(prefix), WINEDEBUG="-all", XDG_DATA_HOME=str(data_home),
               ALSA_CONFIG_PATH="/dev/null", DISPLAY="", WINEDLLOVERRIDES="mscoree,mshtml=")
    wine = base / "wine64"
    # Prefix and registration are always done by the 64-bit loader: the
    # prefix is a 64-bit one (with syswow64) either way.
    setup = Config(config.id, 64, config.container)
    wine.write_text("#!/bin/sh\nexec " + " ".join(_sh_quote(a) for a in setup.enter())
                    + f" {WINE64} \"$@\"\n")
    wine.chmod(0o755)
    env["WINE"] = str(wine)
    subprocess.run([str(wine), "wineboot", "--init"], env=env, check=True, capture_output=True,
                   timeout=300)
    subprocess.run([*setup.enter(), "wineserver", "-w"], env=env, timeout=120, check=False)
    # The registration runs several Wine programs: each finds the server
    # (and Wine's services) started.  The caller kills it (wineserver("-k")).
    ConfigPrefix(setup, prefix, env, Path(), Path()).keep_wineserver()
    reg = subprocess.run([sys.executable, "-m", "pyjack_side", "register", "--prefix",
                          str(prefix)], env=env, capture_output=True, text=True, timeout=300,
                         cwd=base)
    assert reg.returncode == 0, reg.stderr + reg.stdout
    if config.bits == 32:
        # register says so when it could not register for 32-bit programs
        assert "registered the 32-bit asiojack.dll" in reg.stdout, reg.stdout
    env["WINEDLLPATH"] = str(data_home / "asiojack" / "wine")
    # The program and its DLL sit beside the prefix: under /tmp, seen inside too.
    pahost, portaudio = host_files(config, base)
    return ConfigPrefix(config, prefix, env, pahost, portaudio)


def host_files(config: Config, base: Path) -> tuple[Path, Path]:
    """pahost and PortAudio's DLL of the configuration's bitness, copied into ``base``."""
    portaudio = base / config.portaudio_name
    if not portaudio.exists():
        shutil.copy2(portaudio_dll(config.bits), portaudio)
    return build_host_exe("pahost", config, base), portaudio


def _sh_quote(arg: str) -> str:
    import shlex
    return shlex.quote(arg)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (host PIDs)."""
    out = [pid]
    i = 0
    while i < len(out):
        p = out[i]
        i += 1
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except FileNotFoundError:
            continue
        for t in tasks:
            try:
                children = Path(f"/proc/{p}/task/{t}/children").read_text().split()
            except FileNotFoundError:
                continue
            out += [int(c) for c in children if int(c) not in out]
    return out


def wine_program_pid(launcher: int, exe_name: str) -> int | None:
    """The host PID of the Wine process running ``exe_name`` below ``launcher``."""
    for pid in process_tree(launcher):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            continue
        if exe_name in cmdline and "unshare" not in cmdline and "sh\0-euc" not in cmdline:
            return pid
    return None


def mapped_files(pid: int) -> set[str]:
    """The files process ``pid`` has mapped (from /proc/PID/maps)."""
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[5].startswith("/"):
            names.add(parts[5])
    return names
