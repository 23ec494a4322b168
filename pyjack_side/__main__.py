# SPDX-License-Identifier: LGPL-2.1-or-later
"""``python -m pyjack_side`` is the ``asiojack`` command."""

from pyjack_side.cli import main

raise SystemExit(main())
