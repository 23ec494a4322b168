# SPDX-License-Identifier: LGPL-2.1-or-later
"""Per-program settings: ``[programs."X.exe"]`` tables, on a real jackd and in Wine."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jack
import pytest
from conftest import AsiojackServer, Jackd, start_peer, start_server

from asiojack_rig.winehost import WinePrefix, parse_host_output, wine_loader
from pyjack_side.abi import ffi

CONFIG = """inputs = 4
outputs = 4
deadline = 0.9

[programs."Named.exe"]
inputs = 2
outputs = 3
deadline = 0.5
input_names = ["Guitar", "Vocal mic"]
output_names = ["Left", "Right"]

[programs."asiocheck.exe"]
inputs = 2
outputs = 2
input_names = ["Guitar", "Vocal mic"]
output_names = ["Monitor L", "Monitor R"]
"""


@pytest.fixture
def server(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    s = start_server(tmp_path, jackd256, CONFIG)
    yield s
    s.stop()


def names(table: object, count: int) -> list[str]:
    return [ffi.string(table[i]).decode() for i in range(count)]  # type: ignore[index]


def test_a_program_gets_its_own_settings_and_port_names(server: AsiojackServer, jackd256: Jackd,
                                                       peer_bin: Path) -> None:
    named = start_peer(peer_bin, server, "--exe", "C:\\Program Files\\X\\NAMED.EXE",
                       "--seconds", "3")
    other = start_peer(peer_bin, server, "--exe", "Other.exe", "--seconds", "3")
    try:
        seg, seg_other = named.segment(), other.segment()
        looker = jackd256.client("looker")
        try:
            ports = [p.name for p in looker.get_ports(f"{named.client_name}:")]
            other_ports = [p.name for p in looker.get_ports(f"{other.client_name}:")]
        finally:
            looker.close()
        shown = (seg.n_inputs, seg.n_outputs, seg.deadline_permille,
                 names(seg.shm.in_names, 2), names(seg.shm.out_names, 3))
        shown_other = (seg_other.n_inputs, seg_other.deadline_permille,
                       names(seg_other.shm.in_names, 4))
    finally:
        named.finish()
        other.finish()
    c = named.client_name
    assert sorted(ports) == sorted([f"{c}:Guitar", f"{c}:Vocal mic", f"{c}:Left",
                                    f"{c}:Right", f"{c}:out_3"])
    # The segment's names are what getChannelInfo answers.
    assert shown == (2, 3, 500, ["Guitar", "Vocal mic"], ["Left", "Right", "out_3"])
    o = other.client_name
    assert sorted(other_ports) == sorted([f"{o}:in_{i}" for i in range(1, 5)]
                                         + [f"{o}:out_{i}" for i in range(1, 5)])
    assert shown_other == (4, 900, ["in_1", "in_2", "in_3", "in_4"])


def test_config_program_prints_the_effective_values(server: AsiojackServer) -> None:
    def cli(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "pyjack_side", "config", *args],
                           env=server.env, cwd=server.runtime.parent, capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout

    out = cli("--program", "named.exe")
    assert '[programs."Named.exe"]' in out
    assert "inputs = 2  # this program's" in out
    assert 'input_names = ["Guitar", "Vocal mic"]' in out
    assert "sample_type = \"float32\"\n" in out  # not overridden: the file's value
    plain = cli()
    assert "inputs = 4\n" in plain and "asiojack config --program Named.exe" in plain
    assert "no [programs] table applies" in cli("--program", "Nobody.exe")


def test_a_bad_program_table_names_program_key_and_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[programs."REAPER.exe"]\nsample_type = "float64"\n')
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "--config", str(f), "config"],
                       capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 2
    assert str(f) in r.stderr and '[programs."REAPER.exe"]' in r.stderr \
        and "'sample_type'" in r.stderr


def test_port_names_are_the_asio_channel_names(prefix: WinePrefix, server: AsiojackServer,
                                               hosts: dict[str, Path]) -> None:
    env = prefix.server_env(server)
    r = subprocess.run([wine_loader(), str(hosts["asiocheck"])], env=env, capture_output=True,
                       text=True, timeout=120)
    out = parse_host_output(r.returncode, r.stdout, r.stderr)
    checks = {e["check"]: e for e in out.events if "check" in e}
    assert checks["channels"]["detail"] == "2 in, 2 out", checks.get("channels")
    got = {name: checks[name]["detail"] for name in checks if name.startswith("channel-name-")}
    assert got == {"channel-name-in-0": "Guitar", "channel-name-in-1": "Vocal mic",
                   "channel-name-out-0": "Monitor L", "channel-name-out-1": "Monitor R"}
    with jack.Client("looker", servername=server.jackd.name, no_start_server=True) as looker:
        assert looker.get_ports("asiocheck:") == []  # closed again: nothing left behind


def test_saving_settings_keeps_program_tables(tmp_path: Path) -> None:
    from pyjack_side.config import load
    from pyjack_side.settings import save

    f = tmp_path / "c.toml"
    f.write_text(CONFIG)
    before = load(f)
    saved = save({"deadline": 0.6}, f)
    assert load(f) == saved and saved.programs == before.programs
    assert saved.for_program("Named.exe").input_names == ("Guitar", "Vocal mic")
    assert saved.for_program("Named.exe").deadline == 0.5
    assert saved.for_program("Other.exe").deadline == 0.6


def test_editing_a_program_table_touches_only_that_program(server: AsiojackServer,
                                                          peer_bin: Path) -> None:
    from conftest import wait_for

    from pyjack_side.abi import lib

    named = start_peer(peer_bin, server, "--exe", "Named.exe", "--seconds", "4")
    other = start_peer(peer_bin, server, "--exe", "Other.exe", "--seconds", "4")
    seg, seg_other = named.segment(), other.segment()
    # A live key applies at once, to that program alone ...
    server.config.write_text(CONFIG.replace("deadline = 0.5", "deadline = 0.4"))
    wait_for(lambda: seg.deadline_permille == 400, 5, "Named.exe's new deadline")
    assert seg_other.deadline_permille == 900
    # ... and a structural one resets that program's host alone.
    server.config.write_text(CONFIG.replace("deadline = 0.5", "deadline = 0.4")
                             .replace('"Vocal mic"]', '"Vox"]'))
    wait_for(lambda: "hosts are asked to reset (Named.exe)" in server.log_text(), 5,
             "the reset of Named.exe")
    stats, stats_other = named.finish(), other.finish()
    assert int(stats["events"]) & lib.ASIOJACK_EVENT_RESET, stats
    assert not int(stats_other["events"]) & lib.ASIOJACK_EVENT_RESET, stats_other
