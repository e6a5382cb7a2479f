"""``sensorfusion report SESSION --out report.html``: a session report a person would rather read
than tables (see ``docs/cli.md``). Exit codes: 0 written, 2 bad input (not a session, a bad
option: one line naming it), 1 a failure while writing."""

from __future__ import annotations

import argparse
import json
import sys

from sensorfusion import ConfigError, SensorfusionError, StoreError

__all__ = ["configure_report", "run_report"]


def configure_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", metavar="SESSION", help="a recorded session (also one killed mid-recording)")
    p.add_argument(
        "--out",
        required=True,
        metavar="OUT",
        help="the page (report.html) or, with --format png, a folder for one PNG per section",
    )
    p.add_argument("--format", choices=["html", "png"], default="html", help="html (default): one self-contained page")
    p.add_argument(
        "--skeleton",
        default=None,
        metavar="STREAM",
        help="the 3D stream to report on, as inspect names it (default: the first estimated one, e.g. fusion:fusion/skeleton3d)",
    )
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.3,
        help="2D keypoints below this confidence are not scored for reprojection (default 0.3)",
    )
    p.add_argument(
        "--json", action="store_true", help="print what was written and the numbers behind it as one JSON line"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")


def run_report(args: argparse.Namespace) -> int:
    from ._report import write_report

    # progress lines only on a terminal: a script (or a test) gets the one-line error alone
    quiet = args.quiet or args.json or not sys.stderr.isatty()

    def progress(msg: str) -> None:
        if not quiet:
            print(f"report: {msg}", file=sys.stderr, flush=True)

    try:
        result = write_report(
            args.session,
            args.out,
            fmt=args.format,
            skeleton=args.skeleton,
            min_confidence=args.min_confidence,
            progress=progress,
        )
    except (ConfigError, StoreError) as e:
        print(f"sensorfusion report: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    except SensorfusionError as e:
        print(f"sensorfusion report: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"sensorfusion report: error: cannot write {args.out}: {e.strerror or e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    elif not args.quiet:
        state = "" if result["finished"] else " (the session did not finish: the report says so)"
        for f in result["files"]:
            print(f)
        print(f"report: {len(result['files'])} file(s) written{state}", file=sys.stderr)
    return 0
