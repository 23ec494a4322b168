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
    same_cpu = true        # the JACK thread and the driver's thread share a CPU

    # One program's own settings: any key but idle_timeout, matched on the
    # executable's file name (case does not matter), plus port names that
    # become its JACK port names and its ASIO channel names.
    [programs."REAPER.exe"]
    inputs = 2
    input_names = ["Guitar", "Vocal mic"]
    output_names = ["Left", "Right"]
"""

import math
import re
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pyjack_side.abi import MAX_CHANNELS, NAME_LEN, SAMPLE_TYPES
from pyjack_side.paths import config_path

#: values of ``buffer_size``
BUFFER_MODES = ("jack", "host")

#: keys whose change a running host must see through a reset (new buffers
#: or a new session); the others apply to live sessions as they are
RESET_KEYS = ("inputs", "outputs", "sample_type", "buffer_size", "input_names",
              "output_names")

#: keys that are the server's, not a program's
SERVER_KEYS = ("idle_timeout",)


@dataclass(frozen=True)
class ProgramTable:
    """One ``[programs."NAME.exe"]`` table: the keys it overrides, as validated."""

    name: str
    values: tuple[tuple[str, Any], ...]

    def matches(self, exe_name: str) -> bool:
        """Whether this table is for ``exe_name`` (a file name or a Windows path)."""
        return _exe_key(self.name) == _exe_key(exe_name)


def _exe_key(exe_name: str) -> str:
    return re.split(r"[\\/]", exe_name)[-1].strip().lower()


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
    same_cpu: bool = True
    """Pin the session's JACK thread and the driver's audio thread to one CPU."""
    input_names: tuple[str, ...] = ()
    """Names of the input ports (JACK port names, ASIO channel names); the rest are in_N."""
    output_names: tuple[str, ...] = ()
    """Names of the output ports; the rest are out_N."""
    programs: tuple[ProgramTable, ...] = ()
    """Per-program overrides, from ``[programs."NAME.exe"]`` tables."""

    def for_program(self, exe_name: str) -> "Config":
        """The settings that apply to ``exe_name``: its table's keys over the rest."""
        for table in self.programs:
            if table.matches(exe_name):
                return replace(self, **dict(table.values))
        return self

    def program_table(self, exe_name: str) -> ProgramTable | None:
        """The table that applies to ``exe_name``, if any."""
        return next((t for t in self.programs if t.matches(exe_name)), None)

    @property
    def sample_type_code(self) -> int:
        """The contract's number for :attr:`sample_type`."""
        return SAMPLE_TYPES[self.sample_type]


def toml_value(value: Any) -> str:
    """``value`` written as TOML (booleans, numbers, strings, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return repr(value)


def _check(key: str, value: Any, source: str) -> Any:
    """Validate one key; return the value in its canonical type."""

    def bad(expected: str) -> ConfigError:
        return ConfigError(f"{source}: key '{key}': expected {expected}, got {value!r}")

    if key in ("inputs", "outputs"):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_CHANNELS:
            raise bad(f"a whole number from 0 to {MAX_CHANNELS}")
        return value
    if key in ("autoconnect", "restore_routes", "same_cpu"):
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
    if key in ("input_names", "output_names"):
        limit = NAME_LEN - 1
        if not isinstance(value, list | tuple) or len(value) > MAX_CHANNELS:
            raise bad(f"a list of at most {MAX_CHANNELS} port names")
        for name in value:
            if not isinstance(name, str) or not name.strip() or ":" in name \
                    or not name.isprintable() \
                    or len(name.encode()) > limit:
                raise bad(f"names of 1 to {limit} bytes without ':' (bad: {name!r})")
        if len(set(value)) != len(value):
            raise bad("names that differ from each other")
        return tuple(value)
    if key == "idle_timeout":
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise bad("a number of seconds, 0 or more")
        return float(value)
    known = ", ".join(f.name for f in fields(Config) if f.name != "programs")
    raise ConfigError(f"{source}: unknown key '{key}' (known keys: {known})")


def _check_program(name: Any, table: Any, source: str, base: Config) -> ProgramTable:
    """Validate one ``[programs."NAME"]`` table against the settings it overrides."""
    where = f'{source}: [programs."{name}"]'
    if not isinstance(name, str) or not _exe_key(name):
        raise ConfigError(f"{source}: [programs]: a program needs its executable's file "
                          f"name, e.g. [programs.\"REAPER.exe\"], got {name!r}")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {table!r}")
    for key in table:
        if key in SERVER_KEYS or key == "programs":
            raise ConfigError(f"{where}: key '{key}' is the server's, not a program's: "
                              "set it at the top of the file")
    _checked(table, where, base)  # the program's effective settings must hold
    return ProgramTable(name, tuple((key, _check(key, value, where))
                                    for key, value in table.items()))


def _checked(values: dict[str, Any], source: str, base: Config) -> Config:
    checked = {key: _check(key, value, source) for key, value in values.items()}
    config = replace(base, **checked)
    if config.inputs == 0 and config.outputs == 0:
        raise ConfigError(f"{source}: keys 'inputs' and 'outputs' are both 0: "
                          "a session needs at least one channel")
    for key, count in (("input_names", config.inputs), ("output_names", config.outputs)):
        names = checked.get(key, ())
        if len(names) > count:
            raise ConfigError(f"{source}: key '{key}': {len(names)} names for {count} "
                              f"{key.split('_')[0]}s")
    return config


def from_mapping(values: dict[str, Any], source: str, base: Config | None = None) -> Config:
    """Build a :class:`Config` from ``values`` over ``base``; ``source`` names them in errors.

    ``values["programs"]``, if there, maps executable names to tables of
    their own settings (see :meth:`Config.for_program`).
    """
    values = dict(values)
    programs = values.pop("programs", None)
    config = _checked(values, source, base or Config())
    if programs is None:
        # Tables kept from ``base`` must still hold over the new values.
        programs = {t.name: dict(t.values) for t in config.programs}
        if not programs:
            return config
    if not isinstance(programs, dict):
        raise ConfigError(f"{source}: 'programs' must hold tables like "
                          f"[programs.\"REAPER.exe\"], got {programs!r}")
    tables = tuple(_check_program(name, table, source, config)
                   for name, table in programs.items())
    keys = [_exe_key(t.name) for t in tables]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"{source}: two [programs] tables are for '{key}'")
    return replace(config, programs=tables)


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
