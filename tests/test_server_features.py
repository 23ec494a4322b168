# SPDX-License-Identifier: LGPL-2.1-or-later
"""Server and engine features a serious host relies on, checked on the Linux side.

Input monitoring in the engine, host-chosen buffer sizes, JACK transport,
configuration reloads that reset hosts, port aliases as channel names,
128 channels, JACK going away and coming back, and the sample conversions
against a numpy reference.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import jack
import numpy as np
import pytest
from conftest import (
    AsiojackServer,
    Jackd,
    start_jackd,
    start_peer,
    start_server,
    wait_for,
)
from rawclient import RawClient

from asiojack_rig.probe import SCALE, LoopProbe
from pyjack_side.abi import ffi, lib
from pyjack_side.protocol import new

UNITY = lib.ASIOJACK_MONITOR_UNITY


def test_input_monitoring_mixes_in_the_engine(asiojack: AsiojackServer, jackd256: Jackd) -> None:
    with RawClient(asiojack.socket) as raw:
        raw.hello()
        opened = raw.open("monitor")
        name = ffi.string(opened.client_name).decode()
        probe = LoopProbe(jackd256.client("probe"))
        try:
            probe.client.connect(probe.send, f"{name}:in_1")
            probe.client.connect(f"{name}:out_2", probe.recv)
            time.sleep(0.2)
            # No host has even created buffers: monitoring is the engine's.
            silent = probe.record(0.4)
            raw.set_monitor(0, 1, UNITY, on=True)
            time.sleep(0.1)
            unity = probe.record(0.6)
            raw.set_monitor(0, 1, UNITY // 2, on=True)
            time.sleep(0.1)
            half = probe.record(0.6)
            half_data = probe.data[: probe.count].copy()
            raw.set_monitor(0, 1, UNITY, on=False)
            time.sleep(0.1)
            off = probe.record(0.4)
            # Bad routes are refused with the channel named.
            raw.send(lib.ASIOJACK_MSG_SET_MONITOR,
                     new(
                         "struct asiojack_msg_set_monitor", input=0, output=99, gain=UNITY, on=1))
            code, message = raw.error()
        finally:
            probe.close()
    assert silent.audible == 0
    assert unity.audible > 0.9 * unity.blocks and unity.not_exact == 0, unity
    assert unity.on_time(jackd256.frames), unity
    # Half gain: every sample is exactly half of a probe value.
    audible = half_data[half_data.any(axis=1)]
    assert len(audible) > 0.9 * half.blocks
    doubled = audible.astype(np.float64) * 2 / SCALE
    assert np.array_equal(doubled, np.rint(doubled)), "half gain is not exact"
    assert off.audible == 0, off
    assert code == lib.ASIOJACK_ERR_INVALID and "output 99" in message


def test_host_chosen_buffer_size(tmp_path: Path) -> None:
    jackd = start_jackd(tmp_path, 256)
    server = start_server(tmp_path, jackd, 'inputs = 2\noutputs = 2\nbuffer_size = "host"\n')
    try:
        with RawClient(server.socket) as other, RawClient(server.socket) as chooser:
            other.hello(exe="other.exe")
            other.open()
            other_seg = other.segment()
            chooser.hello(exe="chooser.exe")
            chooser.open()
            seg = chooser.segment()
            assert seg.buffer_mode == lib.ASIOJACK_BUFFER_HOST
            assert (seg.min_host_frames, seg.max_host_frames) == (16, lib.ASIOJACK_MAX_FRAMES)
            chooser.create_buffers(128, range(2), range(2))
            watcher = jackd.client("watch")
            try:
                assert watcher.blocksize == 128
            finally:
                watcher.close()
            assert seg.jack_buffer_frames == 128
            # Not a power of two: refused, JACK left alone.
            msg = new(
                "struct asiojack_msg_create_buffers", frames=100)
            chooser.send(lib.ASIOJACK_MSG_CREATE_BUFFERS, msg)
            code, message = chooser.error()
            assert code == lib.ASIOJACK_ERR_INVALID and "power of two" in message
            # The other session's host is told (in its segment, where the
            # driver reads events); the chooser is not told of its own change.
            assert other_seg.events & lib.ASIOJACK_EVENT_BUFFER_SIZE
            assert other_seg.jack_buffer_frames == 128
            assert not seg.events & lib.ASIOJACK_EVENT_BUFFER_SIZE
    finally:
        server.stop()
        jackd.stop()


def test_transport_requests_drive_jack_transport(asiojack: AsiojackServer,
                                                 jackd256: Jackd) -> None:
    watcher = jackd256.client("watch")
    try:
        with RawClient(asiojack.socket) as raw:
            raw.hello()
            raw.open()
            raw.request(lib.ASIOJACK_MSG_TRANSPORT,
                        new("struct asiojack_msg_transport",
                            command=lib.ASIOJACK_TRANSPORT_LOCATE, frame_lo=96000))
            wait_for(lambda: watcher.transport_frame >= 96000, 2, "transport to locate")
            raw.request(lib.ASIOJACK_MSG_TRANSPORT,
                        new("struct asiojack_msg_transport",
                            command=lib.ASIOJACK_TRANSPORT_START))
            wait_for(lambda: watcher.transport_state == jack.ROLLING, 2, "transport to roll")
            raw.request(lib.ASIOJACK_MSG_TRANSPORT,
                        new("struct asiojack_msg_transport", command=lib.ASIOJACK_TRANSPORT_STOP))
            wait_for(lambda: watcher.transport_state == jack.STOPPED, 2, "transport to stop")
    finally:
        watcher.close()


def test_config_change_resets_hosts_and_bad_edits_are_refused(
        asiojack: AsiojackServer, peer_bin: Path) -> None:
    peer = start_peer(peer_bin, asiojack, "--seconds", "3")
    seg = peer.segment()
    time.sleep(0.3)
    # A bad value: named in the log, nothing applied, no reset.
    asiojack.config.write_text("inputs = 4\noutputs = 4\ndeadline = 7\n")
    wait_for(lambda: "key 'deadline'" in asiojack.log_text(), 3, "the bad key to be logged")
    assert str(asiojack.config) in asiojack.log_text()
    assert seg.deadline_permille == 900
    # A live setting applies at once, without a reset.
    asiojack.config.write_text("inputs = 4\noutputs = 4\ndeadline = 0.6\n")
    wait_for(lambda: seg.deadline_permille == 600, 3, "the new deadline")
    # A structural one resets the host.
    asiojack.config.write_text("inputs = 4\noutputs = 4\ndeadline = 0.6\n"
                               'sample_type = "int16"\n')
    wait_for(lambda: "hosts are asked to reset" in asiojack.log_text(), 3, "the reset")
    stats = peer.finish()
    assert int(stats["events"]) & lib.ASIOJACK_EVENT_RESET, stats


def test_port_alias_names_the_channel(asiojack: AsiojackServer, jackd256: Jackd) -> None:
    with RawClient(asiojack.socket) as raw:
        raw.hello(exe="alias.exe")
        raw.open()
        seg = raw.segment()
        assert ffi.string(seg.shm.in_names[0]).decode() == "in_1"
        watcher = jackd256.client("watch")
        try:
            port = watcher.get_port_by_name("alias:in_1")
            port.set_alias("Guitar DI")
            # Any graph change refreshes the names.
            watcher.disconnect("system:capture_2", "alias:in_2")
            wait_for(lambda: ffi.string(seg.shm.in_names[0]).decode() == "Guitar DI", 3,
                     "the alias to become the channel name")
            assert ffi.string(seg.shm.in_names[1]).decode() == "in_2"
        finally:
            watcher.close()


def test_128_channels_each_way(jackd256: Jackd, peer_bin: Path, tmp_path: Path) -> None:
    server = start_server(tmp_path, jackd256, "inputs = 128\noutputs = 128\n"
                                              "autoconnect = false\n")
    try:
        peer = start_peer(peer_bin, server, "--seconds", "3")
        watcher = jackd256.client("watch")
        try:
            assert len(watcher.get_ports(f"{peer.client_name}:", is_input=True)) == 128
            assert len(watcher.get_ports(f"{peer.client_name}:", is_output=True)) == 128
        finally:
            watcher.close()
        probe = LoopProbe(jackd256.client("probe"))
        try:
            result = probe.through(f"{peer.client_name}:in_128", f"{peer.client_name}:out_128", 1.0)
        finally:
            probe.close()
        assert peer.finish()["returncode"] == 0
    finally:
        server.stop()
    assert result.audible > 0.8 * result.blocks and result.not_exact == 0, result
    assert result.on_time(jackd256.frames), result


def test_jack_gone_and_back(peer_bin: Path, tmp_path: Path) -> None:
    jackd = start_jackd(tmp_path, 256)
    server = start_server(tmp_path, jackd)
    try:
        # One program keeps its (dead) session open across JACK's restart.
        with RawClient(server.socket) as lingering:
            lingering.hello(exe="lingering.exe")
            lingering.open()
            peer = start_peer(peer_bin, server, "--seconds", "2")
            time.sleep(0.3)
            jackd.halt()
            stats = peer.finish()
            assert int(stats["events"]) & lib.ASIOJACK_EVENT_JACK_GONE, stats
            assert server.proc.poll() is None
            # While JACK is away, opening says so.
            with RawClient(server.socket) as raw:
                raw.hello()
                raw.send(lib.ASIOJACK_MSG_OPEN, new("struct asiojack_msg_open"))
                code, message = raw.error()
                assert code == lib.ASIOJACK_ERR_JACK, message
                assert f"JACK server '{jackd.name}' not running" in message
            # JACK back under the same name: a new session works, next to
            # the dead one, and the dead one says what happened.
            restarted = jackd.restart()
            try:
                for _ in range(3):
                    again = start_peer(peer_bin, server, "--seconds", "0.3")
                    assert again.finish()["returncode"] == 0
                lingering.send(lib.ASIOJACK_MSG_START)
                code, message = lingering.error()
                assert code == lib.ASIOJACK_ERR_JACK and "JACK server is gone" in message
                assert server.proc.poll() is None
            finally:
                restarted.stop()
    finally:
        server.stop()
        jackd.stop()


def test_jack_dying_again_and_again_never_wedges_the_server(peer_bin: Path,
                                                           tmp_path: Path) -> None:
    """Each death's dead client is closed without hanging, so JACK back means a session.

    jack_client_close kills libjack's threads wherever they are; it used to
    run while the notification thread was still logging libjack's messages
    about the death, which left the logging lock held by a dead thread and
    the close (inside libjack's open/close mutex) waiting for it forever:
    every later open hung.  It was a race: several deaths make it show.
    """
    jackd = start_jackd(tmp_path, 256)
    jackds = [jackd]
    server = start_server(tmp_path, jackd)
    try:
        for _ in range(10):
            opened = server.log_text().count("is JACK client")
            peer = start_peer(peer_bin, server, "--seconds", "1")
            # Hung behind the last death's close, this open never came.
            wait_for(lambda n=opened: server.log_text().count("is JACK client") > n,
                     10, "the peer's session on the JACK that is back")
            time.sleep(0.2)
            told = server.log_text().count("JACK shut down session")
            jackd.halt()
            wait_for(lambda n=told: server.log_text().count("JACK shut down session") > n,
                     10, "the server to hear of JACK's death")
            peer.finish()
            jackd = jackd.restart()
            jackds.append(jackd)
            with RawClient(server.socket) as raw:
                raw.hello(exe="after.exe")
                reply = raw.open()
                assert reply.session_id > 0
            assert server.proc.poll() is None
    finally:
        server.stop()
        for each in jackds:
            each.stop()


ROUNDING = [(lib.ASIOJACK_SAMPLE_INT32, np.int32, 2.0**31),
            (lib.ASIOJACK_SAMPLE_INT16, np.int16, 2.0**15)]


def reference(x: np.ndarray, full: float) -> np.ndarray:
    return np.clip(np.rint(x.astype(np.float64) * full), -full, full - 1)


@pytest.mark.parametrize("sample_type, dtype, full", ROUNDING)
def test_integer_conversion_matches_numpy(sample_type: int, dtype: type, full: float) -> None:
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-1.2, 1.2, 4096),
                        [0.0, -0.0, 1.0, -1.0, 1.5, -1.5, 0.5 / full, 1.5 / full, -0.5 / full,
                         np.nan, np.inf, -np.inf]]).astype(np.float32)
    out = np.zeros(len(x), dtype=dtype)
    lib.asiojack_convert_from_float(ffi.from_buffer(out), ffi.from_buffer("float[]", x),
                                    len(x), sample_type)
    expected = reference(np.nan_to_num(x, nan=0.0, posinf=2.0, neginf=-2.0), full)
    assert np.array_equal(out.astype(np.float64), expected)
    back = np.zeros(len(x), dtype=np.float32)
    lib.asiojack_convert_to_float(ffi.from_buffer("float[]", back), ffi.from_buffer(out),
                                  len(x), sample_type)
    assert np.array_equal(back, (out.astype(np.float64) / full).astype(np.float32))


def test_int24_conversion_matches_numpy() -> None:
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-1.2, 1.2, 4096), [1.0, -1.0, 0.5 / 2**23]]).astype(np.float32)
    packed = np.zeros(3 * len(x), dtype=np.uint8)
    lib.asiojack_convert_from_float(ffi.from_buffer(packed), ffi.from_buffer("float[]", x),
                                    len(x), lib.ASIOJACK_SAMPLE_INT24)
    b = packed.reshape(-1, 3).astype(np.int32)
    values = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16))
    values = np.where(values >= 2**23, values - 2**24, values)
    assert np.array_equal(values.astype(np.float64), reference(x, 2.0**23))
    back = np.zeros(len(x), dtype=np.float32)
    lib.asiojack_convert_to_float(ffi.from_buffer("float[]", back), ffi.from_buffer(packed),
                                  len(x), lib.ASIOJACK_SAMPLE_INT24)
    assert np.array_equal(back, (values / 2.0**23).astype(np.float32))


def test_int16_session_round_trip_matches_numpy(jackd256: Jackd, peer_bin: Path,
                                                tmp_path: Path) -> None:
    server = start_server(tmp_path, jackd256, 'inputs = 2\noutputs = 2\nsample_type = "int16"\n')
    try:
        peer = start_peer(peer_bin, server, "--seconds", "2.5")
        probe = LoopProbe(jackd256.client("probe"))
        try:
            probe.client.connect(probe.send, f"{peer.client_name}:in_1")
            probe.client.connect(f"{peer.client_name}:out_1", probe.recv)
            time.sleep(0.3)
            probe.record(1.0)
            data = probe.data[: probe.count].copy()
            times = probe.times[: probe.count].copy()
        finally:
            probe.close()
        assert peer.finish()["returncode"] == 0
    finally:
        server.stop()
    # What the probe sent one period earlier, through int16 and back.
    frames = jackd256.frames
    ramp = np.arange(frames, dtype=np.int64)
    sent = (((times[:, None] - frames + ramp[None, :]) % (2**24 - 1)) + 1) * SCALE
    expected = (reference(sent.astype(np.float32), 2.0**15) / 2.0**15).astype(np.float32)
    audible = data.any(axis=1)
    assert audible.sum() > 0.8 * len(data)
    # Every sample is an int16 value, and (xruns aside) the one numpy predicts.
    scaled = data.astype(np.float64) * 2.0**15
    assert np.array_equal(scaled, np.rint(scaled))
    matching = np.all(data == expected, axis=1)
    assert matching.sum() > 0.9 * audible.sum(), (matching.sum(), audible.sum())


def test_routes_are_saved_and_restored(asiojack: AsiojackServer, jackd256: Jackd,
                                       peer_bin: Path) -> None:
    # First run: auto-connected; the musician re-wires it.
    first = start_peer(peer_bin, asiojack, "--seconds", "1.5", "--exe", "Reaper.exe")
    watcher = jackd256.client("watch")
    try:
        assert [p.name for p in watcher.get_all_connections("reaper:in_1")] == \
            ["system:capture_1"]
        watcher.disconnect("system:capture_1", "reaper:in_1")
        watcher.connect("system:capture_2", "reaper:in_1")
        watcher.disconnect("reaper:out_2", "system:playback_2")
        assert first.finish()["returncode"] == 0
        wait_for(lambda: not watcher.get_ports("reaper:"), 3, "the first run to close")
        # Next run: the wiring comes back as it was left, not auto-connected.
        second = start_peer(peer_bin, asiojack, "--seconds", "0.5", "--exe", "Reaper.exe")
        assert [p.name for p in watcher.get_all_connections("reaper:in_1")] == \
            ["system:capture_2"]
        assert [p.name for p in watcher.get_all_connections("reaper:out_1")] == \
            ["system:playback_1"]
        assert watcher.get_all_connections("reaper:out_2") == []
        assert second.finish()["returncode"] == 0
    finally:
        watcher.close()
    state = Path(asiojack.env["ASIOJACK_STATE_DIR"]) / "routes.json"
    assert oct(state.stat().st_mode & 0o777) == "0o600"


def test_damaged_routes_file_falls_back_to_autoconnect(asiojack: AsiojackServer,
                                                      jackd256: Jackd, peer_bin: Path) -> None:
    state = Path(asiojack.env["ASIOJACK_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "routes.json").write_text("{not json")
    peer = start_peer(peer_bin, asiojack, "--seconds", "0.5", "--exe", "Reaper.exe")
    watcher = jackd256.client("watch")
    try:
        assert [p.name for p in watcher.get_all_connections("reaper:in_1")] == \
            ["system:capture_1"]
    finally:
        watcher.close()
    assert peer.finish()["returncode"] == 0
    assert "saved routes in" in asiojack.log_text() and "not used" in asiojack.log_text()
    # The damaged file is kept aside, and a good one takes its place.
    wait_for(lambda: (state / "routes.json.damaged").exists(), 3, "the damaged file kept aside")
    assert (state / "routes.json.damaged").read_text() == "{not json"
    assert "reaper" in json.loads((state / "routes.json").read_text())
