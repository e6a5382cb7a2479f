"""The core subcommands: ``run``, ``plugins``, ``inspect``."""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from .._components import Command
from .._errors import ConfigError, SensorfusionError, SessionDamagedError, StoreError
from .._lazy import lazy

__all__ = [
    "RigOutcome",
    "add_run_arguments",
    "core_commands",
    "default_session_path",
    "execute_rig",
    "plugin_lines",
    "run_rig",
    "session_file_name",
]

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rig", metavar="RIG.yaml", help="the rig file")
    p.add_argument(
        "--out",
        metavar="SESSION.zarr",
        help="record into this session, a folder or a URL (s3://bucket/run.zarr, memory://...); "
        "default: $SENSORFUSION_SESSIONS or sessions/, then <rig>-<time>.zarr",
    )
    p.add_argument("--no-record", action="store_true", help="do not record a session")
    p.add_argument("--overwrite", action="store_true", help="replace an existing session at --out")
    p.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this much sensor time (default: the rig's duration_s)",
    )
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N framesets")
    p.add_argument("--fast", action="store_true", help="as fast as possible instead of paced to the wall clock")
    p.add_argument(
        "--replay",
        metavar="SESSION.zarr",
        help="use a recorded session (a folder or a URL) as the source instead of the rig's sensors",
    )
    p.add_argument(
        "--skip-damaged",
        action="store_true",
        help="with --replay: leave out damaged frames of the session (each range recorded as an event) instead of stopping",
    )
    p.add_argument(
        "--stop-timeout",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="after a stop request, abandon a driver, stage or sink still inside one call this long (default 5)",
    )
    p.add_argument("--quiet", action="store_true", help="no live table or summary tables")
    p.add_argument("--json", action="store_true", help="print the end-of-run summary as JSON on stdout")


def session_file_name(rig_name: str) -> str:
    """A rig's ``name`` as a file name: only letters, digits, ``_ . -`` (anything else becomes
    ``_``), no leading dots or separators, at most 64 characters; ``rig`` when nothing is left.
    A name can never make a default session path leave ``sessions/``."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", rig_name)[:64].strip("._-")
    return safe or "rig"


SESSIONS_ENV = "SENSORFUSION_SESSIONS"
"""Environment variable: where sessions go when ``--out`` is not given (a folder or a URL,
``s3://bucket/sessions``); default ``sessions``."""


def default_session_path(rig_name: str) -> str:
    """``<sessions>/<safe rig name>-<YYYYmmdd-HHMMSS>.zarr``; ``<sessions>`` is
    ``$SENSORFUSION_SESSIONS`` (a folder or a URL) or ``sessions``. The name never leaves it."""
    import os

    from ..store._location import join

    base = os.environ.get(SESSIONS_ENV) or "sessions"
    return str(join(base, f"{session_file_name(rig_name)}-{time.strftime('%Y%m%d-%H%M%S')}.zarr"))


def _check_writable(out: str) -> None:
    """Fail before any work when the session cannot be created (read-only disk, permissions,
    an unreachable store URL): one line naming the path and the cause; exit 1 (2 for a URL)."""
    import errno as _errno
    import os
    import tempfile

    from ..store._location import check_reachable, is_url, location

    if is_url(out):
        check_reachable(out, field_path="--out", write=True)
        return
    parent = Path(str(location(out))).resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".sensorfusion-probe-", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        code = _errno.errorcode.get(exc.errno or 0, str(exc.errno))
        cause = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StoreError(f"cannot record to {out}: {cause} [{code}] (in {parent})") from None


def _positive(name: str, value: float | int | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError("must be > 0", field_path=f"--{name}", value=value)


@dataclass
class RigOutcome:
    """What :func:`execute_rig` did: the exit code, the run's summary (``None`` when the run
    did not start), and the error lines (empty on success)."""

    code: int
    summary: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


def run_rig(args: argparse.Namespace) -> int:
    """``python -m sensorfusion.run``: exit 0 on success, 2 on invalid config/arguments, 1 on failure."""
    return execute_rig(args).code


def execute_rig(args: argparse.Namespace, *, config: Any = None, report: bool = True) -> RigOutcome:
    """Run a rig from ``run``'s arguments (:func:`add_run_arguments`). ``config``: an already
    loaded :class:`RigConfig` instead of reading ``args.rig`` (relative paths still resolve from
    ``args.rig``'s folder). ``report=False``: print nothing (``sensorfusion batch``); the error
    lines are in the outcome either way."""
    from ..plugins import get_plugin_host
    from ..scheduler._graph import build_rig
    from ..scheduler._runner import Runner, RunOptions
    from ..schema._config import load_rig
    from ..store._location import is_url, location, location_exists, same_location

    err = sys.stderr
    errors: list[str] = []

    def fail(line: str, code: int, summary: dict[str, Any] | None = None) -> RigOutcome:
        errors.append(line)
        if report:
            print(f"error: {line}", file=err)
        return RigOutcome(code, summary, errors)

    try:
        _positive("duration", args.duration)
        _positive("max-frames", args.max_frames)
        _positive("stop-timeout", args.stop_timeout)
        config = config if config is not None else load_rig(args.rig)
        host = get_plugin_host()
        replace_sources = None
        if args.replay:
            replace_sources = [_replay_source(args.replay, fast=args.fast, host=host, skip_damaged=args.skip_damaged)]
        elif args.skip_damaged:
            raise ConfigError("only applies to --replay", field_path="--skip-damaged")
        out = None
        if not args.no_record:
            out = args.out or default_session_path(config.name)
            if is_url(out):
                _check_writable(out)  # reachable first: a fast one-line error, not a 12 s retry loop
            if location_exists(location(out)) and not args.overwrite:
                raise ConfigError(
                    "session already exists (use --overwrite or another --out)", field_path="--out", value=out
                )
            if args.replay and same_location(out, args.replay):
                raise ConfigError("--out must differ from --replay", field_path="--out", value=out)
            if not is_url(out):
                _check_writable(out)
        rig = build_rig(
            config,
            host,
            base_dir=Path(args.rig).resolve().parent,
            realtime=not args.fast,
            source_name=str(args.rig),
            replace_sources=replace_sources,
            # sinks write their files beside a local session (none for a URL)
            out_dir=str(Path(str(location(out))).parent) if out and not is_url(out) else None,
        )
    except ConfigError as exc:
        where = "" if exc.source or exc.field_path.startswith("--") else f"{args.rig}: "
        return fail(f"{where}{exc}", EXIT_CONFIG)
    except SensorfusionError as exc:
        return fail(str(exc), EXIT_FAILURE)

    duration_s = args.duration if args.duration is not None else config.duration_s
    max_framesets = args.max_frames
    if args.replay and args.duration is None and args.max_frames is None:
        # re-run what was run: the recorded run's limits, not the rig file's
        limits = _recorded_limits(args.replay)
        if limits is not None:
            duration_s, max_framesets = limits.get("duration_s"), limits.get("max_framesets")
    options = RunOptions(
        out=out,
        realtime=not args.fast,
        duration_s=duration_s,
        max_framesets=max_framesets,
        quiet=args.quiet or args.json or not report,
        overwrite=args.overwrite,
        replay_of=args.replay,
        lossless=True if args.replay else None,  # a recording can wait: a replay loses nothing
        stop_timeout_s=args.stop_timeout,
    )
    runner = Runner(rig, host, options)

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        # First Ctrl-C / SIGTERM: a clean stop (drain, flush). A second one: stop now.
        if runner.stop_requested:
            runner.force_stop()
        else:
            runner.request_stop()

    from ._live import LiveTable

    live = LiveTable(config.name, enabled=not options.quiet)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    if threading_is_main():
        for s in previous:
            signal.signal(s, _on_signal)
    progress = _ProgressLine(enabled=not options.quiet)

    def on_stats(stats: Any) -> None:
        progress.stop()  # the live table takes over the terminal once the sources run
        live.refresh(stats)

    try:
        with live:
            result = runner.run(on_stats=on_stats, on_progress=progress.update)
    except SensorfusionError as exc:  # the session could not be created
        return fail(str(exc), EXIT_FAILURE)
    finally:
        progress.stop()
        if threading_is_main():
            for s, h in previous.items():
                signal.signal(s, h)
    summary = result.summary
    if args.json and report:
        print(json.dumps(summary, default=str))
    elif not options.quiet:
        live.final(summary)
        _print_headline(summary)
    if result.error is not None:
        if isinstance(result.error, SessionDamagedError):  # the input is bad, not the run
            return fail(
                f"damaged session: {result.error}; --skip-damaged leaves damaged frames out", EXIT_CONFIG, summary
            )
        return fail(str(result.error), EXIT_FAILURE, summary)
    if result.abandoned:
        for what in result.abandoned[:-1]:
            fail(f"{what} did not return after the stop request; abandoned", EXIT_FAILURE, summary)
        return fail(f"{result.abandoned[-1]} did not return after the stop request; abandoned", EXIT_FAILURE, summary)
    return RigOutcome(EXIT_OK, summary, errors)


class _ProgressLine:
    """One transient status line on stderr (a terminal only): the warm-up's progress."""

    def __init__(self, *, enabled: bool) -> None:
        self._status: Any = None
        self.enabled = enabled and sys.stderr.isatty()

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        if self._status is None:
            from rich.console import Console

            self._status = Console(stderr=True).status(text)
            self._status.start()
        else:
            self._status.update(text)

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self.enabled = False


def threading_is_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _print_headline(summary: dict[str, Any]) -> None:
    for sid, figs in summary.get("sinks", {}).items():
        if isinstance(figs, dict) and figs.get("mpjpe_mm") is not None:
            extra = []
            if figs.get("median_mm") is not None:
                extra.append(f"median {figs['median_mm']:.1f} mm")
            if figs.get("joint_coverage") is not None:
                extra.append(f"joint coverage {figs['joint_coverage']:.1%}")
            print(f"MPJPE ({sid}): {figs['mpjpe_mm']:.1f} mm" + (f"  ({', '.join(extra)})" if extra else ""))
    print(
        f"framesets: {summary.get('framesets')}  wall: {summary.get('wall_s')} s"
        + (f"  session: {summary['out']}" if summary.get("out") else "")
    )


def _replay_source(path: str, *, fast: bool, host: Any, skip_damaged: bool = False) -> Any:
    from .._components import DriverContext
    from .._errors import SessionDamagedError, StoreError
    from ..scheduler._graph import SourceNode
    from ..schema._config import SensorConfig
    from ..store._location import check_reachable, is_url, location, location_exists

    if is_url(path):
        check_reachable(path, field_path="--replay")
    if not location_exists(location(path)):
        raise ConfigError("session not found", field_path="--replay", value=path)
    cls = host.drivers.get("replay", field_path="--replay")
    params = cls.Params.model_validate(
        {"path": path, "timing": "fast" if fast else "recorded", "on_damage": "skip" if skip_damaged else "stop"}
    )
    try:
        drv = cls(params, DriverContext(sensor_id="replay", realtime=not fast))
        specs = list(drv.streams())
    except StoreError as exc:
        hint = "; --skip-damaged leaves damaged frames out" if isinstance(exc, SessionDamagedError) else ""
        raise ConfigError(f"{exc}{hint}", field_path="--replay") from None
    cfg = SensorConfig(id="replay", driver="replay", params={"path": path})
    return SourceNode(cfg, drv, host.drivers.plugin_of("replay"), specs)


def _recorded_limits(path: str) -> dict[str, Any] | None:
    from ..store import Session

    summary = Session.open(path).summary or {}
    limits = summary.get("limits")
    return limits if isinstance(limits, dict) else None


def _cmd_plugins(args: argparse.Namespace) -> int:
    from ..plugins import get_plugin_host

    host = get_plugin_host()
    problems = host.check_components() if args.check else {}
    if args.json:
        doc: dict[str, Any] = {"plugins": [r.as_json() for r in host.records]}
        if args.check:
            doc["problems"] = problems
        print(json.dumps(doc, indent=2))
        return EXIT_FAILURE if problems else EXIT_OK
    from rich.console import Console

    console = Console(highlight=False)
    for line in plugin_lines(host.records, width=console.width, problems=problems):
        console.print(line, soft_wrap=True)
    return EXIT_FAILURE if problems else EXIT_OK


def plugin_lines(records: Any, *, width: int = 80, problems: dict[str, str] | None = None) -> list[str]:
    """``sensorfusion plugins`` as lines of rich markup, each at most ``width`` columns: one
    line per plugin (name, status, where it comes from), then what it provides (or why it did
    not load), wrapped and indented."""
    import textwrap

    from rich.markup import escape

    width = max(40, width)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items(), key=lambda kv: kv[0] != "loaded"))
    lines = [f"[bold]sensorfusion plugins[/] ({summary})"]
    name_w = min(max((len(r.name) for r in records), default=4), 24)
    colour = {"loaded": "green", "failed": "red", "blocked": "yellow", "disabled": "yellow"}
    indent = " " * 4

    def wrapped(text: str, style: str = "") -> list[str]:
        out = textwrap.wrap(
            text, width=width, initial_indent=indent, subsequent_indent=indent + "  ", break_on_hyphens=False
        )
        return [f"[{style}]{escape(x)}[/]" if style else escape(x) for x in out]

    for r in records:
        where = "builtin" if r.source == "builtin" else f"{r.dist or r.source} {r.version or ''}".strip()
        head = f"{r.name:<{name_w}}  {r.status:<8}  {where}"
        if len(head) > width:
            head = head[: width - 1] + "…"
        lines.append(escape(head).replace(escape(r.status), f"[{colour.get(r.status, 'white')}]{r.status}[/]", 1))
        if r.status != "loaded":
            lines += wrapped(r.reason or "", "dim")
            continue
        for kind, names in r.provides.items():
            shown = [f"{n} ({r.notes[n]})" if n in r.notes else n for n in names]
            lines += wrapped(f"{kind}: {', '.join(shown)}")
    for what, err in (problems or {}).items():
        lines += wrapped(f"cannot load {what}: {err}", "red")
    return lines


def _cmd_inspect(args: argparse.Namespace) -> int:
    from .._errors import StoreError
    from ..store import format_inspect, inspect_session
    from ..store._location import check_reachable, is_url

    try:
        if is_url(args.session):
            check_reachable(args.session)
        if args.verify and not args.json:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("verifying chunks", total=None)
                info = inspect_session(
                    args.session,
                    verify=True,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        else:
            info = inspect_session(args.session, verify=args.verify)
    except (StoreError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        print(format_inspect(info))
    damage = info.get("damage") or []
    for d in damage[:20]:
        n = d["stop"] - d["start"]
        frames = (
            "(all frames)" if n <= 0 else f"frame {d['start']}" if n == 1 else f"frames {d['start']}-{d['stop'] - 1}"
        )
        print(f"error: {args.session}: stream {d['stream']} {frames}: {d['problem']}", file=sys.stderr)
    if len(damage) > 20:
        print(f"error: {args.session}: {len(damage) - 20} more damaged ranges (see --json)", file=sys.stderr)
    return EXIT_CONFIG if damage else EXIT_OK


def _demo_rig() -> Path:
    return Path(__file__).resolve().parents[2] / "examples" / "sim_rig.yaml"


def _cfg_warmup(p: argparse.ArgumentParser) -> None:
    p.add_argument("rigs", nargs="*", metavar="RIG.yaml", help="rig files (default: the bundled demo rig)")
    p.add_argument("--quiet", action="store_true", help="no table")


def _cmd_warmup(args: argparse.Namespace) -> int:
    """Build each rig and run every component's warm-up: Numba compiles its kernels into its
    on-disk cache, so the first live run starts without compiling (``./dev.sh setup`` runs it)."""
    from ..plugins import get_plugin_host
    from ..scheduler._graph import build_rig
    from ..scheduler._runner import Runner, RunOptions
    from ..schema._config import load_rig

    rigs = args.rigs or [str(_demo_rig())]
    host = get_plugin_host()
    rows: list[tuple[str, str, float]] = []
    for rig_path in rigs:
        try:
            config = load_rig(rig_path)
            rig = build_rig(config, host, base_dir=Path(rig_path).resolve().parent, source_name=rig_path)
            progress = _ProgressLine(enabled=not args.quiet)
            try:
                timings = Runner(rig, host, RunOptions(quiet=True)).warm_up(progress.update)
            finally:
                progress.stop()
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except SensorfusionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        rows += [(rig_path, name, seconds) for name, seconds in timings.items()]
    if not args.quiet:
        for rig_path, name, seconds in rows:
            print(f"warmed up {name:<20} {seconds:8.2f} s  ({rig_path})")
        print(f"warm-up done: {len(rigs)} rig(s), {sum(r[2] for r in rows):.1f} s")
    return EXIT_OK


def _cfg_plugins(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output (documented in docs/cli.md)")
    p.add_argument(
        "--check", action="store_true", help="also import every component now and report those that fail (exit 1)"
    )


def _cfg_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("session", metavar="SESSION", help="a session (.zarr folder, or a URL: s3://bucket/run.zarr)")
    p.add_argument(
        "--verify",
        action="store_true",
        help="read every chunk: report missing and corrupt chunks per stream (exit 2 if any)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (documented in docs/cli.md)")


def core_commands() -> list[Command]:
    return [
        Command("run", "run a rig (same as python -m sensorfusion.run)", add_run_arguments, run_rig),
        Command("plugins", "list plugins, what they provide, and why any failed to load", _cfg_plugins, _cmd_plugins),
        Command(
            "inspect", "print a session's streams, counts, time ranges, drops and events", _cfg_inspect, _cmd_inspect
        ),
        Command(
            "batch",
            "replay many sessions (or folders of videos) through a rig, one Ray task each; resumable",
            lazy("sensorfusion._builtin.batch:configure_batch"),
            lazy("sensorfusion._builtin.batch:run_batch"),
        ),
        Command(
            "warmup",
            "compile (or load from the cache) every kernel a rig runs, so a first live run does not drop frames",
            _cfg_warmup,
            _cmd_warmup,
        ),
        Command(
            "new-plugin",
            "write a plugin distribution to start from (driver, estimator, sink, tests, example rig)",
            lazy("sensorfusion.cli._new_plugin:configure_new_plugin"),
            lazy("sensorfusion.cli._new_plugin:run_new_plugin"),
        ),
    ]
