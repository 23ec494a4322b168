# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack settings``: a small window over the configuration file.

The ASIO driver's controlPanel() starts it, detached, so the host never
waits for it.  Saving writes the file; the running server notices, applies
what it can at once and asks hosts to reset for the rest.
"""

from __future__ import annotations

import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from pyjack_side.abi import SAMPLE_TYPES
from pyjack_side.config import (
    BUFFER_MODES,
    Config,
    ConfigError,
    from_mapping,
    load,
    toml_value,
)

TITLE = "asiojack settings"
#: the keys the window edits (names and program tables are the file's)
FORM_FIELDS = [f for f in fields(Config)
               if f.name not in ("input_names", "output_names", "programs")]


def to_toml(config: Config) -> str:
    """The configuration as a TOML file (every key, so the file says it all)."""
    lines = ["# asiojack configuration (written by asiojack settings)"]
    for f in fields(Config):
        if f.name != "programs":
            lines.append(f"{f.name} = {toml_value(getattr(config, f.name))}")
    for table in config.programs:
        lines.append("")
        lines.append(f"[programs.{toml_value(table.name)}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.values]
    return "\n".join(lines) + "\n"


def save(values: dict[str, Any], path: Path) -> Config:
    """Validate ``values`` over the file's current settings and write the file.

    Raises :class:`ConfigError` (naming key and file) and writes nothing
    when a value is bad.
    """
    config = from_mapping(values, str(path), base=load(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(to_toml(config), encoding="utf-8")
    os.replace(tmp, path)  # the server never reads half a file
    return config


def _parse(text: str, kind: type) -> Any:
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


def run(path: Path) -> int:
    """Show the window until it is closed."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print(f"asiojack settings: no display. Edit {path} or see `asiojack config`.",
              file=sys.stderr)
        return 1
    try:
        import tkinter as tk
        from tkinter import ttk
        root = tk.Tk()
    except Exception as err:  # noqa: BLE001 - any Tk failure means: no window
        print(f"asiojack settings: cannot open a window ({err}). Edit {path} instead.",
              file=sys.stderr)
        return 1
    root.title(TITLE)
    try:
        current = load(path)
    except ConfigError as err:
        current = Config()
        print(f"asiojack settings: {err}; showing defaults", file=sys.stderr)

    frame = ttk.Frame(root, padding=12)
    frame.grid()
    variables: dict[str, tk.Variable] = {}
    first_entry: Any = None
    choices = {"sample_type": list(SAMPLE_TYPES), "buffer_size": list(BUFFER_MODES)}
    for row, f in enumerate(FORM_FIELDS):
        ttk.Label(frame, text=f.name.replace("_", " ")).grid(row=row, column=0, sticky="w")
        value = getattr(current, f.name)
        if isinstance(value, bool):
            var: tk.Variable = tk.BooleanVar(value=value)
            ttk.Checkbutton(frame, variable=var).grid(row=row, column=1, sticky="w")
        elif f.name in choices:
            var = tk.StringVar(value=value)
            ttk.Combobox(frame, textvariable=var, values=choices[f.name],
                         state="readonly").grid(row=row, column=1, sticky="ew")
        else:
            var = tk.StringVar(value=str(value))
            entry = ttk.Entry(frame, textvariable=var)
            entry.grid(row=row, column=1, sticky="ew")
            first_entry = first_entry or entry
        variables[f.name] = var
    status = tk.StringVar(value=str(path))
    ttk.Label(frame, textvariable=status, wraplength=360).grid(
        row=len(variables), column=0, columnspan=2, sticky="w", pady=(8, 0))

    def on_save() -> None:
        values: dict[str, Any] = {}
        try:
            for f in FORM_FIELDS:
                raw = variables[f.name].get()  # type: ignore[no-untyped-call]
                kind = type(getattr(current, f.name))
                values[f.name] = raw if kind is bool else _parse(str(raw), kind)
        except ValueError as err:
            status.set(f"not saved: {err}")
            return
        try:
            save(values, path)
        except ConfigError as err:
            status.set(f"not saved: {err}")
        else:
            status.set(f"saved to {path}: running programs are asked to reset if needed")

    ttk.Button(frame, text="Save", command=on_save).grid(row=len(variables) + 1, column=1,
                                                         sticky="e", pady=(8, 0))
    root.bind("<Return>", lambda _event: on_save())
    if first_entry is not None:
        first_entry.focus_set()
    root.mainloop()
    return 0
