# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private, headless PipeWire and its JACK library, for tests/test_pipewire.py.

PipeWire runs from a copy of the stock configuration without its
``vm.overrides`` (which raise the minimum quantum to 1024 inside virtual
machines) and with the quantum forced, in a private runtime directory: no
session manager, the stock dummy driver drives the graph.  Every JACK client
of these tests (the asiojack server, the probe, jack_lsp) loads PipeWire's
libjack through ``LD_LIBRARY_PATH``.  The test process itself has jackd2's
libjack loaded, so the probe runs in a child: ``python tests/pwjack.py
probe INTO BACK SECONDS`` prints the :class:`probe.Analysis` as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PW_JACK_LIB = "/usr/lib/x86_64-linux-gnu/pipewire-0.3/jack"
STOCK_CONF = "/usr/share/pipewire/pipewire.conf"
NAME = "pipewire-0"   # the socket in the private runtime dir = the JACK server name


@dataclass
class PipeWire:
    """A running private PipeWire; quacks like harness.Jackd where the server needs it."""

    name: str
    frames: int
    rate: int
    proc: subprocess.Popen[bytes]
    runtime: Path
    log: Path

    def env(self) -> dict[str, str]:
        """Environment of a JACK client on this PipeWire."""
        return dict(os.environ, **self.extra_env())

    def extra_env(self) -> dict[str, str]:
        return {"LD_LIBRARY_PATH": PW_JACK_LIB, "XDG_RUNTIME_DIR": str(self.runtime),
                "PIPEWIRE_RUNTIME_DIR": str(self.runtime), "JACK_DEFAULT_SERVER": self.name,
                "PIPEWIRE_LOG_SYSTEMD": "false"}

    def ports(self, client: str) -> list[str]:
        out = subprocess.run(["jack_lsp"], env=self.env(), capture_output=True, text=True,
                             timeout=10)
        return [line for line in out.stdout.splitlines() if line.startswith(client + ":")]

    def set_quantum(self, frames: int) -> None:
        """Force the graph's quantum, as a user would with pw-metadata."""
        subprocess.run(["pw-metadata", "-n", "settings", "0", "clock.force-quantum",
                        str(frames)], env=self.env(), check=True, capture_output=True,
                       timeout=10)
        self.frames = frames

    def probe(self, into: str, back: str, seconds: float) -> dict[str, object]:
        """Round trip and bit-exactness of a numbered signal sent into ``into``."""
        # A fresh interpreter: the rig package is found the way pytest finds it.
        env = self.env()
        rig = str(Path(__file__).resolve().parent.parent / "tools")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (rig, env.get("PYTHONPATH", "")) if p)
        proc = subprocess.Popen([sys.executable, "-X", "faulthandler", __file__, "probe", into,
                                 back, str(seconds)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            out, err = proc.communicate(timeout=seconds + 30)
        except subprocess.TimeoutExpired:
            # Where it hangs: faulthandler dumps every thread on SIGABRT.
            proc.send_signal(signal.SIGABRT)
            out, err = proc.communicate()
            raise AssertionError(f"the probe hung: {err[-4000:]}") from None
        r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        assert r.returncode == 0, r.stderr[-3000:]
        result: dict[str, object] = json.loads(r.stdout.splitlines()[-1])
        return result

    def stop(self) -> None:
        """Stop the PipeWire daemon (terminate, then kill if it hangs)."""
        from asiojack_rig.harness import terminate

        terminate(self.proc, 10)


def private_config(quantum: int) -> str:
    """The stock daemon configuration, quantum forced, VM overrides dropped."""
    text = Path(STOCK_CONF).read_text()
    text, dropped = re.subn(r"\n\s*vm\.overrides\s*=\s*\{[^}]*\}", "", text)
    assert dropped == 1, f"no vm.overrides in {STOCK_CONF}: has its layout changed?"
    text, n = re.subn(r"^context\.properties\s*=\s*\{", "context.properties = {\n"
                      f"    default.clock.rate = 48000\n"
                      f"    default.clock.quantum = {quantum}\n"
                      f"    default.clock.min-quantum = 16\n"
                      f"    default.clock.force-quantum = {quantum}\n"
                      "    support.dbus = false\n", text, count=1, flags=re.M)
    assert n == 1, f"no context.properties in {STOCK_CONF}"
    return text


def start_pipewire(tmp: Path, quantum: int) -> PipeWire:
    """Start a private PipeWire at ``quantum`` frames and wait until JACK clients connect."""
    from asiojack_rig.harness import wait_for

    runtime = tmp / "pw-run"
    runtime.mkdir(mode=0o700)
    conf = tmp / "pipewire.conf"
    conf.write_text(private_config(quantum))
    log = tmp / "pipewire.log"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime), PIPEWIRE_RUNTIME_DIR=str(runtime))
    proc = subprocess.Popen(["pipewire", "-c", str(conf)], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)
    pw = PipeWire(NAME, quantum, 48000, proc, runtime, log)

    def answers() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"pipewire exited: {log.read_text()}")
        if not (runtime / NAME).exists():
            return False
        r = subprocess.run(["jack_bufsize"], env=pw.env(), capture_output=True, text=True,
                           timeout=10)
        return r.returncode == 0 and r.stdout.strip() == str(quantum)

    try:
        wait_for(answers, 15, "PipeWire's JACK to answer at the forced quantum")
    except BaseException:
        pw.stop()
        raise
    return pw


def _probe_main(into: str, back: str, seconds: float) -> None:
    import jack

    from asiojack_rig.probe import LoopProbe

    client = jack.Client("probe", no_start_server=True)
    probe = LoopProbe(client)
    result = probe.through(into, back, seconds)
    out = dataclasses.asdict(result)
    out["latencies"] = sorted(result.latencies)
    out["frames"] = probe.frames
    print(json.dumps(out), flush=True)
    # No deactivate/close: PipeWire 0.3.65's libjack was seen to hang in
    # jack_deactivate here (1 run in 3).  This process is done; PipeWire
    # drops the client when its connection closes with the process.
    os._exit(0)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "probe":
        _probe_main(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        sys.exit("usage: pwjack.py probe INTO BACK SECONDS")
