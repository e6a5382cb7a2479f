"""``sensorfusion batch``: one rig over many recorded sessions (or folders of videos), one Ray
task per session, local Ray by default, a cluster with ``--address``.

Each input becomes a job: a recorded session (a folder or URL holding a Zarr session) is
replayed through the rig (``run RIG --replay SESSION --fast``); any other folder is handed to
the rig as ``${input}`` (the rig file names it, e.g. ``views: {cam0: ${input}/cam0.mp4}``)
and the rig runs once on it. A job runs :func:`~sensorfusion.cli._commands.execute_rig` in a
Ray worker (in this process with ``--no-ray``) and records ``<out>/<input name>.zarr``; a
finished session there is skipped on the next batch (resume), an unfinished one (a crash, a
kill) is run again. A failing job never stops the others: its error is listed, the exit code
is 1. Ray is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._errors import ConfigError, SensorfusionError
from ..cli._commands import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, session_file_name
from ..store._location import (
    check_reachable,
    is_url,
    join,
    location,
    location_exists,
    protocol_of,
    session_finished,
)

__all__ = ["BatchJob", "configure_batch", "plan_jobs", "run_batch", "run_job", "run_jobs"]

INPUT_PLACEHOLDER = "${input}"
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM): the session holds what ran; the next batch runs it again"
RAY_MISSING = (
    "sensorfusion batch runs sessions on Ray, which is not installed: pip install 'sensorfusion[ray]' "
    "(or pip install 'ray>=2.9'); --no-ray runs them one after another in this process"
)
_GLOB_CHARS = set("*?[")
EXIT_INTERRUPTED = 130


@dataclass
class BatchJob:
    """One input of a batch: ``kind`` ``replay`` (a recorded session) or ``input`` (a folder
    or file handed to the rig as ``${input}``), and the session it records to."""

    input: str
    kind: str
    output: str
    name: str


@dataclass
class JobResult:
    """What one job did (``status``: ``ok``, ``failed`` or ``skipped``: already finished)."""

    input: str
    output: str
    status: str
    framesets: int | None = None
    drops: int | None = None
    metric: dict[str, Any] | None = None
    wall_s: float | None = None
    error: str | None = None
    errors: list[str] = field(default_factory=list)


def configure_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument("rig", metavar="RIG.yaml", help="the rig file")
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="SESSION_OR_GLOB",
        help="recorded sessions to replay (folders or URLs, globs allowed: 'runs/*.zarr', 's3://b/runs/*.zarr'),"
        " or folders of videos the rig names as ${input}",
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="where the results go, a folder or a URL: DIR/<input name>.zarr"
    )
    p.add_argument(
        "--address", metavar="ADDR", help="a Ray cluster (ray://host:10001 or host:6379); default: local Ray"
    )
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="sessions at once (default: the CPU count; local Ray starts with N CPUs)",
    )
    p.add_argument("--no-ray", action="store_true", help="run the sessions one after another in this process")
    p.add_argument("--redo", action="store_true", help="run finished sessions again (default: skip them)")
    p.add_argument("--duration", type=float, metavar="SECONDS", help="stop each run after this much sensor time")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop each run after N framesets")
    p.add_argument(
        "--skip-damaged", action="store_true", help="leave out damaged frames of a session instead of failing it"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no table")
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout (see docs/cli.md)")


# ---------------------------------------------------------------------------------- planning
def _is_session(inp: str) -> bool:
    loc = location(inp)
    return (loc / "zarr.json").is_file() if isinstance(loc, Path) else location_exists(loc)


def _expand(pattern: str) -> list[str]:
    """A glob's matches (sorted), or the input itself."""
    if not _GLOB_CHARS & set(pattern):
        return [pattern]
    if is_url(pattern):
        import fsspec

        fs, path = fsspec.url_to_fs(pattern)
        proto = protocol_of(pattern)
        return sorted(f"{proto}://{m.lstrip('/')}" for m in fs.glob(path))
    return sorted(glob.glob(pattern))


def _stem(inp: str) -> str:
    """An input's name as a session name: ``runs/a.zarr`` -> ``a``, ``trial/clip.mp4`` -> ``clip``."""
    base = str(inp).rstrip("/").rsplit("/", 1)[-1]
    if base.endswith(".zarr"):
        base = base[: -len(".zarr")]
    elif not is_url(inp) and Path(inp).is_file():
        base = Path(base).stem
    return session_file_name(base)


def plan_jobs(inputs: Sequence[str], out: str, *, rig_takes_input: bool) -> list[BatchJob]:
    """The jobs of a batch: globs expanded (local matches made absolute), each input classified
    (every input is ``${input}`` when the rig names it, else it must be a recorded session),
    output names chosen (the input's name, made safe; two inputs with the same name get a
    short hash of their path).
    :class:`ConfigError` for a pattern that matches nothing, a missing input, or an input that
    is not a session when the rig does not name ``${input}``."""
    found: list[str] = []
    for pattern in inputs:
        if is_url(pattern):
            check_reachable(pattern, field_path="SESSION_OR_GLOB")
        matches = _expand(pattern)
        if not matches:
            raise ConfigError("matches nothing", field_path="SESSION_OR_GLOB", value=pattern)
        matches = [m if is_url(m) else str(Path(str(location(m))).resolve()) for m in matches]
        found += [m for m in matches if m not in found]
    jobs: list[BatchJob] = []
    stems = [_stem(m) for m in found]
    for inp, stem in zip(found, stems, strict=True):
        loc = location(inp)
        if isinstance(loc, Path) and not loc.exists():
            raise ConfigError("not found", field_path="SESSION_OR_GLOB", value=inp)
        if rig_takes_input:  # the rig decides: it reads its input itself
            kind = "input"
        elif _is_session(inp):
            kind = "replay"
        else:
            raise ConfigError(
                f"not a recorded session, and the rig does not name {INPUT_PLACEHOLDER} (for folders of videos)",
                field_path="SESSION_OR_GLOB",
                value=inp,
            )
        name = stem
        if stems.count(stem) > 1:
            name = f"{stem}-{hashlib.sha1(str(inp).encode()).hexdigest()[:6]}"
        jobs.append(BatchJob(input=str(inp), kind=kind, output=str(join(out, f"{name}.zarr")), name=name))
    return jobs


# ---------------------------------------------------------------------------------- one job
def _headline(summary: dict[str, Any]) -> dict[str, Any] | None:
    """The run's headline figure: the first sink reporting ``mpjpe_mm``."""
    for sid, figs in (summary.get("sinks") or {}).items():
        if isinstance(figs, dict) and figs.get("mpjpe_mm") is not None:
            return {"sink": sid, "name": "mpjpe_mm", "value": figs["mpjpe_mm"]}
    return None


def _drops(summary: dict[str, Any]) -> int:
    total = 0
    for per in (summary.get("drops") or {}).values():
        if isinstance(per, dict):
            total += sum(int(v) for v in per.values() if isinstance(v, int | float))
        elif isinstance(per, int | float):
            total += int(per)
    dropped = (summary.get("recorder") or {}).get("dropped") or {}
    if isinstance(dropped, dict):
        total += sum(int(v) for v in dropped.values() if isinstance(v, int | float))
    return total


def _figures(res: JobResult, summary: dict[str, Any] | None) -> JobResult:
    if summary:
        res.framesets = summary.get("framesets")
        res.drops = _drops(summary)
        res.metric = _headline(summary)
    return res


def run_job(
    rig: str,
    job: dict[str, Any],
    options: dict[str, Any],
) -> dict[str, Any]:
    """Run one job (a Ray task, or in this process): the rig over ``job``'s input, recorded
    to ``job["output"]``. ``options["rig_text"]``: the rig file's text, read by the caller (a
    cluster's nodes need not have the file; relative paths in it still resolve from its folder).
    Never raises: every failure is the result's ``error``."""
    from ..cli._commands import execute_rig
    from ..schema._config import load_rig

    t0 = time.perf_counter()
    res = JobResult(input=job["input"], output=job["output"], status="failed")
    try:
        text = options.get("rig_text")
        if text is None:
            if not Path(rig).is_file():
                raise ConfigError("rig file not found on this node", value=rig)
            text = Path(rig).read_text(encoding="utf-8")
        replay = None
        if job["kind"] == "replay":
            replay = job["input"]
        else:
            text = text.replace(INPUT_PLACEHOLDER, str(job["input"]))
        config = load_rig(rig, text=text)
        args = argparse.Namespace(
            rig=rig,
            out=job["output"],
            no_record=False,
            overwrite=True,  # an unfinished session of an earlier batch (finished ones are skipped)
            duration=options.get("duration"),
            max_frames=options.get("max_frames"),
            fast=True,
            replay=replay,
            skip_damaged=bool(options.get("skip_damaged")) and replay is not None,
            stop_timeout=5.0,
            quiet=True,
            json=False,
        )
        outcome = execute_rig(args, config=config, report=False)
        _figures(res, outcome.summary)
        if (outcome.summary or {}).get("interrupted"):  # Ctrl-C / SIGTERM: a partial result
            res.error = INTERRUPTED
        elif outcome.code == EXIT_OK:
            res.status = "ok"
        else:
            res.errors = list(outcome.errors)
            res.error = outcome.errors[0] if outcome.errors else f"exit code {outcome.code}"
    except SensorfusionError as exc:
        res.error = str(exc).splitlines()[0]
    except Exception as exc:  # a bug in a plugin: still one line, the batch goes on
        res.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    res.wall_s = round(time.perf_counter() - t0, 3)
    return asdict(res)


def _skipped(job: BatchJob) -> JobResult | None:
    """The result of a job whose session is already finished (figures from its summary)."""
    loc = location(job.output)
    if not session_finished(loc):
        return None
    from ..store import Session

    res = JobResult(input=job.input, output=job.output, status="skipped")
    try:
        summary = Session.open(loc).summary or {}
    except SensorfusionError:
        return None
    if summary.get("interrupted"):
        return None  # stopped by a Ctrl-C: run it again
    _figures(res, summary)
    res.wall_s = summary.get("wall_s")
    return res


# ---------------------------------------------------------------------------------- executors
def run_jobs(
    rig: str,
    jobs: Sequence[BatchJob],
    options: dict[str, Any],
    *,
    use_ray: bool,
    jobs_at_once: int,
    on_done: Callable[[JobResult], None] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` (Ray tasks, at most ``jobs_at_once`` in flight; or one after another in
    this process) and return their results in the order of ``jobs``."""
    results: dict[int, JobResult] = {}

    def done(i: int, res: JobResult) -> None:
        results[i] = res
        if on_done is not None:
            on_done(res)

    if not use_ray:
        for i, job in enumerate(jobs):
            res = JobResult(**run_job(rig, asdict(job), options))
            done(i, res)
            if res.error == INTERRUPTED:  # the run took the Ctrl-C: the batch stops too
                raise KeyboardInterrupt
        return [results[i] for i in range(len(jobs))]

    import ray

    task = ray.remote(num_cpus=1, max_retries=0)(run_job)
    pending: dict[Any, int] = {}
    queue = list(enumerate(jobs))
    while queue or pending:
        while queue and len(pending) < jobs_at_once:
            i, job = queue.pop(0)
            pending[task.remote(rig, asdict(job), options)] = i
        try:
            ready, _ = ray.wait(list(pending), num_returns=1)
        except KeyboardInterrupt:
            for ref in pending:  # on a cluster too: nothing keeps running for a batch that stopped
                ray.cancel(ref, force=True)
            raise
        for ref in ready:
            i = pending.pop(ref)
            try:
                done(i, JobResult(**ray.get(ref)))
            except Exception as exc:  # the worker died (killed, out of memory): that job only
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                done(
                    i,
                    JobResult(
                        input=jobs[i].input,
                        output=jobs[i].output,
                        status="failed",
                        error=f"Ray: {type(exc).__name__}: {text}"[:500],
                    ),
                )
    return [results[i] for i in range(len(jobs))]


def _check_address(address: str, timeout_s: float = 5.0) -> None:
    """A Ray address (``host:port``, ``ray://host:port``) that does not accept a connection is
    a :class:`ConfigError` at once (Ray itself retries for minutes); ``auto``: not probed."""
    import socket

    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError("expected HOST:PORT or ray://HOST:PORT", field_path="--address", value=address)
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}", field_path="--address"
        ) from None


def _start_ray(address: str | None, jobs: int) -> bool:
    """Connect to Ray (start a local one unless one is running in this process); true when
    this call started it (and so shuts it down)."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # results are small dicts: a small object store (the default takes 30 % of the memory)
        ray.init(num_cpus=jobs, object_store_memory=128 << 20, **kwargs)
    return True


# ---------------------------------------------------------------------------------- the command
def _fmt_metric(m: dict[str, Any] | None) -> str:
    return "-" if not m else f"{m['value']:.1f} mm"


def _table(results: Sequence[JobResult], wall_s: float) -> Any:
    from rich.table import Table

    t = Table(title=None, show_edge=False, header_style="bold")
    for col, just in (
        ("session", "left"),
        ("status", "left"),
        ("framesets", "right"),
        ("drops", "right"),
        ("MPJPE", "right"),
        ("wall s", "right"),
    ):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    colour = {"ok": "green", "failed": "red", "skipped": "yellow"}
    for r in results:
        t.add_row(
            Path(r.output).name if not is_url(r.output) else r.output.rsplit("/", 1)[-1],
            f"[{colour.get(r.status, 'white')}]{r.status}[/]",
            "-" if r.framesets is None else str(r.framesets),
            "-" if r.drops is None else str(r.drops),
            _fmt_metric(r.metric),
            "-" if r.wall_s is None else f"{r.wall_s:.1f}",
        )
    return t


def run_batch(args: argparse.Namespace) -> int:
    from ..schema._config import load_rig

    err = sys.stderr
    t0 = time.perf_counter()
    try:
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("must be >= 1", field_path="--jobs", value=args.jobs)
        for name in ("duration", "max_frames"):
            value = getattr(args, name)
            if value is not None and value <= 0:
                raise ConfigError("must be > 0", field_path=f"--{name.replace('_', '-')}", value=value)
        use_ray = not args.no_ray
        if use_ray:
            try:
                import ray
            except ImportError:
                print(f"error: {RAY_MISSING}", file=err)
                return EXIT_CONFIG
        if args.no_ray and args.address:
            raise ConfigError("--address needs Ray (leave out --no-ray)", field_path="--address")
        if args.address:
            _check_address(args.address)
        rig_path = str(Path(args.rig).resolve())
        load_rig(rig_path)  # the rig file itself: one error now, not one per session
        rig_text = Path(rig_path).read_text(encoding="utf-8")
        takes_input = INPUT_PLACEHOLDER in rig_text
        if is_url(args.out):
            check_reachable(args.out, field_path="--out", write=True)
            if use_ray and protocol_of(args.out) == "memory":
                raise ConfigError(
                    "memory:// lives in one process: Ray workers cannot write there (use --no-ray or another store)",
                    field_path="--out",
                    value=args.out,
                )
        else:
            out_dir = location(args.out)
            if isinstance(out_dir, Path) and out_dir.exists() and not out_dir.is_dir():
                raise ConfigError("is a file, not a folder", field_path="--out", value=args.out)
        if not is_url(args.out):
            args.out = str(Path(str(location(args.out))).resolve())
        jobs = plan_jobs(args.inputs, args.out, rig_takes_input=takes_input)
        for job in jobs:
            if job.kind == "replay" and location(job.input) == location(job.output):
                raise ConfigError("--out must differ from the inputs' folder", field_path="--out", value=args.out)
        if not is_url(args.out):
            Path(args.out).mkdir(parents=True, exist_ok=True)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_CONFIG
    except SensorfusionError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAILURE
    except OSError as exc:  # --out cannot be created (permissions, a read-only disk)
        print(f"error: --out: cannot create {args.out}: {exc.strerror or exc}", file=err)
        return EXIT_FAILURE

    todo: list[BatchJob] = []
    skipped: dict[str, JobResult] = {}
    for job in jobs:
        done = None if args.redo else _skipped(job)
        if done is None:
            todo.append(job)
        else:
            skipped[job.output] = done
    show = not (args.quiet or args.json)
    if skipped and show:
        print(
            f"{len(skipped)} of {len(jobs)} sessions already finished in {args.out}: skipped (--redo runs them again)"
        )
    options = {
        "duration": args.duration,
        "max_frames": args.max_frames,
        "skip_damaged": args.skip_damaged,
        "rig_text": rig_text,
    }
    n_jobs = 1 if not use_ray else args.jobs or os.cpu_count() or 1
    started = False
    results: list[JobResult] = []
    try:
        if todo:
            if use_ray:
                try:
                    started = _start_ray(args.address, n_jobs)
                except Exception as exc:
                    where = args.address or "a local Ray"
                    print(f"error: cannot start or reach {where}: {str(exc).splitlines()[0]}", file=err)
                    return EXIT_CONFIG if args.address else EXIT_FAILURE
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(
                TextColumn("[bold]batch[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} failed"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
                disable=not show,
            ) as bar:
                task = bar.add_task("sessions", total=len(todo), failed=0)
                failed = ran = 0

                lines = show and not err.isatty()  # a log (CI, a file): one line per session instead of a bar

                def on_done(res: JobResult) -> None:
                    nonlocal failed, ran
                    failed += res.status == "failed"
                    ran += res.status == "ok"
                    bar.update(task, advance=1, failed=failed)
                    if lines:
                        name = res.output.rstrip("/").rsplit("/", 1)[-1]
                        wall = "" if res.wall_s is None else f" {res.wall_s:.1f} s"
                        print(f"[{ran + failed}/{len(todo)}] {name} {res.status}{wall}", file=err, flush=True)

                try:
                    results = run_jobs(rig_path, todo, options, use_ray=use_ray, jobs_at_once=n_jobs, on_done=on_done)
                except KeyboardInterrupt:
                    bar.stop()
                    print(
                        f"error: interrupted after {ran} of {len(todo)} sessions; finished ones "
                        f"stay in {args.out} and the next batch skips them",
                        file=err,
                    )
                    return EXIT_INTERRUPTED
    finally:
        if started:
            import ray

            ray.shutdown()
    by_out = {r.output: r for r in results}
    ordered = [skipped.get(j.output) or by_out[j.output] for j in jobs]
    wall_s = round(time.perf_counter() - t0, 3)
    counts = {s: sum(r.status == s for r in ordered) for s in ("ok", "failed", "skipped")}
    if args.json:
        doc = {
            "rig": rig_path,
            "out": args.out,
            "executor": "local" if not use_ray else ("ray:" + args.address if args.address else "ray:local"),
            "jobs": n_jobs,
            "sessions": [asdict(r) for r in ordered],
            **counts,
            "wall_s": wall_s,
        }
        print(json.dumps(doc, default=str))
    elif not args.quiet:
        from rich.console import Console

        console = Console(highlight=False)
        console.print(_table(ordered, wall_s))
        console.print(
            f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped "
            f"in {wall_s:.1f} s ({'in this process' if not use_ray else 'on Ray'}, {n_jobs} at once); "
            f"sessions in {args.out}"
        )
    for r in ordered:
        if r.status == "failed":
            print(f"error: {r.input}: {r.error}", file=err)
    return EXIT_FAILURE if counts["failed"] else EXIT_OK
