# SPDX-License-Identifier: LGPL-2.1-or-later
"""A JACK client that sends a numbered signal and records what comes back.

Sample ``i`` of the JACK timeline (frame time ``f``) carries the value
``((f mod M) + 1) / 2**24`` with ``M = 2**24 - 1``: every value is exact in
float32 and names the frame it was sent in.  Whatever returns can then be
checked bit for bit, and the frame it left at gives the round trip in frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jack
import numpy as np

M = 2**24 - 1
SCALE = np.float64(2.0**-24)


@dataclass
class Analysis:
    """What came back during a recording, cycle by cycle."""

    blocks: int            # recorded cycles
    audible: int           # cycles that carried the signal
    silent: int            # cycles of pure silence
    latencies: set[int]    # round trips seen, in frames
    not_exact: int         # samples that are not a value the probe sent
    torn: int              # cycles partly signal, partly silence
    out_of_order: int      # cycles whose round trip differs from the usual
    late_runs: int         # runs of such cycles in a row: one per time a
                           # client fell behind, however long it stayed behind
    usual: int             # the round trip of most cycles, in frames
    xruns: int             # JACK xruns while recording

    def on_time(self, frames: int) -> bool:
        """All that came back took ``frames``, except around JACK's own xruns.

        An xrun on the non-real-time dummy server can make JACK hand a client
        a stale port buffer; that is JACK's doing, and only then is a cycle
        with another round trip tolerated.
        """
        return self.usual == frames and self.out_of_order <= 3 * self.xruns


class LoopProbe:
    """Send on ``<name>:send``, record ``<name>:recv`` while :attr:`recording`."""

    def __init__(self, client: jack.Client, capacity_seconds: float = 20.0) -> None:
        """Register ``send``/``recv`` on ``client`` and activate it."""
        self.client = client
        self.frames = client.blocksize
        self.send = client.outports.register("send")
        self.recv = client.inports.register("recv")
        cycles = int(capacity_seconds * client.samplerate / self.frames) + 1
        self.data = np.zeros((cycles, self.frames), dtype=np.float32)
        self.times = np.zeros(cycles, dtype=np.int64)
        self.count = 0
        self.cycles = 0
        self.recording = False
        self.xruns = 0
        self._ramp = np.arange(self.frames, dtype=np.int64)
        client.set_process_callback(self._process)
        client.set_xrun_callback(self._xrun)
        client.activate()

    def _xrun(self, delay: float) -> None:
        if self.recording:
            self.xruns += 1

    def _process(self, frames: int) -> None:
        t = self.client.last_frame_time
        self.cycles += 1
        values = ((t + self._ramp) % M + 1) * SCALE
        self.send.get_array()[:] = values.astype(np.float32)
        if self.recording and self.count < len(self.data):
            self.data[self.count] = self.recv.get_array()
            self.times[self.count] = t
            self.count += 1

    def through(self, into: str, back: str, seconds: float, settle: float = 0.3) -> Analysis:
        """Send into port ``into``, listen on port ``back``, record ``seconds``."""
        self.client.connect(self.send, into)
        self.client.connect(back, self.recv)
        time.sleep(settle)  # let the new connections take effect
        return self.record(seconds)

    def record(self, seconds: float) -> Analysis:
        """Record for ``seconds`` and analyse what came back."""
        self.count = 0
        self.xruns = 0
        self.recording = True
        time.sleep(seconds)
        self.recording = False
        return self.analyse()

    def analyse(self, start: int = 0, stop: int | None = None) -> Analysis:
        """Analyse recorded cycles ``start`` to ``stop`` (default: all recorded)."""
        data = self.data[start:stop if stop is not None else self.count]
        times = self.times[start:stop if stop is not None else self.count]
        audible_mask = data.any(axis=1)
        torn = int(np.count_nonzero(audible_mask & ~data.all(axis=1)))
        scaled = data[audible_mask].astype(np.float64) / SCALE
        codes = np.rint(scaled)
        not_exact = int(np.count_nonzero((codes != scaled) | (codes < 1) | (codes > M)))
        sent_frame = codes.astype(np.int64) - 1
        recv_frame = (times[audible_mask][:, None] + self._ramp[None, :]) % M
        lat = (recv_frame - sent_frame) % M
        per_block = [set(row.tolist()) for row in lat]
        latencies: set[int] = set().union(*per_block) if per_block else set()
        usual = max(latencies, key=lambda v: sum(v in b for b in per_block)) if latencies else 0
        odd = [b != {usual} for b in per_block]
        out_of_order = sum(odd)
        late_runs = sum(1 for i, o in enumerate(odd) if o and (i == 0 or not odd[i - 1]))
        return Analysis(blocks=len(data), audible=int(audible_mask.sum()),
                        silent=int((~audible_mask).sum()), latencies=latencies,
                        not_exact=not_exact, torn=torn, out_of_order=out_of_order,
                        late_runs=late_runs,
                        usual=usual, xruns=self.xruns)

    def close(self) -> None:
        """Deactivate and close the JACK client."""
        self.client.deactivate()
        self.client.close()
