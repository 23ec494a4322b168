# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a musician sees, for tests and the README's screenshot.

- :class:`Source`: a JACK client playing waveforms of known peaks;
- :class:`Screen`: an Xvfb display whose framebuffer is a file (``-fbdir``),
  so a screenshot needs no X tool: the XWD image is read straight from it;
- :func:`write_png`: a plain RGB PNG writer (zlib + struct), so nothing
  beyond the standard library is needed to save one.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
import zlib
from pathlib import Path

import jack
import numpy as np


class Source:
    """A JACK client playing fixed waveforms of known peaks on ports sig1, sig2, ..."""

    def __init__(self, client: jack.Client, peaks: list[float]) -> None:
        """Register one output per peak on ``client`` and start playing."""
        self.client = client
        frames = client.blocksize
        self.ports = [client.outports.register(f"sig{i + 1}") for i in range(len(peaks))]
        self.back = client.inports.register("back")
        # A ramp from -peak/2 to +peak: the largest |sample| is `peak` exactly.
        self.waves = [np.linspace(-peak / 2, peak, frames, dtype=np.float32) for peak in peaks]
        client.set_process_callback(self._process)
        client.activate()

    def _process(self, frames: int) -> None:
        for port, wave in zip(self.ports, self.waves, strict=True):
            port.get_array()[:] = wave

    def close(self) -> None:
        """Stop playing and close the JACK client."""
        self.client.deactivate()
        self.client.close()


class Screen:
    """A private Xvfb whose screen can be read as pixels."""

    def __init__(self, workdir: Path, width: int = 1024, height: int = 768) -> None:
        """Start Xvfb with its framebuffer in ``workdir``/fb; wait for its socket."""
        exe = shutil.which("Xvfb")
        if exe is None:
            raise FileNotFoundError("Xvfb is not installed (apt-get install xvfb)")
        self.fbdir = workdir / "fb"
        self.fbdir.mkdir(parents=True, exist_ok=True)
        self.display = f":{200 + os.getpid() % 400}"
        self.proc = subprocess.Popen(
            [exe, self.display, "-screen", "0", f"{width}x{height}x24", "-fbdir",
             str(self.fbdir), "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists():
            if time.monotonic() > end or self.proc.poll() is not None:
                raise RuntimeError(f"Xvfb {self.display} did not start")
            time.sleep(0.05)

    def env(self) -> dict[str, str]:
        """The current environment with DISPLAY set to the screen."""
        return dict(os.environ, DISPLAY=self.display)

    def xdotool(self, *args: str) -> str:
        """Run xdotool on this screen; its stdout, stripped."""
        r = subprocess.run(["xdotool", *args], env=self.env(), capture_output=True, text=True,
                           timeout=20)
        return r.stdout.strip()

    def find_window(self, name: str, timeout: float = 20) -> str:
        """The id of the first window named ``name``, waiting up to ``timeout`` s."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.xdotool("search", "--name", name).split()
            if found:
                return found[0]
            time.sleep(0.1)
        raise AssertionError(f"no window named {name!r} appeared on {self.display}")

    def window_box(self, wid: str) -> tuple[int, int, int, int]:
        """x, y, width, height of a window."""
        values = dict(line.split("=", 1) for line in
                      self.xdotool("getwindowgeometry", "--shell", wid).splitlines()
                      if "=" in line)
        return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])

    def grab(self) -> np.ndarray:
        """The whole screen as an (height, width, 3) uint8 RGB array."""
        data = (self.fbdir / "Xvfb_screen0").read_bytes()
        head = struct.unpack(">25I", data[:100])
        header_size, depth, width, height = head[0], head[3], head[4], head[5]
        byte_order, bpp, stride, ncolors = head[7], head[11], head[12], head[19]
        if bpp != 32 or depth != 24 or byte_order != 0:
            raise ValueError(f"unexpected framebuffer: depth {depth}, {bpp} bpp, "
                             f"byte order {byte_order}")
        start = header_size + 12 * ncolors
        raw = np.frombuffer(data, dtype=np.uint8, count=stride * height, offset=start)
        pixels = raw.reshape(height, stride)[:, : width * 4].reshape(height, width, 4)
        return pixels[:, :, [2, 1, 0]].copy()  # B, G, R, X -> R, G, B

    def stop(self) -> None:
        """Stop Xvfb."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Save an (height, width, 3) uint8 array as a PNG."""
    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def distinct_colours(rgb: np.ndarray) -> int:
    """How many different colours an image holds (1 = blank)."""
    flat = rgb.reshape(-1, 3).astype(np.uint32)
    return len(np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]))
