"""``sensorfusion batch`` on local Ray against the same sessions one after another in one
process, and a session on a loopback S3 store (moto's server, through s3fs) against local disk.

1. Records ``--sessions`` short sessions of the simulated demo rig (``examples/sim_rig.yaml``,
   ``--frames`` framesets each, seeds 1..N) into a temporary folder.
2. Peer: replays them through the rig one after another in this process (the process is warm:
   kernels loaded by the recordings), each run as ``batch --no-ray`` runs it.
3. The same jobs as Ray tasks on a local Ray with ``--jobs`` CPUs (``batch``'s default
   executor): a first pass on fresh workers (each imports sensorfusion and loads its kernels),
   then a second pass on the now warm workers. Ray's own start is timed apart.
4. One session replayed from S3 and from local disk, and recorded to S3 and to local disk,
   interleaved, medians of ``--repeats``.

Speed-up = serial wall / Ray wall (same jobs, same process). Per-session overhead = the extra
CPU-seconds a session costs on Ray: (Ray wall × parallel slots − serial wall) / sessions.
A table, then one JSON line. The machine's load average is printed with it: on a shared
2-core machine a parallel speed-up is bounded by the cores other processes leave free.

Usage: ``python benchmarks/bench_batch.py [--sessions 4] [--frames 15] [--jobs 2] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SIM_RIG = ROOT / "examples" / "sim_rig.yaml"


def _record(rig: Path, out: str, frames: int) -> float:
    from sensorfusion.cli import main

    t0 = time.perf_counter()
    code = main(["run", str(rig), "--max-frames", str(frames), "--fast", "--quiet", "--overwrite", "--out", out])
    if code != 0:
        raise SystemExit(f"recording {out} failed (exit {code})")
    return time.perf_counter() - t0


def _jobs(inputs: list[Path], out: Path) -> list[Any]:
    from sensorfusion._builtin.batch import plan_jobs

    return plan_jobs([str(p) for p in inputs], str(out), rig_takes_input=False)


def _batch(rig: Path, jobs: list[Any], *, use_ray: bool, slots: int) -> tuple[float, list[Any]]:
    from sensorfusion._builtin.batch import run_jobs

    t0 = time.perf_counter()
    results = run_jobs(str(rig), jobs, {}, use_ray=use_ray, jobs_at_once=slots)
    wall = time.perf_counter() - t0
    bad = [r for r in results if r.status != "ok"]
    if bad:
        raise SystemExit(f"batch failed: {bad[0].input}: {bad[0].error}")
    return wall, results


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=4, help="sessions in the batch (default 4)")
    ap.add_argument("--frames", type=int, default=15, help="framesets per session (default 15)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Ray CPUs (default: the CPU count)")
    ap.add_argument("--repeats", type=int, default=2, help="S3 vs disk repeats (default 2)")
    ap.add_argument("--skip-s3", action="store_true", help="leave out the S3 comparison")
    args = ap.parse_args()
    try:
        import ray
    except ImportError:
        print("bench_batch needs Ray: pip install 'sensorfusion[ray]'", file=sys.stderr)
        return 2

    from sensorfusion._builtin.batch import _start_ray

    tmp = Path(tempfile.mkdtemp(prefix="sf-bench-batch-"))
    try:
        rig_text = SIM_RIG.read_text()
        inputs = []
        for seed in range(1, args.sessions + 1):
            rig = tmp / f"rig{seed}.yaml"
            rig.write_text(rig_text.replace("seed: 7", f"seed: {seed}"))
            inputs.append(tmp / "in" / f"s{seed}.zarr")
            _record(rig, str(inputs[-1]), args.frames)

        serial_s, serial = _batch(SIM_RIG, _jobs(inputs, tmp / "serial"), use_ray=False, slots=1)
        t0 = time.perf_counter()
        _start_ray(None, args.jobs)
        ray_init_s = time.perf_counter() - t0
        try:
            cold_s, cold = _batch(SIM_RIG, _jobs(inputs, tmp / "ray-cold"), use_ray=True, slots=args.jobs)
            warm_s, warm = _batch(SIM_RIG, _jobs(inputs, tmp / "ray-warm"), use_ray=True, slots=args.jobs)
        finally:
            ray.shutdown()
        for a, b in zip(serial, warm, strict=True):  # the same work: the same results
            assert (a.framesets, a.metric) == (b.framesets, b.metric), (a, b)
        slots = min(args.jobs, args.sessions)

        def overhead(wall: float) -> float:
            return (wall * slots - serial_s) / args.sessions

        s3: dict[str, float] = {}
        if not args.skip_s3:
            try:
                import moto.server  # noqa: F401
                import s3fs  # noqa: F401
            except ImportError:
                print("S3 comparison left out: pip install 'sensorfusion[remote]' 'moto[server]'", file=sys.stderr)
            else:
                s3 = _s3_vs_disk(tmp, inputs[0], args.frames, args.repeats)

        load = os.getloadavg()
        n = args.sessions
        rows = [
            ("one after another, this process", serial_s, serial_s / n, 1.0),
            ("Ray, fresh workers", cold_s, cold_s / n, serial_s / cold_s),
            ("Ray, warm workers", warm_s, warm_s / n, serial_s / warm_s),
            (
                "Ray, fresh workers + Ray start",
                cold_s + ray_init_s,
                (cold_s + ray_init_s) / n,
                serial_s / (cold_s + ray_init_s),
            ),
        ]
        print(
            f"{n} sessions x {args.frames} framesets of the simulated 4-camera rig, {args.jobs} Ray CPUs, "
            f"{os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
        )
        print(f"{'executor':<36} {'wall s':>8} {'s/session':>10} {'speed-up':>9}")
        for name, wall, per, ratio in rows:
            print(f"{name:<36} {wall:8.2f} {per:10.2f} {ratio:8.2f}x")
        print(
            f"Ray start {ray_init_s:.2f} s; per-session overhead on Ray: fresh workers "
            f"{overhead(cold_s):+.2f} s, warm workers {overhead(warm_s):+.2f} s (CPU-seconds over the serial run)"
        )
        print(
            "mean run inside a task: serial "
            f"{statistics.mean(r.wall_s for r in serial):.2f} s, Ray fresh "
            f"{statistics.mean(r.wall_s for r in cold):.2f} s, Ray warm {statistics.mean(r.wall_s for r in warm):.2f} s"
        )
        if s3:
            print(f"{'one session, median of ' + str(args.repeats):<36} {'disk s':>8} {'S3 s':>10} {'S3/disk':>9}")
            for what in ("replay", "record", "inspect"):
                print(
                    f"{what:<36} {s3[what + '_disk_s']:8.2f} {s3[what + '_s3_s']:10.2f} "
                    f"{s3[what + '_s3_s'] / s3[what + '_disk_s']:8.2f}x"
                )
        doc = {
            "bench": "batch",
            "sessions": n,
            "frames": args.frames,
            "ray_cpus": args.jobs,
            "cores": os.cpu_count(),
            "loadavg": [round(x, 2) for x in load],
            "serial_s": round(serial_s, 3),
            "ray_cold_s": round(cold_s, 3),
            "ray_warm_s": round(warm_s, 3),
            "ray_init_s": round(ray_init_s, 3),
            "ratio_speedup_cold": round(serial_s / cold_s, 3),
            "ratio_speedup_warm": round(serial_s / warm_s, 3),
            "ratio_speedup_with_ray_start": round(serial_s / (cold_s + ray_init_s), 3),
            "overhead_s_per_session_cold": round(overhead(cold_s), 3),
            "overhead_s_per_session_warm": round(overhead(warm_s), 3),
            **{k: round(v, 3) for k, v in s3.items()},
            **(
                {
                    f"ratio_s3_over_disk_{w}": round(s3[f"{w}_s3_s"] / s3[f"{w}_disk_s"], 3)
                    for w in ("replay", "record", "inspect")
                }
                if s3
                else {}
            ),
        }
        print(json.dumps(doc))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _s3_vs_disk(tmp: Path, session: Path, frames: int, repeats: int) -> dict[str, float]:
    """Replay ``session`` from S3 and from disk, record the rig to S3 and to disk, inspect
    (every chunk verified) on both; interleaved, medians."""
    for k, v in {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(k, v)
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ["AWS_ENDPOINT_URL_S3"] = f"http://127.0.0.1:{port}"
    try:
        import fsspec

        from sensorfusion._builtin.batch import BatchJob, run_job
        from sensorfusion.store import inspect_session

        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        fs.mkdir("bench")
        fs.put(str(session), "bench/in.zarr", recursive=True)
        times: dict[str, list[float]] = {}
        for i in range(repeats):
            for where, src, dst in (
                ("disk", str(session), str(tmp / f"rp{i}.zarr")),
                ("s3", "s3://bench/in.zarr", str(tmp / f"rp-s3-{i}.zarr")),
            ):
                job = BatchJob(input=src, kind="replay", output=dst, name="x")
                res = run_job(str(SIM_RIG), job.__dict__, {})
                if res["status"] != "ok":
                    raise SystemExit(f"replay from {where} failed: {res['error']}")
                times.setdefault(f"replay_{where}_s", []).append(res["wall_s"])
            for where, dst in (("disk", str(tmp / f"rec{i}.zarr")), ("s3", f"s3://bench/rec{i}.zarr")):
                times.setdefault(f"record_{where}_s", []).append(_record(SIM_RIG, dst, frames))
            for where, src in (("disk", str(session)), ("s3", "s3://bench/in.zarr")):
                t0 = time.perf_counter()
                inspect_session(src, verify=True)
                times.setdefault(f"inspect_{where}_s", []).append(time.perf_counter() - t0)
        return {k: statistics.median(v) for k, v in times.items()}
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
