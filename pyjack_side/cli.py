# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ``asiojack`` command."""

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from pyjack_side import __version__
from pyjack_side.config import ConfigError, load, toml_value
from pyjack_side.paths import UnsafeDirError, config_path


def _serve(args: argparse.Namespace) -> int:
    from pyjack_side.server import serve

    config_file = args.config or config_path()
    config = load(config_file)
    if args.idle_timeout is not None:
        idle = args.idle_timeout
    else:
        idle = config.idle_timeout if args.auto else 0.0
    try:
        serve(config, idle_timeout=idle, config_file=config_file, jack_server=args.jack_server,
              path=args.socket)
    except (RuntimeError, UnsafeDirError) as err:
        # An unsafe runtime directory, another server: words, not a traceback.
        print(f"asiojack: {err}", file=sys.stderr)
        return 1
    return 0


def _settings(args: argparse.Namespace) -> int:
    from pyjack_side import settings

    return settings.run(args.config or config_path(), opener_pid=args.pid)


def _config(args: argparse.Namespace) -> int:
    from dataclasses import fields

    path = args.config or config_path()
    config = load(path)
    print(f"# {path}{'' if path.exists() else ' (does not exist: defaults)'}")
    effective = config
    if args.program:
        table = config.program_table(args.program)
        effective = config.for_program(args.program)
        print(f"# for {args.program}: " + (f'[programs."{table.name}"] over the rest'
                                            if table else "no [programs] table applies"))
    own = dict(table.values) if args.program and table else {}
    for f in fields(effective):
        if f.name == "programs":
            continue
        print(f"{f.name} = {toml_value(getattr(effective, f.name))}"
              + ("  # this program's" if f.name in own else ""))
    if not args.program:
        for t in config.programs:
            print(f'# [programs."{t.name}"] sets ' + ", ".join(k for k, _ in t.values)
                  + f": asiojack config --program {t.name}")
    return 0


def _register(args: argparse.Namespace) -> int:
    from pyjack_side import wine

    prefix = args.prefix or wine.default_prefix()
    print(f"registering asiojack in the Wine prefix {prefix} (Wine may take a while "
          "to update it) ...", flush=True)
    try:
        if args.as_wineasio and (prefix / "system.reg").exists():
            # Refuse before anything is written.
            wine.refuse_if_wineasio(prefix)
        done = wine.register(prefix, system=args.system)
        alias = wine.register_wineasio_alias(prefix) if args.as_wineasio else []
    except (wine.WineError, OSError) as err:
        print(f"asiojack: register failed: {err}", file=sys.stderr)
        return 1
    for step in done.steps + alias:
        print(step)
    if done.winedllpath_needed:
        print(f"Run Windows programs with WINEDLLPATH={done.dll_dir} so Wine finds the "
              f"driver, e.g.:\n  export WINEDLLPATH={done.dll_dir}")
    return 0


def _install_service(args: argparse.Namespace) -> int:
    from pyjack_side import service

    try:
        steps = service.install(args.dir, enable=not args.no_enable)
    except OSError as err:
        print(f"asiojack: install-service failed: {err}", file=sys.stderr)
        return 1
    for step in steps:
        print(step)
    return 0


def _unregister(args: argparse.Namespace) -> int:
    from pyjack_side import wine

    prefix = args.prefix or wine.default_prefix()
    try:
        steps = wine.unregister_wineasio_alias(prefix)
        steps += wine.unregister(prefix, system=args.system)
    except (wine.WineError, OSError) as err:
        print(f"asiojack: unregister failed: {err}", file=sys.stderr)
        return 1
    for step in steps or ["nothing to undo"]:
        print(step)
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from pyjack_side import doctor, wine

    checks = doctor.run(args.prefix or wine.default_prefix())
    for check in checks:
        print(check.line())
    return 1 if any(check.ok is False for check in checks) else 0


def _status(args: argparse.Namespace) -> int:
    from pyjack_side import status
    from pyjack_side.paths import socket_path

    return status.run(socket_path(), as_json=args.json, watch=args.watch)


#: commands that load libjack, whose raw messages go through the logger
USES_JACK = ("serve", "doctor", "status", "settings")


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, measuring subcommand names at their own indent.

    argparse sizes the name column from the subcommands' names at the
    group's indent, then prints them one indent deeper, so the longest
    (install-service) would push its purpose onto a line of its own.
    """

    def add_argument(self, action: argparse.Action) -> None:
        """Add ``action``, widening the name column for its subcommands."""
        super().add_argument(action)
        if isinstance(action, argparse._SubParsersAction) and action.help != argparse.SUPPRESS:
            for sub in action._get_subactions():
                self._action_max_length = max(
                    self._action_max_length,
                    len(self._format_action_invocation(sub)) + self._current_indent
                    + self._indent_increment)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="asiojack", description="ASIO for Wine programs, through JACK.",
        formatter_class=_HelpFormatter,
        epilog="Start with `asiojack register`, then pick asiojack in the program's audio "
               "settings. `asiojack COMMAND --help` shows a command's options.")
    parser.add_argument("--version", action="version", version=f"asiojack {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log more, libjack's own messages too")
    parser.add_argument("--config", type=Path, default=None,
                        help="configuration file (default: ~/.config/asiojack/config.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")

    p = sub.add_parser("serve", help="run the server in the foreground")
    p.add_argument("--idle-timeout", type=float, default=None,
                   help="exit after this many seconds without a driver (0: never)")
    p.add_argument("--auto", action="store_true",
                   help="started on demand by the driver: exit after the configured idle_timeout")
    p.add_argument("--jack-server", default=None,
                   help="JACK server of this process's sessions (default: $JACK_DEFAULT_SERVER "
                        "or 'default'); sessions for another are handed to a sibling server")
    p.add_argument("--socket", type=Path, default=None,
                   help="control socket (default: <runtime dir>/control.sock)")
    p.set_defaults(func=_serve)

    for name, func, text in (
            ("register", _register, "install the driver into a Wine prefix"),
            ("unregister", _unregister, "take the driver out of a Wine prefix")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--prefix", type=Path, default=None,
                       help="Wine prefix (default: $WINEPREFIX or ~/.wine)")
        p.add_argument("--system", action="store_true",
                       help="use Wine's own DLL directory (needs root) instead of "
                            "~/.local/share/asiojack/wine + WINEDLLPATH")
        if name == "register":
            p.add_argument("--as-wineasio", action="store_true",
                           help="also answer to WineASIO's registry name and CLSID, for "
                                "setups that look for WineASIO (refused if WineASIO "
                                "itself is registered; unregister undoes it)")
        p.set_defaults(func=func)

    p = sub.add_parser("install-service",
                       help="systemd user units: the server up before any program",
                       description="Install systemd user units (asiojack.socket + "
                                   "asiojack.service) so the server is there before any "
                                   "program, also for programs in a container (Proton).")
    p.add_argument("--dir", type=Path, default=None,
                   help="where to write the units (default: ~/.config/systemd/user)")
    p.add_argument("--no-enable", action="store_true",
                   help="only write the files; do not run systemctl --user")
    p.set_defaults(func=_install_service)

    p = sub.add_parser("status", help="what runs now: JACK, programs, counters, meters")
    p.add_argument("--json", action="store_true", help="print the server's JSON document")
    p.add_argument("--watch", action="store_true",
                   help="redraw twice a second until Ctrl-C")
    p.set_defaults(func=_status)

    p = sub.add_parser("doctor", help="check Wine, the prefix, JACK, the server, real-time")
    p.add_argument("--prefix", type=Path, default=None,
                   help="Wine prefix (default: $WINEPREFIX or ~/.wine)")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("settings", help="the control panel window (status, settings)")
    p.add_argument("--pid", type=int, default=0,
                   help="the program that opened the panel (shown first)")
    p.set_defaults(func=_settings)

    p = sub.add_parser("config", help="print the settings in effect")
    p.add_argument("--program", metavar="EXE", default=None,
                   help='the settings one program gets, e.g. REAPER.exe '
                        '(its [programs."REAPER.exe"] table over the rest)')
    p.set_defaults(func=_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``asiojack`` command."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="asiojack: %(levelname)s %(name)s: %(message)s")
    if args.command in USES_JACK:
        from pyjack_side.jacklog import route_libjack_messages

        route_libjack_messages()
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ConfigError as err:
        print(f"asiojack: {err}", file=sys.stderr)
        return 2
