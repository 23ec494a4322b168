# SPDX-License-Identifier: LGPL-2.1-or-later
"""asiojack configuration: defaults, the TOML file, and validation.

A bad value is reported with its key and its file, and nothing is half
applied: :func:`load` either returns a complete :class:`Config` or raises
:class:`ConfigError`.

Example ``~/.config/asiojack/config.toml``::

    inputs = 8
    outputs = 8
    autoconnect = true
    restore_routes = true  # a program gets back the connections it had
    deadline = 0.75        # share of the JACK period the ASIO host may use
    sample_type = "float32"
    idle_timeout = 30      # seconds an auto-started server lingers unused
    buffer_size = "jack"   # "host": the ASIO host may set JACK's period
"""

import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pyjack_side.abi import MAX_CHANNELS, SAMPLE_TYPES
from pyjack_side.paths import config_path

#: values of ``buffer_size``
BUFFER_MODES = ("jack", "host")

#: keys whose change a running host must see through a reset (new buffers
#: or a new session); the others apply to live sessions as they are
RESET_KEYS = ("inputs", "outputs", "sample_type", "buffer_size")


class ConfigError(ValueError):
    """A configuration file or value that cannot be used."""


@dataclass(frozen=True)
class Config:
    """Effective settings of the server and its sessions."""

    inputs: int = 16
    """JACK input ports (ASIO input channels) per session."""
    outputs: int = 16
    """JACK output ports (ASIO output channels) per session."""
    autoconnect: bool = True
    """Connect a program seen for the first time to the physical ports."""
    restore_routes: bool = True
    """Save each program's JACK connections and restore them when it opens again."""
    deadline: float = 0.75
    """Share of the JACK period the ASIO host gets before the engine plays silence."""
    sample_type: str = "float32"
    """Sample format of the host's buffers: float32, int32, int24 or int16."""
    idle_timeout: float = 30.0
    """Seconds an auto-started server waits with no client before it exits."""
    buffer_size: str = "jack"
    """``jack``: the host's buffer is JACK's period; ``host``: createBuffers sets it."""

    @property
    def sample_type_code(self) -> int:
        """The contract's number for :attr:`sample_type`."""
        return SAMPLE_TYPES[self.sample_type]


def _check(key: str, value: Any, source: str) -> Any:
    """Validate one key; return the value in its canonical type."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{source}: key '{key}': expected {expected}, got {value!r}")

    if key in ("inputs", "outputs"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CHANNELS:
            raise bad(f"a whole number from 0 to {MAX_CHANNELS}")
        return value
    if key in ("autoconnect", "restore_routes"):
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if key == "deadline":
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not 0.05 <= value <= 0.98:
            raise bad("a share of the period from 0.05 to 0.98")
        return float(value)
    if key == "sample_type":
        if value not in SAMPLE_TYPES:
            raise bad("one of " + ", ".join(SAMPLE_TYPES))
        return value
    if key == "buffer_size":
        if value not in BUFFER_MODES:
            raise bad("one of " + ", ".join(BUFFER_MODES))
        return value
    if key == "idle_timeout":
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise bad("a number of seconds, 0 or more")
        return float(value)
    known = ", ".join(f.name for f in fields(Config))
    raise ConfigError(f"{source}: unknown key '{key}' (known keys: {known})")


def from_mapping(values: dict[str, Any], source: str, base: Config | None = None) -> Config:
    """Build a :class:`Config` from ``values`` over ``base``; ``source`` names them in errors."""
    checked = {key: _check(key, value, source) for key, value in values.items()}
    config = replace(base or Config(), **checked)
    if config.inputs == 0 and config.outputs == 0:
        raise ConfigError(f"{source}: keys 'inputs' and 'outputs' are both 0: "
                          "a session needs at least one channel")
    return config


def load(path: Path | None = None) -> Config:
    """Read the configuration file (defaults when it does not exist)."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return from_mapping(values, str(path))
