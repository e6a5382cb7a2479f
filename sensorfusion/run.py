"""``python -m sensorfusion.run RIG.yaml [options]``: run a rig.

Exit codes: 0 success (also after Ctrl-C, which stops cleanly and flushes), 2 invalid rig
file or argument (the message names the field path), 1 runtime failure.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    from .cli._commands import add_run_arguments, run_rig

    parser = argparse.ArgumentParser(prog="python -m sensorfusion.run", description="Run a rig.")
    add_run_arguments(parser)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), format="%(levelname)s %(name)s: %(message)s")
    return run_rig(args)


if __name__ == "__main__":
    sys.exit(main())
