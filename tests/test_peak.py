# SPDX-License-Identifier: LGPL-2.1-or-later
"""The meters' vectorised peak (bridge/engine/peak.c) equals the plain loop.

Built twice: as shipped (SSE's MAXPS on x86) and with the generic vector
code other architectures use, each checked against the scalar loop on
random buffers with NaNs, infinities and negative zeros at every length
and alignment (tests/engine/peak_check.c).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import BRIDGE

CHECK = Path(__file__).parent / "engine" / "peak_check.c"


@pytest.mark.parametrize("generic", [False, True], ids=["as-built", "generic-vectors"])
def test_peak_equals_the_plain_loop(generic: bool, tmp_path: Path) -> None:
    exe = tmp_path / "peak_check"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-std=c11", "-O3", "-Wall", "-Wextra", "-Werror",
                    *(["-DASIOJACK_PEAK_GENERIC"] if generic else []),
                    f"-I{BRIDGE / 'engine'}", str(CHECK), str(BRIDGE / "engine" / "peak.c"),
                    "-lm", "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    print(r.stdout)
    assert r.returncode == 0 and " 0 disagreements" in r.stdout, r.stdout
