"""``sensorfusion export``: a recorded session's 3D skeletons to another file format.

Arguments, the ``--json`` document and the exit codes are documented in ``docs/cli.md``: 0
written, 2 bad input (one line naming the argument: an unknown format, stream or person, a
session without a 3D skeleton stream, an unwritable ``--out``, a missing optional library),
1 a failure while exporting.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sensorfusion import ConfigError, MissingDependencyError, SensorfusionError, StoreError

__all__ = ["configure_export", "run_export"]


def configure_export(p: argparse.ArgumentParser) -> None:
    from sensorfusion import exporters

    formats = ", ".join(f"{e.name} ({e.suffix})" for e in exporters())
    p.add_argument("session", metavar="SESSION", help="a recorded session (.zarr folder)")
    p.add_argument(
        "--to",
        default=None,
        metavar="FORMAT",
        help=f"the format: {formats or 'none installed'}; default: from --out's suffix",
    )
    p.add_argument(
        "--out",
        default=None,
        metavar="PATH",
        help="the file to write (folders are created); default: next to the session, with the format's suffix",
    )
    p.add_argument(
        "--stream",
        action="append",
        default=[],
        metavar="KEY",
        help="a 3D skeleton stream as `sensorfusion inspect` lists it (fusion:fusion/skeleton3d or "
        "fusion/skeleton3d); repeat for JSON/CSV; default: the stages' estimate",
    )
    p.add_argument("--person", action="append", default=[], type=int, metavar="ID", help="keep this person id; repeat")
    p.add_argument("--start", type=float, default=None, metavar="S", help="from S seconds after the session's start")
    p.add_argument("--stop", type=float, default=None, metavar="S", help="up to S seconds after the session's start")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a format option (c3d: units=mm|m; bvh: units=cm|m|mm, rigid_tolerance_deg=1; trc: opensim=true...)",
    )
    p.add_argument(
        "--opensim",
        action="store_true",
        help="TRC: then scale an OpenSim model and run inverse kinematics (needs the opensim package)",
    )
    p.add_argument("--json", action="store_true", help="print what was written as JSON (documented in docs/cli.md)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, no summary")


def run_export(args: argparse.Namespace) -> int:
    try:
        return _export(args)
    except (ConfigError, MissingDependencyError, StoreError) as e:
        print(f"sensorfusion export: {e}", file=sys.stderr)
        return 2
    except SensorfusionError as e:
        print(f"sensorfusion export: {e}", file=sys.stderr)
        return 1


def _options(args: argparse.Namespace, session: Any) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("expected KEY=VALUE", field_path="--option", value=item)
        extra[key.strip()] = value.strip()
    if args.opensim:
        extra["opensim"] = "true"
    start_ns = stop_ns = None
    if args.start is not None or args.stop is not None:
        firsts = [
            i.t_first_ns for i in {**session.streams(), **session.estimates()}.values() if i.t_first_ns is not None
        ]
        t0 = min(firsts) if firsts else 0
        start_ns = None if args.start is None else t0 + round(args.start * 1e9)
        stop_ns = None if args.stop is None else t0 + round(args.stop * 1e9)
        if start_ns is not None and stop_ns is not None and stop_ns <= start_ns:
            raise ConfigError("--stop must be after --start", field_path="--stop", value=str(args.stop))
    return {"extra": extra, "start_ns": start_ns, "stop_ns": stop_ns}


def _export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sensorfusion import ExportOptions, StoreError
    from sensorfusion.plugins import get_plugin_host
    from sensorfusion.store import Session

    host = get_plugin_host()
    exporters = host.exporters
    fmt = exporters.get(args.to).name if args.to is not None else None  # an unknown name fails first
    try:  # a folder or a URL (sessions live on any fsspec store)
        session = Session.open(args.session)
    except StoreError as e:
        if "://" not in str(args.session) and not Path(args.session).exists():
            raise ConfigError("no session there", field_path="SESSION", value=args.session) from e
        raise ConfigError(str(e), field_path="SESSION") from e
    opts = _options(args, session)
    show = not (args.quiet or args.json) and sys.stderr.isatty()
    progress = None
    bar: Any = None
    if show:
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("reading frames", total=None)
        bar.start()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

    options = ExportOptions(
        streams=tuple(args.stream),
        person_ids=tuple(args.person),
        start_ns=opts["start_ns"],
        stop_ns=opts["stop_ns"],
        extra=opts["extra"],
        progress=progress,
    )
    try:
        result = exporters.export(session, args.out, format=fmt, options=options)
    finally:
        if bar is not None:
            bar.stop()
    if args.json:
        print(json.dumps({"session": str(session.path), **result.as_json()}, indent=2))
    elif not args.quiet:
        people = ", ".join(str(p) for p in result.person_ids) or "-"
        print(f"exported {result.frames} frames of {', '.join(result.streams)} (people {people}) as {result.format}:")
        for p in result.paths:
            print(f"  {p}")
    return 0
