#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Stream a real ASIO host through asiojack and say how it went.

Run by scripts/demo after the install.  It uses the JACK server that runs
(or starts a dummy jackd when none answers), a private Wine prefix under
~/.cache/asiojack-demo with asiojack registered, and PortAudio's ASIO host
(tests/host/pahost.c) as the Windows program.  The driver starts the
asiojack server by itself.  It prints the device, its channels, the cycles
run, the round trip measured on the signal, and the deadline misses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The rig lives in tools/ (not installed); tools/ holds no pyjack_side to
# shadow the installed package.
sys.path.insert(0, str(ROOT / "tools"))

import jack  # noqa: E402

from asiojack_rig.harness import start_jackd  # noqa: E402
from asiojack_rig.probe import LoopProbe  # noqa: E402
from asiojack_rig.winehost import (  # noqa: E402
    build_pahost,
    parse_host_output,
    portaudio_dll,
    read_until_started,
    wine_loader,
)
from pyjack_side.jacklog import route_libjack_messages  # noqa: E402


def jack_running() -> bool:
    """Whether a JACK server answers (JACK_DEFAULT_SERVER or the default)."""
    try:
        jack.Client("asiojack-demo-probe", no_start_server=True).close()
    except jack.JackError:
        return False
    return True


def main() -> int:
    """Set up, stream, report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--frames", type=int, default=256, help="period of a dummy jackd")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show libjack's own messages")
    args = parser.parse_args()
    # libjack's raw lines ("Cannot connect to server socket", ...) are for -v.
    import logging

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="asiojack demo: %(message)s")
    route_libjack_messages()

    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "asiojack-demo"
    home.mkdir(parents=True, exist_ok=True)
    runtime = home / "run"
    config = home / "config.toml"
    config.write_text("inputs = 8\noutputs = 8\nidle_timeout = 3\n")

    jackd = None
    if not jack_running():
        realtime = os.geteuid() == 0
        jackd = start_jackd(home, args.frames, realtime=realtime)
        os.environ["JACK_DEFAULT_SERVER"] = jackd.name
        print(f"started a dummy jackd '{jackd.name}' ({args.frames} frames, 48000 Hz"
              f"{', SCHED_FIFO' if realtime else ''})")
    try:
        return stream(home, runtime, config, args.seconds)
    finally:
        if jackd is not None:
            jackd.stop()


def stream(home: Path, runtime: Path, config: Path, seconds: float) -> int:
    """Register into the demo prefix, stream pahost, measure and print."""
    prefix = home / "prefix"
    data_home = home / "data"
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all",
               XDG_DATA_HOME=str(data_home), ALSA_CONFIG_PATH="/dev/null", DISPLAY="",
               WINEDLLOVERRIDES="mscoree,mshtml=", ASIOJACK_RUNTIME_DIR=str(runtime),
               ASIOJACK_CONFIG=str(config), ASIOJACK_STATE_DIR=str(home / "state"),
               WINEDLLPATH=str(data_home / "asiojack" / "wine"))
    if not (prefix / "system.reg").exists():
        print(f"creating Wine prefix {prefix} ...")
        subprocess.run([wine_loader(), "wineboot", "--init"], env=env, check=True,
                       capture_output=True)
    subprocess.run([sys.executable, "-m", "pyjack_side", "register", "--prefix", str(prefix)],
                   env=env, check=True, cwd=home)
    print("building the ASIO test host and fetching PortAudio's ASIO DLL "
          "(cached after the first run) ...", flush=True)
    pahost = build_pahost(home)
    pa = portaudio_dll()

    listing = subprocess.run([wine_loader(), str(pahost), str(pa), "list"], env=env,
                             capture_output=True, text=True, timeout=120)
    devices = [e for e in parse_host_output(listing.returncode, listing.stdout,
                                            listing.stderr).devices()
               if e.get("asio") and e.get("name") == "asiojack"]
    if not devices:
        print("asiojack is not among PortAudio's ASIO devices:\n" + listing.stdout
              + listing.stderr, file=sys.stderr)
        return 1
    dev = devices[0]
    print(f"device: {dev['name']} (ASIO, via PortAudio under Wine), "
          f"{dev['max_input_channels']} in / {dev['max_output_channels']} out, "
          f"{dev['default_sample_rate']:g} Hz")

    host = subprocess.Popen([wine_loader(), str(pahost), str(pa), "stream", "--device",
                             "asiojack", "--seconds", str(seconds), "--channels", "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    early = read_until_started(host)
    probe = LoopProbe(jack.Client("asiojack-demo"))
    try:
        analysis = probe.through("pahost:in_1", "pahost:out_1", max(0.5, seconds - 1.5))
    finally:
        probe.close()
    out, err = host.communicate(timeout=60)
    result = parse_host_output(host.returncode, "".join(early) + out, err).result
    if result.get("result") != "ok":
        print(f"the stream failed: {result or err}", file=sys.stderr)
        return 1
    frames = probe.frames
    rate = dev["default_sample_rate"]
    print(f"stream: {result['callbacks']} host callbacks of "
          f"{result['max_frames_per_buffer']} frames in {seconds:g} s")
    print(f"round trip through the host: {analysis.usual} frames "
          f"({1000 * analysis.usual / float(rate):.2f} ms; JACK period {frames}), "
          f"{'bit-exact' if analysis.not_exact == 0 else 'NOT bit-exact'}")
    time.sleep(0.5)
    log = (runtime / "server.log").read_text(errors="replace")
    closes = re.findall(r"closing session \d+ (\{.*\})", log)
    if closes:
        counters = json.loads(closes[-1])
        print(f"bridge: {counters['cycles']} cycles, {counters['misses']} deadline misses, "
              f"longest wait {counters['max_wait_ns'] / 1000:.0f} us")
    ok = analysis.usual == frames and analysis.not_exact == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
