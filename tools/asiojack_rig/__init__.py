# SPDX-License-Identifier: LGPL-2.1-or-later
"""asiojack_rig: the real parts that the demo, the benchmarks and the tests run.

Not part of the product and not installed: ``scripts/demo``, ``scripts/bench``
and the test suite put ``tools/`` on ``sys.path`` (pytest through its
``pythonpath`` option) and import it from there.  ``tools/`` holds nothing
else, so the source tree's ``pyjack_side`` (which lacks the compiled engine)
never shadows the installed one.

- :mod:`asiojack_rig.harness`: a private dummy jackd, the asiojack server in
  a private runtime directory, the C test peer (tests/peer/peer.c) and a view
  of a session's shared segment.
- :mod:`asiojack_rig.probe`: a JACK client that sends a numbered signal and
  checks what comes back bit for bit, giving the round trip in frames.
- :mod:`asiojack_rig.winehost`: a Wine prefix with asiojack registered,
  PortAudio's ASIO DLL and the Windows host program (tests/host/pahost.c).
- :mod:`asiojack_rig.panelrig`: a JACK source of known peaks and an Xvfb
  screen to photograph, for the control panel's test and
  ``scripts/panel-screenshot``.

Nothing here is mocked: every piece is the real program.
"""
