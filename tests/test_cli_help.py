# SPDX-License-Identifier: LGPL-2.1-or-later
"""A new user finds every command in ``asiojack --help``, each with a one-line purpose."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from pyjack_side.cli import build_parser


def commands() -> dict[str, str]:
    """Every subcommand the parser knows, with its help text."""
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {c.dest: c.help or "" for c in sub._choices_actions}


def test_help_lists_every_command_on_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="80")
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "--help"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == ""
    known = commands()
    assert {"serve", "register", "unregister", "status", "doctor", "settings",
            "config"} <= set(known)
    lines = r.stdout.splitlines()
    for name, purpose in known.items():
        assert purpose, f"{name} has no purpose"
        [line] = [line for line in lines if re.match(rf"^\s+{name}\s{{2,}}\S", line)]
        # The purpose is all on that line: no wrapped continuation below it.
        assert line.split(None, 1)[1] == purpose, line
    assert "asiojack register" in r.stdout  # where to start


def test_every_command_has_its_own_help(tmp_path: Path) -> None:
    for name in commands():
        r = subprocess.run([sys.executable, "-m", "pyjack_side", name, "--help"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: asiojack {name}"), name
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "register", "--help"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert "--as-wineasio" in r.stdout
