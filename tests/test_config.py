# SPDX-License-Identifier: LGPL-2.1-or-later
"""Configuration: defaults, the file, and errors that name key and file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyjack_side.config import Config, ConfigError, load


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load(tmp_path / "none.toml") == Config()


def test_values_are_read(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('inputs = 2\noutputs = 8\nautoconnect = false\nsample_type = "int24"\n'
                 "deadline = 0.5\n")
    c = load(f)
    assert (c.inputs, c.outputs, c.autoconnect, c.sample_type, c.deadline) == \
        (2, 8, False, "int24", 0.5)


@pytest.mark.parametrize("line, key", [
    ("inputs = 500", "inputs"),
    ("inputs = 'many'", "inputs"),
    ("outputs = -1", "outputs"),
    ("autoconnect = 1", "autoconnect"),
    ("deadline = 1.5", "deadline"),
    ("deadline = nan", "deadline"),
    ("sample_type = 'float64'", "sample_type"),
    ("idle_timeout = -3", "idle_timeout"),
    ("colour = 'blue'", "colour"),
])
def test_bad_value_names_key_and_file(tmp_path: Path, line: str, key: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        load(f)
    assert str(f) in str(info.value) and f"'{key}'" in str(info.value)


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("inputs = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load(f)
    assert str(f) in str(info.value)


def test_no_channels_at_all_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("inputs = 0\noutputs = 0\n")
    with pytest.raises(ConfigError, match="at least one channel"):
        load(f)


def test_cli_reports_bad_config_and_exits_2(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text("inputs = 999\n")
    r = subprocess.run([sys.executable, "-m", "pyjack_side", "--config", str(f), "serve"],
                       capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 2
    assert str(f) in r.stderr and "'inputs'" in r.stderr
