# SPDX-License-Identifier: LGPL-2.1-or-later
"""``asiojack settings``: the control panel.

The ASIO driver's controlPanel() starts it, detached, so the host never
waits for it, and names the program that opened it (``--pid``).  The window
shows what runs now, asked of the server (``asiojack status``): JACK's rate
and period, each program with its counters and per-channel meters, the
opener first; and the settings, each with a one-line explanation and its
valid range.  Saving writes the file; the running server notices, applies
what it can at once and asks hosts to reset for the rest, and the window
says which is which.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

from pyjack_side.abi import SAMPLE_TYPES
from pyjack_side.config import (
    BUFFER_MODES,
    RESET_KEYS,
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


#: one line on each setting: what it does, its valid range, when it applies
HELP: dict[str, tuple[str, str]] = {
    "inputs": ("JACK input ports = ASIO input channels of each program", "0 to 128"),
    "outputs": ("JACK output ports = ASIO output channels of each program", "0 to 128"),
    "autoconnect": ("wire a program seen for the first time to the sound card's ports",
                    "on / off"),
    "restore_routes": ("give each program back the JACK connections it had last time",
                       "on / off"),
    "deadline": ("share of JACK's period a program may take before the cycle plays silence",
                 "0.05 to 0.98"),
    "sample_type": ("sample format of the program's buffers (float32 is JACK's own)",
                    "float32, int32, int24, int16"),
    "idle_timeout": ("seconds a server started by the driver waits unused, then exits",
                     "0 or more"),
    "buffer_size": ("jack: programs use JACK's period; host: a program may set JACK's period",
                    "jack, host"),
    "same_cpu": ("run a program's JACK thread and its audio thread on one CPU (less CPU, "
                 "shorter hand-off)", "on / off"),
}

#: when a changed key takes effect, for the words after Save
WHEN = {"deadline": "applies now", "autoconnect": "applies to programs opened from now on",
        "restore_routes": "applies to programs opened from now on",
        "same_cpu": "applies to programs opened from now on",
        "idle_timeout": "applies to the next server the driver starts"}


def what_applies(old: Config, new: Config) -> str:
    """Which saved changes apply at once and which reset the running hosts."""
    changed = [f.name for f in FORM_FIELDS if getattr(old, f.name) != getattr(new, f.name)]
    if not changed:
        return "nothing changed"
    resets = [k for k in changed if k in RESET_KEYS]
    parts = [f"{k.replace('_', ' ')} {WHEN[k]}" for k in changed if k in WHEN]
    if resets:
        parts.append(", ".join(k.replace("_", " ") for k in resets)
                     + ": running programs are asked to reset (they re-create their buffers)")
    return "; ".join(parts)


class StatusPoller:
    """Asks the server for status on a thread of its own, so the window never waits."""

    def __init__(self, interval: float = 0.25) -> None:
        """Start polling every ``interval`` seconds."""
        self.interval = interval
        self.document: dict[str, Any] | None = None
        self.error = "asking the asiojack server ..."
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="status", daemon=True).start()

    def _run(self) -> None:
        from pyjack_side.paths import socket_path
        from pyjack_side.status import StatusClient, StatusError

        client: StatusClient | None = None
        while not self._stop.is_set():
            try:
                if client is None:
                    client = StatusClient(socket_path(), timeout=5.0)
                self.document, self.error = client.status(), ""
            except (StatusError, OSError) as err:
                self.document, self.error = None, str(err)
                if client is not None:
                    client.close()
                    client = None
                self._stop.wait(1.0)
            self._stop.wait(self.interval)
        if client is not None:
            client.close()

    def stop(self) -> None:
        """End the polling thread."""
        self._stop.set()


#: meter geometry (pixels) and scale
METER_LABEL, METER_WIDTH, METER_ROW, METER_FLOOR_DB = 120, 220, 16, -60.0


def meter_fraction(peak: float) -> float:
    """Where a peak sits on the -60..0 dBFS meter, from 0 to 1."""
    if peak <= 0:
        return 0.0
    db = 20 * math.log10(peak)
    return max(0.0, min(1.0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))


def program_line(prog: dict[str, Any]) -> str:
    """One program's counters in one line."""
    if prog.get("state") == "closed":
        return f"{prog['exe']} (pid {prog['pid']}): closing"
    xruns = "not reported by PipeWire" if prog["xruns"] is None else str(prog["xruns"])
    wait = prog["wait_us"]
    waits = "" if wait["p99"] is None else f", wait p99 {wait['p99']} us"
    return (f"{prog['exe']} ({prog['bits']}-bit, pid {prog['pid']}) as '{prog['client']}': "
            f"{prog['state']}, {prog['active_inputs']}/{prog['inputs']} in, "
            f"{prog['active_outputs']}/{prog['outputs']} out, {prog['sample_type']}, "
            f"buffer {prog['buffer_frames'] or '-'}\n"
            f"cycles {prog['cycles']}, deadline misses {prog['misses']}, late "
            f"{prog['late']}, JACK xruns {xruns}{waits}")


def run(path: Path, opener_pid: int = 0) -> int:
    """Show the window until it is closed; ``opener_pid`` is the program that opened it."""
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
    saved = [current]

    outer = ttk.Frame(root, padding=10)
    outer.grid(sticky="nsew")

    # ---- what runs now
    now = ttk.LabelFrame(outer, text="Now", padding=8)
    now.grid(row=0, column=0, sticky="ew")
    jack_text = tk.StringVar(value="asking the asiojack server ...")
    ttk.Label(now, textvariable=jack_text).grid(row=0, column=0, sticky="w")
    programs_frame = ttk.Frame(now)
    programs_frame.grid(row=1, column=0, sticky="ew")
    shown: dict[int, tuple[Any, Any, Any]] = {}   # session id -> (frame, text, canvas)

    # ---- settings, one line of help each
    form = ttk.LabelFrame(outer, text=f"Settings ({path})", padding=8)
    form.grid(row=1, column=0, sticky="ew", pady=(10, 0))
    variables: dict[str, tk.Variable] = {}
    first_entry: Any = None
    choices = {"sample_type": list(SAMPLE_TYPES), "buffer_size": list(BUFFER_MODES)}
    for row, f in enumerate(FORM_FIELDS):
        ttk.Label(form, text=f.name.replace("_", " ")).grid(row=row, column=0, sticky="w")
        value = getattr(current, f.name)
        if isinstance(value, bool):
            var: tk.Variable = tk.BooleanVar(value=value)
            ttk.Checkbutton(form, variable=var).grid(row=row, column=1, sticky="w")
        elif f.name in choices:
            var = tk.StringVar(value=value)
            ttk.Combobox(form, textvariable=var, values=choices[f.name], width=10,
                         state="readonly").grid(row=row, column=1, sticky="w")
        else:
            var = tk.StringVar(value=str(value))
            entry = ttk.Entry(form, textvariable=var, width=12)
            entry.grid(row=row, column=1, sticky="w")
            first_entry = first_entry or entry
        what, valid = HELP[f.name]
        ttk.Label(form, text=f"{what} ({valid})", foreground="#555").grid(
            row=row, column=2, sticky="w", padx=(8, 0))
        variables[f.name] = var
    if current.programs:
        ttk.Label(form, foreground="#555",
                  text="per-program tables in the file: " + ", ".join(
                      t.name for t in current.programs)
                  + " (asiojack config --program NAME)").grid(
            row=len(FORM_FIELDS), column=0, columnspan=3, sticky="w", pady=(4, 0))
    result = tk.StringVar(value="")
    ttk.Label(outer, textvariable=result, wraplength=640).grid(row=3, column=0, sticky="w",
                                                               pady=(8, 0))

    def on_save() -> None:
        values: dict[str, Any] = {}
        try:
            for f in FORM_FIELDS:
                raw = variables[f.name].get()  # type: ignore[no-untyped-call]
                kind = type(getattr(current, f.name))
                values[f.name] = raw if kind is bool else _parse(str(raw), kind)
        except ValueError as err:
            result.set(f"not saved: {err}")
            return
        try:
            new = save(values, path)
        except ConfigError as err:
            result.set(f"not saved: {err}")
        else:
            result.set(f"saved to {path}: {what_applies(saved[0], new)}")
            saved[0] = new

    ttk.Button(outer, text="Save", command=on_save).grid(row=2, column=0, sticky="e",
                                                         pady=(8, 0))
    root.bind("<Return>", lambda _event: on_save())
    if first_entry is not None:
        first_entry.focus_set()

    # ---- live part: redrawn from the poller's latest document
    poller = StatusPoller()

    def draw_meters(canvas: Any, prog: dict[str, Any]) -> None:
        canvas.delete("all")
        rows = [("in", c) for c in prog["channels"]["inputs"] if c["active"]] + \
               [("out", c) for c in prog["channels"]["outputs"] if c["active"]]
        canvas.configure(height=max(1, len(rows)) * METER_ROW + 2)
        if not rows:
            canvas.create_text(2, 2, anchor="nw", text="no active channels yet")
        for i, (kind, ch) in enumerate(rows):
            y = i * METER_ROW + 2
            canvas.create_text(2, y, anchor="nw", text=f"{kind} {ch['name']}"[:18])
            x0, x1 = METER_LABEL, METER_LABEL + METER_WIDTH
            canvas.create_rectangle(x0, y + 2, x1, y + METER_ROW - 3, fill="#222",
                                    outline="#444")
            peak = ch["peak"] or 0.0
            fill = meter_fraction(peak)
            colour = "#e33" if ch["clip"] else "#eb3" if peak >= 0.5 else "#3c5"
            if fill > 0:
                canvas.create_rectangle(x0, y + 2, x0 + fill * METER_WIDTH, y + METER_ROW - 3,
                                        fill=colour, outline="")
            db = "-inf" if ch["peak_db"] is None else f"{ch['peak_db']:.1f}"
            canvas.create_text(x1 + 6, y, anchor="nw", text=f"{db} dBFS")
            if ch["clips"]:
                canvas.create_rectangle(x1 + 80, y + 2, x1 + 120, y + METER_ROW - 3,
                                        fill="#e33" if ch["clip"] else "#822", outline="")
                canvas.create_text(x1 + 100, y + 1, anchor="n", text="CLIP", fill="white")

    def refresh() -> None:
        doc = poller.document
        if doc is None:
            jack_text.set(poller.error)
            programs = []
        else:
            jackd = doc["jack"]
            if "error" in jackd:
                jack_text.set(f"JACK '{jackd['server_name']}': {jackd['error']}")
            else:
                jack_text.set(
                    f"JACK '{jackd['server_name']}': {jackd['sample_rate']} Hz, period "
                    f"{jackd['period']} frames "
                    f"({1000 * jackd['period'] / jackd['sample_rate']:.2f} ms)"
                    + ("" if jackd.get("dsp_load") is None
                       else f", DSP load {jackd['dsp_load']:.1f} %")
                    + (", PipeWire (xruns not reported)" if jackd.get("pipewire") else ""))
            programs = sorted(doc["programs"], key=lambda p: (p["pid"] != opener_pid,
                                                              p["session_id"]))
        ids = [p["session_id"] for p in programs]
        for sid in list(shown):
            if sid not in ids:
                shown.pop(sid)[0].destroy()
        for row, prog in enumerate(programs):
            sid = prog["session_id"]
            if sid not in shown:
                title = prog["exe"] + ("  (opened this window)" if prog["pid"] == opener_pid
                                       else "")
                frame = ttk.LabelFrame(programs_frame, text=title, padding=4)
                text = tk.StringVar()
                ttk.Label(frame, textvariable=text).grid(row=0, column=0, sticky="w")
                canvas = tk.Canvas(frame, width=METER_LABEL + METER_WIDTH + 130, height=20,
                                   highlightthickness=0)
                canvas.grid(row=1, column=0, sticky="w")
                shown[sid] = (frame, text, canvas)
            frame, text, canvas = shown[sid]
            frame.grid(row=row, column=0, sticky="ew", pady=(6, 0))
            text.set(program_line(prog))
            if "channels" in prog:
                draw_meters(canvas, prog)
            if prog["pid"] == opener_pid:
                root.title(f"{TITLE}: {prog['exe']}")
        if doc is not None and not programs:
            jack_text.set(jack_text.get() + "\nno program has the asiojack driver open")
        root.after(200, refresh)

    root.after(50, refresh)
    try:
        root.mainloop()
    finally:
        poller.stop()
    return 0
