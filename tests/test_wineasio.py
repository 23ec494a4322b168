# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack register --as-wineasio``: a drop-in under WineASIO's name and CLSID.

Real parts: a Wine prefix of this module's own (the tests change its
registry), PortAudio's ASIO host, which finds drivers by their registry
name and creates them by the CLSID registered there, and a real jackd.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AsiojackServer, Jackd, start_server

from asiojack_rig.winehost import WinePrefix, make_prefix
from pyjack_side import wine

CONFIG = "inputs = 2\noutputs = 2\ndeadline = 0.9\n"
SOFTWARE = "HKEY_LOCAL_MACHINE\\Software"
#: per registry view: WineASIO's ASIO-list key and its COM class key
KEYS = {"64": (rf"{SOFTWARE}\ASIO\WineASIO",
               rf"{SOFTWARE}\Classes\CLSID\{wine.WINEASIO_CLSID}"),
        "32": (rf"{SOFTWARE}\Wow6432Node\ASIO\WineASIO",
               rf"{SOFTWARE}\Classes\Wow6432Node\CLSID\{wine.WINEASIO_CLSID}")}
ASIO_KEY, CLASS_KEY = KEYS["64"]


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    """A prefix of this module's own, not the run's shared one (conftest.py).

    These tests register WineASIO's own keys and asiojack under WineASIO's
    name and CLSID: a program in a prefix shared with other tests would
    list "WineASIO Driver" meanwhile, or find asiojack unregistered.
    """
    prefix = make_prefix(tmp_path_factory.mktemp("wineasio"), persistent=True)
    yield prefix
    prefix.stop_wineserver()


@pytest.fixture
def server(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    s = start_server(tmp_path, jackd256, CONFIG)
    yield s
    s.stop()


def cli(prefix: WinePrefix, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyjack_side", *args, "--prefix",
                           str(prefix.path)], env=prefix.env, cwd=prefix.path.parent,
                          capture_output=True, text=True, timeout=300)


def value(prefix: WinePrefix, key: str, name: str) -> str | None:
    """A string value as Wine has it now (``@`` = the default value), None if absent."""
    return wine._registry(prefix.path).get(key.lower(), {}).get(name.lower())


def test_refuses_while_wineasio_itself_is_registered(prefix: WinePrefix) -> None:
    # The keys WineASIO's own regsvr32 leaves (its DLL is not needed to refuse).
    wine._import(prefix.path, [f"[{CLASS_KEY}]", '@="WineASIO Object"',
                               f"[{CLASS_KEY}\\InprocServer32]", '@="wineasio64.dll"',
                               f"[{ASIO_KEY}]", f'"CLSID"="{wine.WINEASIO_CLSID}"',
                               '"Description"="WineASIO Driver"'])
    try:
        r = cli(prefix, "register", "--as-wineasio")
        assert r.returncode == 1
        assert "WineASIO is registered" in r.stderr and "wineasio64.dll" in r.stderr
        assert "Unregister WineASIO first" in r.stderr
        # Nothing of WineASIO's was touched, by register or by unregister.
        assert value(prefix, CLASS_KEY + r"\InprocServer32", "@") == "wineasio64.dll"
        cli(prefix, "unregister")
        assert value(prefix, CLASS_KEY + r"\InprocServer32", "@") == "wineasio64.dll"
        assert value(prefix, ASIO_KEY, "Description") == "WineASIO Driver"
    finally:
        wine._import(prefix.path, [f"[-{ASIO_KEY}]", f"[-{CLASS_KEY}]"])
        assert cli(prefix, "register").returncode == 0


def test_as_wineasio_streams_by_that_name_and_unregister_undoes_it(
        prefix: WinePrefix, server: AsiojackServer) -> None:
    assert wine.wineasio_owner(prefix.path) is None
    r = cli(prefix, "register", "--as-wineasio")
    assert r.returncode == 0, r.stderr
    assert f"registered asiojack as WineASIO ({wine.WINEASIO_CLSID}, 64-bit view)" in r.stdout
    assert value(prefix, ASIO_KEY, "CLSID") == wine.WINEASIO_CLSID
    assert wine.wineasio_owner(prefix.path) == "asiojack"
    env = prefix.server_env(server)
    listed = prefix.host("list", env=env)
    names = [str(d["name"]) for d in listed.devices()]
    # Hosts list WineASIO by its Description, as WineASIO itself registers it.
    assert sorted(names) == ["WineASIO Driver", "asiojack"], names
    # PortAudio creates the driver by the CLSID under the WineASIO key: asiojack answers.
    out = prefix.host("stream", "--device", "WineASIO Driver", "--seconds", "1", "--channels", "2",
                      env=env)
    assert out.result.get("result") == "ok", (out, server.log_text())
    assert out.result["callbacks"] > 10, out.result
    assert "hello from" in server.log_text() and "pahost" in server.log_text()
    # Twice is as good as once.
    assert cli(prefix, "register", "--as-wineasio").returncode == 0

    r = cli(prefix, "unregister")
    assert r.returncode == 0, r.stderr
    assert "removed the WineASIO alias (64-bit view)" in r.stdout
    after = wine._registry(prefix.path)
    for asio, klass in KEYS.values():
        assert asio.lower() not in after and klass.lower() not in after
        assert klass.lower() + "\\inprocserver32" not in after
    assert wine.wineasio_owner(prefix.path) is None
    assert not wine.is_registered(prefix.path)
    assert cli(prefix, "register").returncode == 0  # as the module found it
