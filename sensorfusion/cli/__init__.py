"""The ``sensorfusion`` command line. Subcommands come from plugins through
``sensorfusion_add_commands`` (the core's own ``run``, ``plugins`` and ``inspect`` included)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    from ..plugins import get_plugin_host

    host = get_plugin_host()
    parser = argparse.ArgumentParser(prog="sensorfusion", description="Sense people with many kinds of sensors at once.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in host.commands.names():
        cmd = host.commands.get(name, field_path="command")
        p = sub.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run, _plugin=host.commands.plugin_of(name))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 on bad arguments, 0 for --help
        return int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    return int(args._run(args))


if __name__ == "__main__":
    sys.exit(main())
