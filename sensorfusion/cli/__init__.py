"""The ``sensorfusion`` command line. Subcommands come from plugins through
``sensorfusion_add_commands`` (the core's own ``run``, ``plugins`` and ``inspect`` included).

Only the subcommand being run is configured: ``sensorfusion --help`` lists every command from
its name and help line alone, so a plugin whose command imports heavy libraries (as a
:func:`sensorfusion.lazy` reference) costs nothing until that command is used.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._errors import SensorfusionError

if TYPE_CHECKING:
    from ..plugins import PluginHost

__all__ = ["build_parser", "main"]


def build_parser(*, host: PluginHost | None = None, command: str | None = None) -> argparse.ArgumentParser:
    """The ``sensorfusion`` parser. ``command``: configure only that subcommand's arguments
    (the others are listed with their help line; ``""``: none of them); ``None``: all."""
    from ..plugins import get_plugin_host

    host = host or get_plugin_host()
    parser = argparse.ArgumentParser(
        prog="sensorfusion", description="Sense people with many kinds of sensors at once."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in host.commands.names():
        cmd = host.commands.get(name, field_path="command")
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        plugin = host.commands.plugin_of(name)
        if command is None or command == name:
            try:
                cmd.configure(p)
            except Exception as exc:
                raise SensorfusionError(
                    f"plugin {plugin!r}: command {name!r} cannot be set up: {type(exc).__name__}: {exc}"
                ) from exc
        p.set_defaults(_run=cmd.run, _plugin=plugin)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option)."""
    for arg in argv:
        if arg == "--":
            return None
        if not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(command=_command_of(args_in) or "")
    except SensorfusionError as exc:
        print(f"sensorfusion: error: {exc}", file=sys.stderr)
        return 1
    try:
        args = parser.parse_args(args_in)
    except SystemExit as exc:  # argparse: 2 on bad arguments, 0 for --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args._run(args))
    except ImportError as exc:  # a lazily loaded command whose module (or library) is missing
        print(
            f"sensorfusion {args.command}: error: plugin {args._plugin!r}: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
