# SPDX-License-Identifier: LGPL-2.1-or-later
"""asiojack: the Linux side of an ASIO driver for Wine that plays through JACK.

The package holds the server (``asiojack serve``) that owns one JACK client
per ASIO program, its configuration, and the ``asiojack`` command.  The
audio itself never passes through Python: each session's JACK process
callback is the C engine in :mod:`pyjack_side._engine`.
"""

__version__ = "0.1.0"
