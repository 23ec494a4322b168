# SPDX-License-Identifier: LGPL-2.1-or-later
"""ASIO semantics of the driver under Wine, with hosts of our own and PortAudio's.

What a DAW relies on beyond streaming: misuse refused in words, time info
every cycle, JACK transport as time code, sample formats, several programs
at once, reset requests when JACK changes or goes away, host-chosen buffer
sizes, input monitoring and the control panel.  Everything is real: a
private dummy jackd, a private asiojack server, Wine, MinGW-built hosts
(tests/host/resethost.c, asiocheck.c, pahost.c) and PortAudio's ASIO DLL.
The run's shared Wine prefix (conftest.py) serves the module.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jack
import numpy as np
import pytest

from asiojack_rig.harness import (
    AsiojackServer,
    Jackd,
    server_segments,
    start_jackd,
    start_server,
    wait_for,
)
from asiojack_rig.hostile import (
    ASE_INVALID_PARAMETER,
    ASE_NOT_PRESENT,
    ASE_OK,
    ASE_SUCCESS,
    BUFFER_SIZE_CHANGE,
    LATENCIES_CHANGED,
    RESET_REQUEST,
    SAMPLE_POSITION_VALID,
    SAMPLE_RATE_VALID,
    SYSTEM_TIME_VALID,
    TC_RUNNING,
    TC_VALID,
    HostProcess,
    jack_period,
    restart_jackd,
)
from asiojack_rig.probe import SCALE, LoopProbe
from asiojack_rig.winehost import WinePrefix, parse_host_output, wine_loader

CONFIG = "inputs = 4\noutputs = 4\ndeadline = 0.9\n"


def assert_whole_buffers(seg: dict[str, int], frames: int) -> None:
    """samplePosition moves by exactly one buffer per callback.

    A cycle the host missed (a deadline miss on this loaded, non-real-time
    machine) shows as a jump of whole buffers: the position follows time,
    never drifts by a fraction, and the usual step is exactly one buffer.
    """
    assert seg["step_min"] == frames, seg
    assert seg["step_max"] % frames == 0 and seg["step_max"] <= 8 * frames, seg


# ----------------------------------------------------------------- fixtures
@pytest.fixture
def server(jackd256: Jackd, tmp_path: Path) -> Iterator[AsiojackServer]:
    s = start_server(tmp_path, jackd256, CONFIG)
    yield s
    s.stop()


@pytest.fixture
def own_jackd(tmp_path: Path) -> Iterator[Jackd]:
    """A jackd of this test alone: the test changes it or stops it."""
    j = start_jackd(tmp_path, 256)
    yield j
    j.stop()


def resethost(prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer,
              *args: str, **env: str) -> HostProcess:
    return HostProcess(hosts["resethost"], list(args), prefix.server_env(server, **env))


def streaming(host: HostProcess, frames: int | None = None, after: int = 0,
              timeout: float = 30) -> None:
    """Wait until the host started and its callbacks come."""
    fields = {"code": ASE_OK} if frames is None else {"code": ASE_OK, "frames": frames}
    host.wait_event("started", timeout, after, **fields)
    host.wait(lambda e: e.get("event") == "tick" and e["callbacks"] > 10, 10, "callbacks", after)


def jack_env(jackd: Jackd) -> dict[str, str]:
    return dict(os.environ, JACK_DEFAULT_SERVER=jackd.name)


# ---------------------------------------------------------- 8: host misuse
MISUSE_CHECKS = (
    "start-unprepared", "start-unprepared-message", "create-twice", "create-twice-message",
    "monitor-null-message", "transport-null-message", "start-after-dispose",
    "dispose-while-running", "none-after-dispose", "stop-when-stopped", "stop-twice",
    "latencies-null", "buffer-size-null", "channels-null", "channel-info-null",
    "position-null", "clock-sources-null", "monitor-null", "transport-null",
    "future-unknown", "future-zero", "future-negative", "init-twice",
    "output-ready-early", "output-ready-before-init", "create-size", "create-size-message",
)


def test_host_misuse_is_refused_in_words(prefix: WinePrefix, hosts: dict[str, Path],
                                         server: AsiojackServer) -> None:
    r = subprocess.run([wine_loader(), str(hosts["asiocheck"])], env=prefix.server_env(server),
                       capture_output=True, text=True, timeout=120)
    out = parse_host_output(r.returncode, r.stdout, r.stderr)
    checks = {e["check"]: e for e in out.events if "check" in e}
    failed = [e for e in checks.values() if not e["ok"]]
    assert not failed and out.result.get("result") == "ok", (failed, out.result, r.stderr[-2000:])
    missing = [name for name in MISUSE_CHECKS if name not in checks]
    assert not missing, missing
    assert r.returncode == 0


# ------------------------------------------------------------------ 4: time
def test_time_info_every_cycle(prefix: WinePrefix, hosts: dict[str, Path],
                               server: AsiojackServer, jackd256: Jackd) -> None:
    host = resethost(prefix, hosts, server, "--seconds", "1.5", "--time-code")
    result = host.finish()
    assert result["result"] == "ok", host.tail()
    device = host.of("device")[0]
    seg = host.of("segment")[-1]
    frames = jackd256.frames
    assert seg["frames"] == frames and seg["callbacks"] > 0.5 * 1.5 * 48000 / frames, seg
    # samplePosition: 0 at start, then exactly one buffer per cycle
    assert seg["first_pos"] == 0, seg
    assert_whole_buffers(seg, frames)
    assert seg["flags_and"] & (SYSTEM_TIME_VALID | SAMPLE_POSITION_VALID | SAMPLE_RATE_VALID) \
        == SYSTEM_TIME_VALID | SAMPLE_POSITION_VALID | SAMPLE_RATE_VALID, seg
    assert seg["rate"] == 48000.0
    # getSamplePosition inside bufferSwitch names the same cycle
    assert seg["position_mismatch"] == 0 and seg["position_errors"] == 0, seg
    # systemTime: monotonic nanoseconds, one period apart on average
    assert seg["systime_back"] == 0, seg
    span_ns = seg["time_last"] - seg["time_first"]
    expected_ns = (seg["last_pos"] - seg["first_pos"]) * 1e9 / 48000
    assert abs(span_ns - expected_ns) < 0.1 * expected_ns + 20e6, (span_ns, expected_ns)
    # the callback thread, not the host's, heard every asioMessage
    assert all(thread == "driver" for _, _, thread in host.messages()), host.messages()
    assert device["preferred"] == frames


def port_latency(jackd: Jackd, port: str, kind: str) -> int:
    """The max of a port's JACK latency range (kind: "capture" or "playback")."""
    out = subprocess.run(["jack_lsp", "-l", port], env=jack_env(jackd), capture_output=True,
                         text=True, timeout=10).stdout
    m = re.search(rf"port {kind} latency = \[ (\d+) (\d+) \]", out)
    assert m, out
    return int(m.group(2))


def test_latencies_are_jacks_and_follow_the_graph(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer,
        jackd256: Jackd) -> None:
    host = resethost(prefix, hosts, server, "--commands")
    try:
        streaming(host)
        device = host.of("device")[0]
        in_lat = port_latency(jackd256, "resethost:in_1", "capture")
        out_lat = port_latency(jackd256, "resethost:out_1", "playback")
        # JACK's figures, nothing added (the dummy, async: 1 and 2 periods)
        assert device["input_latency"] == in_lat == 256, (device, in_lat)
        assert device["output_latency"] == out_lat == 512, (device, out_lat)
        # The active outputs now feed a client that goes nowhere: JACK says
        # 0 behind them; the host hears kAsioLatenciesChanged and reads 0.
        c = jackd256.client("rewire")
        try:
            sink = c.inports.register("in")
            c.activate()
            n = len(host.snapshot())
            for i in (1, 2):
                port = f"resethost:out_{i}"
                for dst in c.get_all_connections(port):
                    c.disconnect(port, dst)
                c.connect(port, sink)
            host.wait(lambda e: e.get("event") == "message" and
                      e["selector"] == LATENCIES_CHANGED, 5, "kAsioLatenciesChanged", n)
            after = host.command("latencies")
            assert after["output_latency"] == 0 == \
                port_latency(jackd256, "resethost:out_1", "playback"), after
            # Connected to nothing: what a connection to the hardware gives.
            n = len(host.snapshot())
            for i in (1, 2):
                c.disconnect(f"resethost:out_{i}", sink)
            host.wait(lambda e: e.get("event") == "message" and
                      e["selector"] == LATENCIES_CHANGED, 5, "kAsioLatenciesChanged", n)
            assert host.command("latencies")["output_latency"] == 512
        finally:
            c.close()
    finally:
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    assert RESET_REQUEST not in [s for s, _, _ in host.messages()]


def test_jack_transport_reaches_the_host_as_time_code(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer,
        jackd256: Jackd) -> None:
    c = jackd256.client("transport")
    c.transport_stop()
    c.transport_frame = 0
    host = resethost(prefix, hosts, server, "--time-code", "--commands")
    try:
        streaming(host)
        stopped = host.wait(lambda e: e.get("event") == "tick" and e["tc_flags"] & TC_VALID,
                            5, "valid time code")
        assert not stopped["tc_flags"] & TC_RUNNING, stopped
        # jack_transport locate / start from outside: the host sees it
        c.transport_frame = 480000
        host.wait(lambda e: e.get("event") == "tick" and e["tc_samples"] == 480000, 5,
                  "the located position")
        n = len(host.snapshot())
        c.transport_start()
        rolling = host.wait(lambda e: e.get("event") == "tick" and e["tc_flags"] & TC_RUNNING
                            and e["tc_samples"] > 480000, 5, "rolling time code", n)
        later = host.wait(lambda e: e.get("event") == "tick" and
                          e["tc_samples"] > rolling["tc_samples"] + 4800, 5, "advancing", n)
        assert later["tc_flags"] & TC_VALID
        c.transport_stop()
        host.wait(lambda e: e.get("event") == "tick" and e["tc_flags"] & TC_VALID and
                  not e["tc_flags"] & TC_RUNNING, 5, "stopped time code", len(host.snapshot()))
    finally:
        c.close()
        result = host.finish()
    assert result["result"] == "ok", host.tail()
    seg = host.of("segment")[-1]
    assert seg["tc_running"] > 0 and seg["tc_last_running"] > seg["tc_first_running"], seg


def test_host_drives_jack_transport(prefix: WinePrefix, hosts: dict[str, Path],
                                    server: AsiojackServer, jackd256: Jackd) -> None:
    c = jackd256.client("transport")
    c.transport_stop()
    host = resethost(prefix, hosts, server, "--time-code", "--commands")
    try:
        streaming(host)
        assert host.command("can")["transport"] == ASE_SUCCESS
        assert host.command("locate 96000")["code"] == ASE_SUCCESS
        wait_for(lambda: c.transport_frame == 96000, 3, "JACK located by the host")
        assert host.command("transport start")["code"] == ASE_SUCCESS
        wait_for(lambda: c.transport_state == jack.ROLLING, 3, "JACK rolling by the host")
        host.wait(lambda e: e.get("event") == "tick" and e["tc_flags"] & TC_RUNNING, 5,
                  "the host to see its own start")
        assert host.command("transport stop")["code"] == ASE_SUCCESS
        wait_for(lambda: c.transport_state == jack.STOPPED, 3, "JACK stopped by the host")
        bad = host.command("transport punch")
        assert bad["code"] == ASE_INVALID_PARAMETER and "transport" in bad["error"], bad
        null = host.command("transport-null")
        assert null["code"] == ASE_INVALID_PARAMETER and null["error"], null
    finally:
        c.close()
        result = host.finish()
    assert result["result"] == "ok", host.tail()


# ----------------------------------------------------------- 6: sample types
ASIO_TYPES = {"int16": 16, "int24": 17, "int32": 18, "float32": 19}
FULL_SCALE = {"int16": 2.0**15, "int24": 2.0**23, "int32": 2.0**31}


def quantize(v: np.ndarray, fmt: str) -> np.ndarray:
    """The engine's float -> integer: round to nearest (even), clip."""
    full = FULL_SCALE[fmt]
    return np.clip(np.rint(v.astype(np.float64) * full), -full, full - 1)


def dequantize(q: np.ndarray, fmt: str) -> np.ndarray:
    return (q / FULL_SCALE[fmt]).astype(np.float32)


def portaudio_round_trip(q: np.ndarray, fmt: str) -> np.ndarray:
    """PortAudio's integer -> float32 -> integer for a host that copies floats
    (paClipOff|paDitherOff): exact scaling in, truncation toward zero out,
    as its pa_converters.c does."""
    f = (q / FULL_SCALE[fmt]).astype(np.float32)
    if fmt == "int16":
        # float32 times 32767.0f, truncated
        scaled = (f * np.float32(32767.0)).astype(np.float32)
        return np.trunc(scaled.astype(np.float64))
    if fmt == "int24":
        # double times 2147483647.0, truncated, then the low byte dropped
        return np.floor(np.trunc(f.astype(np.float64) * 2147483647.0) / 256.0)
    # int32: float times the int 0x7FFFFFFF, which C makes float 2^31: exact
    return np.trunc(f.astype(np.float64) * 2.0**31)


def record_through(jackd: Jackd, client: str, seconds: float) -> tuple[LoopProbe, int]:
    probe = LoopProbe(jackd.client(f"probe-{client}"))
    probe.client.connect(probe.send, f"{client}:in_1")
    probe.client.connect(f"{client}:out_1", probe.recv)
    time.sleep(0.3)
    probe.record(seconds)
    return probe, probe.count


def check_formats(probe: LoopProbe, expected_of: Callable[[np.ndarray], np.ndarray],
                  frames: int) -> None:
    data = probe.data[:probe.count].astype(np.float64)
    times = probe.times[:probe.count]
    audible = data.any(axis=1)
    assert audible.sum() > 0.7 * probe.count, (audible.sum(), probe.count)
    ramp = np.arange(probe.frames)
    # What was sent `frames` earlier (the round trip through a host is one period)
    sent_frame = (times[audible][:, None] + ramp[None, :] - frames) % (2**24 - 1)
    sent = ((sent_frame + 1) * SCALE).astype(np.float32)
    expected = expected_of(sent).astype(np.float64)
    got = data[audible]
    wrong = np.count_nonzero(got != expected)
    # JACK's own xruns on the dummy server can stale a block: allow those only
    bad_blocks = np.count_nonzero((got != expected).any(axis=1))
    assert bad_blocks <= 3 * probe.xruns, (wrong, bad_blocks, probe.xruns,
                                           got[(got != expected).any(axis=1)][:1, :4],
                                           expected[(got != expected).any(axis=1)][:1, :4])


@pytest.mark.parametrize("fmt", ["int16", "int24", "int32"])
def test_sample_type_through_the_host(fmt: str, prefix: WinePrefix, hosts: dict[str, Path],
                                      jackd256: Jackd, tmp_path: Path) -> None:
    server = start_server(tmp_path, jackd256, CONFIG + f'sample_type = "{fmt}"\n')
    try:
        # Our host copies the raw integers: the engine's rounding alone.
        host = resethost(prefix, hosts, server, "--commands")
        try:
            streaming(host)
            device = host.of("device")[0]
            assert device["in_type"] == device["out_type"] == ASIO_TYPES[fmt], device
            probe, _ = record_through(jackd256, "resethost", 1.0)
            probe.close()
        finally:
            host.finish()
        check_formats(probe, lambda v: dequantize(quantize(v, fmt), fmt), jackd256.frames)

        # PortAudio converts for a float program, without dither or clipping.
        pa = HostProcess(prefix.pahost, ["stream", "--device", "asiojack", "--seconds", "3",
                                         "--channels", "2", "--no-dither"],
                         prefix.server_env(server), prefix_args=[str(prefix.portaudio)])
        try:
            pa.wait(lambda e: e.get("event") == "started", 30, "pahost to start")
            probe, _ = record_through(jackd256, "pahost", 1.0)
            probe.close()
        finally:
            result = pa.finish()
        assert result["result"] == "ok", pa.tail()
        check_formats(probe,
                      lambda v: dequantize(portaudio_round_trip(quantize(v, fmt), fmt), fmt),
                      jackd256.frames)
    finally:
        server.stop()


# --------------------------------------------------- 7: two programs at once
def test_two_programs_at_once_each_bit_exact(prefix: WinePrefix, server: AsiojackServer,
                                            jackd256: Jackd) -> None:
    # Two Wine processes of one prefix (one wineserver): if the driver kept
    # anything per prefix (a named object, a registry value), they would
    # meet there, which two prefixes would hide.
    long_run = HostProcess(prefix.pahost, ["stream", "--device", "asiojack", "--seconds", "7",
                                           "--channels", "2"],
                           prefix.server_env(server), prefix_args=[str(prefix.portaudio)])
    long_run.wait(lambda e: e.get("event") == "started", 30, "the first program")
    short_run = HostProcess(prefix.pahost, ["stream", "--device", "asiojack", "--seconds", "2",
                                            "--channels", "2"],
                            prefix.server_env(server), prefix_args=[str(prefix.portaudio)])
    short_run.wait(lambda e: e.get("event") == "started", 30, "the second program")
    probes = {name: LoopProbe(jackd256.client(f"p-{name}")) for name in ("pahost", "pahost-2")}
    try:
        for name, probe in probes.items():
            probe.client.connect(probe.send, f"{name}:in_1")
            probe.client.connect(f"{name}:out_1", probe.recv)
        time.sleep(0.3)
        for probe in probes.values():
            probe.count = 0
            probe.recording = True
        time.sleep(1.0)
        probes["pahost-2"].recording = False
        both = probes["pahost-2"].analyse()
        # the second program ends; the first must not notice
        short_result = short_run.finish()
        time.sleep(1.0)
        probes["pahost"].recording = False
        first = probes["pahost"].analyse()
    finally:
        for probe in probes.values():
            probe.close()
    long_result = long_run.finish()
    assert short_result["result"] == "ok" and long_result["result"] == "ok"
    for analysis in (both, first):
        assert analysis.audible > 0.8 * analysis.blocks, analysis
        assert analysis.not_exact == 0 and analysis.torn == 0, analysis
        assert analysis.on_time(jackd256.frames), analysis
    assert first.silent == 0 or first.silent <= 3 * first.xruns, first


# ------------------------------------------ 1+2: changes while a host runs
@pytest.mark.parametrize("accept", [False, True], ids=["reset", "accepted"])
def test_jack_buffer_size_change_reaches_the_host(accept: bool, prefix: WinePrefix,
                                                  hosts: dict[str, Path], own_jackd: Jackd,
                                                  tmp_path: Path) -> None:
    server = start_server(tmp_path, own_jackd, CONFIG)
    args = ["--seconds", "30", "--commands"] + (["--accept-size-change"] if accept else [])
    host = resethost(prefix, hosts, server, *args)
    try:
        streaming(host, 256)
        n = len(host.snapshot())
        subprocess.run(["jack_bufsize", "128"], env=jack_env(own_jackd), check=True,
                       capture_output=True, timeout=10)
        streaming(host, 128, after=n)
        time.sleep(0.3)
        result = host.finish()
        # the session closes as after any other run
        wait_for(lambda: not server_segments(server), 5, "the session to close")
    finally:
        host.kill()
        server.stop()
    assert result["result"] == "ok", host.tail()
    messages = [(s, v) for s, v, _ in host.messages()]
    size_change = messages.index((BUFFER_SIZE_CHANGE, 128))
    if accept:
        # the host took the new size itself: no reset request follows
        assert RESET_REQUEST not in [s for s, _ in messages[size_change:]], messages
    else:
        assert (RESET_REQUEST, 0) in messages[size_change + 1:], messages
    assert all(thread == "driver" for _, _, thread in host.messages()), host.messages()
    segments = host.of("segment")
    assert segments[0]["frames"] == 256 and segments[0]["step_max"] % 256 == 0, segments
    assert segments[-1]["frames"] == 128 and segments[-1]["callbacks"] > 10, segments
    assert_whole_buffers(segments[-1], 128)


def test_jack_gone_then_back(prefix: WinePrefix, hosts: dict[str, Path], own_jackd: Jackd,
                             tmp_path: Path) -> None:
    server = start_server(tmp_path, own_jackd, CONFIG)
    again: Jackd | None = None
    host = resethost(prefix, hosts, server, "--commands", "--reopen-seconds", "30")
    try:
        streaming(host)
        reset_thread = host.of("segment")  # none yet
        assert reset_thread == []
        own_jackd.halt()
        reset = host.wait_event("reset", 10)
        assert "JACK" in reset["error"] and reset["reopen"], reset
        assert RESET_REQUEST in [s for s, _, _ in host.messages()]
        stopped = host.of("stopped")[0]
        assert stopped["stop"] == ASE_OK and stopped["dispose"] == ASE_OK, stopped
        released = host.wait_event("released", 5)
        assert released["refs"] == 0
        time.sleep(0.5)   # the host keeps trying while JACK is away
        n = len(host.snapshot())
        again = restart_jackd(own_jackd)
        host.wait_event("reopened", 20, n)
        streaming(host, 256, after=n)
        # the new session streams bit-exact
        probe = LoopProbe(again.client("probe"))
        try:
            analysis = probe.through("resethost:in_1", "resethost:out_1", 1.0)
        finally:
            probe.close()
        assert analysis.audible > 0.8 * analysis.blocks and analysis.not_exact == 0, analysis
    finally:
        result = host.finish()
        server.stop()
        if again is not None:
            again.stop()
    assert result["result"] == "ok", host.tail()
    # The reset request came on the thread that ran the callbacks
    first_segment = host.of("segment")[0]
    resets = [e for e in host.of("message") if e["selector"] == RESET_REQUEST]
    assert resets and resets[0]["thread_id"] == first_segment["thread_id"], (resets,
                                                                             first_segment)


def test_configuration_change_resets_the_host_onto_new_settings(
        prefix: WinePrefix, hosts: dict[str, Path], jackd256: Jackd, tmp_path: Path) -> None:
    # JACK cannot change its rate while running, so the driver's reset path
    # is exercised through the server's RESET event (a configuration edit
    # that needs new buffers), which ends the same way as a rate change.
    server = start_server(tmp_path, jackd256, CONFIG)
    host = resethost(prefix, hosts, server, "--commands")
    try:
        streaming(host)
        assert host.of("device")[0]["inputs"] == 4
        n = len(host.snapshot())
        server.config.write_text('inputs = 6\noutputs = 4\ndeadline = 0.9\n'
                                 'sample_type = "int16"\n')
        reset = host.wait_event("reset", 10, n)
        assert not reset["reopen"], reset   # the host only re-creates its buffers
        streaming(host, 256, after=n)
        device = host.of("device")[-1]
        # ... and yet gets a session with the new settings
        assert device["inputs"] == 6 and device["in_type"] == ASIO_TYPES["int16"], device
    finally:
        result = host.finish()
        server.stop()
    assert result["result"] == "ok", host.tail()
    assert (RESET_REQUEST, 0, "driver") in host.messages(), host.messages()


# ---------------------------------------------------- 3: host buffer mode
def test_host_chooses_the_jack_period_in_host_mode(prefix: WinePrefix, hosts: dict[str, Path],
                                                   own_jackd: Jackd, tmp_path: Path) -> None:
    server = start_server(tmp_path, own_jackd, CONFIG + 'buffer_size = "host"\n')
    try:
        host = resethost(prefix, hosts, server, "--frames", "128", "--commands")
        try:
            streaming(host, 128)
            device = host.of("device")[0]
            assert device["granularity"] == -1 and device["preferred"] == 256, device
            assert device["min"] <= 128 <= device["max"] and device["min"] < device["max"]
            assert jack_period(own_jackd) == 128
            bufsize = subprocess.run(["jack_bufsize"], env=jack_env(own_jackd),
                                     capture_output=True, text=True, timeout=10).stdout
            assert "128" in bufsize, bufsize
        finally:
            result = host.finish()
    finally:
        server.stop()
    assert result["result"] == "ok", host.tail()
    seg = host.of("segment")[-1]
    assert seg["frames"] == 128, seg
    assert_whole_buffers(seg, 128)
    # its own change of JACK's period is no reason to reset the host
    assert RESET_REQUEST not in [s for s, _, _ in host.messages()], host.messages()


def test_jack_mode_refuses_another_buffer_size(prefix: WinePrefix, hosts: dict[str, Path],
                                               server: AsiojackServer) -> None:
    host = resethost(prefix, hosts, server, "--frames", "128")
    result = host.finish()
    assert result["result"] == "fail"
    device = host.of("device")[0]
    assert device["min"] == device["max"] == device["preferred"] == 256, device
    assert device["granularity"] == 0, device
    create = host.of("create")[0]
    assert create["code"] == ASE_INVALID_PARAMETER, create
    assert "256" in create["error"] and "128" in create["error"], create


# ------------------------------------------------------ 5: input monitoring
UNITY, HALF = 0x20000000, 0x10000000


def monitored(probe: LoopProbe, factor: float, frames: int) -> tuple[int, int, int]:
    """(blocks, blocks exactly factor x what was sent in the same cycle, silent blocks)."""
    data = probe.data[:probe.count].astype(np.float64)
    times = probe.times[:probe.count]
    ramp = np.arange(probe.frames)
    # the monitor mixes inside the cycle: out_2 of cycle n is in_1 of cycle n,
    # which the probe hears one period after it sent it
    sent_frame = (times[:, None] + ramp[None, :] - frames) % (2**24 - 1)
    sent = ((sent_frame + 1) * SCALE).astype(np.float32).astype(np.float64)
    exact = int(np.count_nonzero((data == sent * factor).all(axis=1)))
    silent = int(np.count_nonzero(~data.any(axis=1)))
    return len(data), exact, silent


def test_input_monitoring_mixes_inside_the_cycle(prefix: WinePrefix, hosts: dict[str, Path],
                                                 server: AsiojackServer,
                                                 jackd256: Jackd) -> None:
    host = resethost(prefix, hosts, server, "--no-copy", "--commands")
    probe = LoopProbe(jackd256.client("monitor"))
    try:
        streaming(host)
        assert host.command("can")["input_monitor"] == ASE_SUCCESS
        probe.client.connect(probe.send, "resethost:in_1")
        probe.client.connect("resethost:out_2", probe.recv)
        time.sleep(0.2)
        # the host writes silence: nothing comes back before monitoring
        probe.record(0.5)
        blocks, _, silent = monitored(probe, 1.0, jackd256.frames)
        assert silent == blocks, (silent, blocks)

        on = host.command(f"monitor 0 1 {UNITY} 1")
        assert on["code"] == ASE_SUCCESS, on
        time.sleep(0.1)
        probe.record(1.0)
        blocks, exact, _ = monitored(probe, 1.0, jackd256.frames)
        assert exact >= blocks - 3 * probe.xruns - 1, (exact, blocks, probe.xruns)

        half = host.command(f"monitor 0 1 {HALF} 1")
        assert half["code"] == ASE_SUCCESS, half
        time.sleep(0.1)
        probe.record(1.0)
        blocks, exact, _ = monitored(probe, 0.5, jackd256.frames)
        assert exact >= blocks - 3 * probe.xruns - 1, (exact, blocks, probe.xruns)

        off = host.command(f"monitor 0 1 {UNITY} 0")
        assert off["code"] == ASE_SUCCESS, off
        time.sleep(0.1)
        probe.record(0.5)
        blocks, _, silent = monitored(probe, 1.0, jackd256.frames)
        assert silent == blocks, (silent, blocks)

        bad = host.command(f"monitor 9 1 {UNITY} 1")
        assert bad["code"] == ASE_INVALID_PARAMETER and "9" in bad["error"], bad
        bad_out = host.command(f"monitor 0 7 {UNITY} 1")
        assert bad_out["code"] == ASE_INVALID_PARAMETER and "7" in bad_out["error"], bad_out
        null = host.command("monitor-null")
        assert null["code"] == ASE_INVALID_PARAMETER and null["error"], null
    finally:
        probe.close()
        result = host.finish()
    assert result["result"] == "ok", host.tail()


# --------------------------------------------------------- 9: control panel
def test_control_panel_without_a_display_says_what_to_do(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer) -> None:
    # The host's own environment names no config file: the default is meant.
    host = resethost(prefix, hosts, server, "--commands", DISPLAY="", WAYLAND_DISPLAY="",
                     ASIOJACK_CONFIG="", XDG_CONFIG_HOME="")
    try:
        streaming(host)
        panel = host.command("panel")
    finally:
        result = host.finish()
    assert panel["code"] == ASE_NOT_PRESENT, panel
    assert "asiojack config" in panel["error"], panel
    assert "~/.config/asiojack/config.toml" in panel["error"], panel
    assert panel["ms"] < 1000
    assert result["result"] == "ok", host.tail()


@pytest.fixture
def xvfb(tmp_path: Path) -> Iterator[str]:
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    display = f":{90 + os.getpid() % 500}"
    proc = subprocess.Popen([exe, display, "-nolisten", "tcp"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: Path(f"/tmp/.X11-unix/X{display[1:]}").exists(), 10, "Xvfb")
        yield display
    finally:
        proc.terminate()
        proc.wait(5)


def test_control_panel_starts_the_settings_window_without_blocking(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer, xvfb: str,
        tmp_path: Path) -> None:
    # $ASIOJACK_SERVER names the command, as for the autostarted server: a
    # wrapper records how it was called, then runs the real one.
    marker = tmp_path / "settings-called"
    wrapper = tmp_path / "asiojack-wrapper"
    wrapper.write_text(f"#!/bin/sh\necho \"$$ $*\" >> {marker}\n"
                       f"exec {sys.executable} -m pyjack_side \"$@\"\n")
    wrapper.chmod(0o755)
    host = resethost(prefix, hosts, server, "--commands", DISPLAY=xvfb,
                     ASIOJACK_SERVER=str(wrapper))
    pid = None
    try:
        streaming(host)
        panel = host.command("panel")
        assert panel["code"] == ASE_OK and panel["ms"] < 1000, panel
        line = wait_for(lambda: marker.exists() and marker.read_text().strip(), 5,
                        "asiojack settings to be started")
        pid_text, _, args = line.partition(" ")
        pid = int(pid_text)
        # The window is told which program opened it: the Wine process.
        command, flag, opener = args.split()
        assert (command, flag) == ("settings", "--pid"), line
        assert "resethost" in Path(f"/proc/{opener}/cmdline").read_text(errors="replace")
        # it is still running (a window), detached from the host
        time.sleep(0.5)
        assert Path(f"/proc/{pid}").exists(), "asiojack settings exited at once"
        # the host keeps streaming meanwhile
        n = len(host.snapshot())
        host.wait(lambda e: e.get("event") == "tick", 2, "ticks after the panel", n)
    finally:
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        result = host.finish()
    assert result["result"] == "ok", host.tail()


def test_control_panel_shows_the_opener_live_and_saves(
        prefix: WinePrefix, hosts: dict[str, Path], server: AsiojackServer,
        tmp_path: Path) -> None:
    from asiojack_rig.panelrig import Screen, distinct_colours, write_png
    from pyjack_side.config import load

    marker = tmp_path / "settings-pid"
    wrapper = tmp_path / "asiojack-wrapper"
    wrapper.write_text(f"#!/bin/sh\necho $$ > {marker}\n"
                       f"exec {sys.executable} -m pyjack_side \"$@\"\n")
    wrapper.chmod(0o755)
    screen = Screen(tmp_path, 1024, 768)
    before = server.config.read_text()
    host = resethost(prefix, hosts, server, "--commands", DISPLAY=screen.display,
                     ASIOJACK_SERVER=str(wrapper))
    settings_pid = 0
    try:
        streaming(host)
        panel = host.command("panel")
        assert panel["code"] == ASE_OK, panel
        # The title names the program that opened it: the window has its live status.
        wid = screen.find_window("asiojack settings: .*resethost")
        settings_pid = int(marker.read_text())
        time.sleep(1.0)
        x, y, w, h = screen.window_box(wid)
        shot = screen.grab()[y:y + h, x:x + w]
        write_png(tmp_path / "panel.png", shot)
        assert w > 400 and h > 300 and distinct_colours(shot) > 16, (w, h)
        # inputs has the focus: 4 -> 3, Return saves; the host is asked to reset.
        screen.xdotool("windowfocus", "--sync", wid)
        for keys in (["End"], ["BackSpace", "BackSpace", "BackSpace"], ["3"], ["Return"]):
            screen.xdotool("key", "--window", wid, *keys)
            time.sleep(0.2)
        wait_for(lambda: load(server.config).inputs == 3, 10, "the saved file")
        host.wait_event("reset", 10)
    finally:
        if settings_pid:
            os.kill(settings_pid, signal.SIGTERM)
        host.finish()
        screen.stop()
    assert server.config.read_text() != before
