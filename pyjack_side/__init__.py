# SPDX-License-Identifier: LGPL-2.1-or-later
"""asiojack: the Linux side of an ASIO driver for Wine that plays through JACK.

The package holds the server (``asiojack serve``) that owns one JACK client
per ASIO program, its configuration, and the ``asiojack`` command.  The
audio itself never passes through Python: each session's JACK process
callback is the C engine in :mod:`pyjack_side._engine`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    # One version source: meson.build's project version, which meson-python
    # writes into the installed distribution's metadata.
    __version__ = version("asiojack")
except PackageNotFoundError:  # imported from a source tree that is not installed
    __version__ = "0+unknown"
