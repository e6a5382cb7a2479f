"""Recorder benchmark: SessionWriter throughput against the ``mcap`` writer, and a real-time run.

    python benchmarks/bench_recorder.py [--seconds 3] [--json-only]

The default (3 s of data per run, ~1.2 GB raw through each writer) finishes in a few minutes on
2 cores; ``--seconds 10`` is the longer run earlier figures used (over 6 minutes there).

Workload: 4 RGB cameras 1280x720 uint8 and one 1280x720 uint16 depth stream at 30 fps
(about 387 MB/s raw). Frames have realistic content (smooth gradients, moving shapes, mild
sensor noise) so compression ratios are meaningful; one second of frames is generated once
and cycled.

Measurements (each repeated ``--repeats`` times, ours and the peer alternating; the median
is reported):

* ``recorder``: :class:`sensorfusion.store.SessionWriter` writing every frame as fast as it
  can (foreground commits every 0.5 s of data), creation and ``close`` included;
* ``mcap``: ``mcap.writer.Writer`` with the same data, one channel per stream, raw array
  bytes as messages; same codec (zstd level 3 = ``zstandard.compress``'s default, which
  the mcap writer uses; LZ4 frame vs our Blosc-LZ4);
* ``realtime`` (zstd-1 and lz4): one producer thread per stream pushing frames at 30 fps into
  a background-mode writer with a bounded buffer; reports drops and the writer's lag.

The last line printed is one JSON object with every figure (ratio = ours / peer speed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec
from sensorfusion.store import Session, SessionWriter

WIDTH, HEIGHT, FPS = 1280, 720, 30
N_CAMERAS = 4
MB = 1e6


# --------------------------------------------------------------------------- workload
@dataclass
class Workload:
    """Streams and a pool of frames (one second per stream, cycled)."""

    specs: list[StreamSpec]
    pool: dict[str, list[dict[str, np.ndarray]]]
    seconds: float
    fps: int = FPS

    @property
    def n_sets(self) -> int:
        return round(self.seconds * self.fps)

    @property
    def raw_bytes(self) -> int:
        per_set = sum(next(iter(self.pool[s.name][0].values())).nbytes for s in self.specs)
        return per_set * self.n_sets

    def frame(self, name: str, i: int, t0_ns: int = 0) -> Frame:
        t = t0_ns + i * 1_000_000_000 // self.fps
        pool = self.pool[name]
        return Frame(name, t, t + 1_000_000, i, pool[i % len(pool)])

    def frames_in_order(self) -> list[tuple[str, int]]:
        return [(s.name, i) for i in range(self.n_sets) for s in self.specs]


def _camera_frames(cam: int, n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    base = np.stack(
        [
            96 + 80 * np.sin(xx / (180 + 40 * cam) + cam),
            110 + 70 * np.cos(yy / (150 + 30 * cam)),
            90 + 60 * np.sin((xx + yy) / 260 + cam / 2),
        ],
        axis=-1,
    )
    out = []
    for i in range(n):
        img = base.copy()
        for k in range(4):  # moving shapes: rectangles and a disc
            x = int((200 + 150 * k + 25 * i * (k + 1) + 90 * cam) % (WIDTH - 200))
            y = int((100 + 120 * k + 11 * i * (k + 1)) % (HEIGHT - 160))
            img[y : y + 140, x : x + 180] = (40 + 50 * k, 200 - 40 * k, 60 + 30 * cam)
        cx, cy = (300 + 17 * i + 100 * cam) % WIDTH, (360 + 9 * i) % HEIGHT
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < 70**2] = (230, 220, 200)
        noise = rng.integers(-1, 2, size=img.shape, dtype=np.int8)  # mild sensor noise
        out.append({"image": np.clip(img + noise, 0, 255).astype(np.uint8)})
    return out


def _depth_frames(n: int, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    floor = 1500 + 2.5 * yy + 0.3 * xx  # a tilted plane, millimetres
    out = []
    for i in range(n):
        d = floor.copy()
        cx, cy = (400 + 20 * i) % WIDTH, 380
        person = ((xx - cx) / 90) ** 2 + ((yy - cy) / 260) ** 2 < 1
        d[person] = 2200 + 0.2 * (xx[person] - cx) ** 2 / 50
        d += rng.normal(0, 2.0, size=d.shape)
        d[rng.random(d.shape) < 0.01] = 0  # invalid pixels
        out.append({"depth": np.clip(d, 0, 65535).astype(np.uint16)})
    return out


def make_workload(seconds: float, *, pool_frames: int = FPS, seed: int = 0) -> Workload:
    rng = np.random.default_rng(seed)
    specs, pool = [], {}
    for cam in range(N_CAMERAS):
        spec = StreamSpec(
            name=f"cam{cam}/image",
            kind=FrameKind.IMAGE,
            rate_hz=FPS,
            fields={"image": FieldSpec(dtype="uint8", shape=(HEIGHT, WIDTH, 3))},
        )
        specs.append(spec)
        pool[spec.name] = _camera_frames(cam, pool_frames, rng)
    depth = StreamSpec(
        name="depth0/depth",
        kind=FrameKind.DEPTH,
        rate_hz=FPS,
        fields={"depth": FieldSpec(dtype="uint16", shape=(HEIGHT, WIDTH))},
    )
    specs.append(depth)
    pool[depth.name] = _depth_frames(pool_frames, rng)
    return Workload(specs=specs, pool=pool, seconds=seconds)


def _dir_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- measurements
def bench_recorder(w: Workload, out: Path, compression: str, level: int) -> dict[str, float]:
    """SessionWriter, foreground commits every 0.5 s of data; raw MB/s including close."""
    commit_every = max(1, FPS // 2) * len(w.specs)
    t0 = time.perf_counter()
    writer = SessionWriter(
        out,
        rig={"name": "bench"},
        calibration=None,
        compression=compression,  # type: ignore[arg-type]
        level=level,
        max_buffer_mb=4096,
    )
    for spec in w.specs:
        writer.add_stream(spec)
    for k, (name, i) in enumerate(w.frames_in_order(), start=1):
        writer.write(w.frame(name, i))
        if k % commit_every == 0:
            writer.commit()
    writer.close()
    dt = time.perf_counter() - t0
    stored = _dir_bytes(out)
    return {"mb_s": w.raw_bytes / MB / dt, "seconds": dt, "compression_ratio": w.raw_bytes / max(1, stored)}


def bench_mcap(w: Workload, out: Path, compression: str) -> dict[str, float]:
    """mcap.writer.Writer, one channel per stream, raw bytes per message; raw MB/s incl. finish."""
    from mcap.writer import CompressionType, Writer

    ctype = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}[compression]
    t0 = time.perf_counter()
    with open(out, "wb") as f:
        writer = Writer(f, compression=ctype)
        writer.start(profile="", library="bench")
        channels = {}
        for spec in w.specs:
            field = next(iter(spec.fields.values()))
            schema = writer.register_schema(
                name=f"raw/{spec.kind.value}",
                encoding="",
                data=json.dumps({"dtype": field.dtype, "shape": field.shape}).encode(),
            )
            channels[spec.name] = writer.register_channel(topic=spec.name, message_encoding="raw", schema_id=schema)
        for name, i in w.frames_in_order():
            frame = w.frame(name, i)
            arr = next(iter(frame.data.values()))
            writer.add_message(
                channel_id=channels[name],
                log_time=frame.t_host_ns,
                publish_time=frame.t_sensor_ns,
                sequence=frame.seq,
                data=arr.tobytes(),
            )
        writer.finish()
    dt = time.perf_counter() - t0
    return {"mb_s": w.raw_bytes / MB / dt, "seconds": dt, "compression_ratio": w.raw_bytes / max(1, _dir_bytes(out))}


def compare_writers(
    w: Workload, tmp: Path, compression: str, level: int, repeats: int, log: Callable[[str], None]
) -> dict[str, Any]:
    """Ours and mcap alternating ``repeats`` times; medians."""
    ours, peer = [], []
    for rep in range(repeats):
        for label, fn in (
            ("recorder", lambda p: bench_recorder(w, p, compression, level)),
            ("mcap", lambda p: bench_mcap(w, p, compression)),
        ):
            path = tmp / (f"{label}-{compression}-{rep}" + (".zarr" if label == "recorder" else ".mcap"))
            res = fn(path)
            (ours if label == "recorder" else peer).append(res)
            log(
                f"  {compression:5s} rep {rep}: {label:8s} {res['mb_s']:8.1f} MB/s  ratio {res['compression_ratio']:.2f}"
            )
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def med(rs: list[dict[str, float]], key: str) -> float:
        return float(statistics.median(r[key] for r in rs))

    return {
        "compression": compression,
        "level": level if compression == "zstd" else None,
        "recorder_mb_s": med(ours, "mb_s"),
        "mcap_mb_s": med(peer, "mb_s"),
        "ratio": med(ours, "mb_s") / med(peer, "mb_s"),
        "recorder_compression_ratio": med(ours, "compression_ratio"),
        "mcap_compression_ratio": med(peer, "compression_ratio"),
    }


def bench_realtime(
    w: Workload, out: Path, compression: str, level: int, max_buffer_mb: float, commit_interval_s: float = 0.5
) -> dict[str, Any]:
    """Producers push every stream at ``fps`` in real time into a background-mode writer."""
    writer = SessionWriter(
        out,
        rig={"name": "bench-realtime"},
        calibration=None,
        compression=compression,
        level=level,  # type: ignore[arg-type]
        commit_interval_s=commit_interval_s,
        max_buffer_mb=max_buffer_mb,
    )
    for spec in w.specs:
        writer.add_stream(spec)
    writer.start()
    pushed = dict.fromkeys((s.name for s in w.specs), 0)
    dropped = dict.fromkeys((s.name for s in w.specs), 0)
    late = dict.fromkeys((s.name for s in w.specs), 0)
    start = time.monotonic() + 0.1
    t0_ns = time.time_ns()

    def produce(name: str) -> None:
        for i in range(w.n_sets):
            due = start + i / w.fps
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0 / w.fps:
                late[name] += 1  # the producer itself could not keep up (CPU starved)
            pushed[name] += 1
            if not writer.write(w.frame(name, i, t0_ns)):
                dropped[name] += 1

    threads = [threading.Thread(target=produce, args=(s.name,)) for s in w.specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    produced_s = time.monotonic() - start
    t_close = time.perf_counter()
    writer.close()
    drain_s = time.perf_counter() - t_close
    stats = writer.stats()
    recorded = sum(i.count for i in Session.open(out).streams().values())
    return {
        "seconds": w.seconds,
        "producing_s": produced_s,
        "frames_pushed": sum(pushed.values()),
        "frames_recorded": recorded,
        "frames_dropped": sum(dropped.values()),
        "dropped_by_stream": dropped,
        "producer_late_frames": sum(late.values()),
        "drop_rate": sum(dropped.values()) / max(1, sum(pushed.values())),
        "max_lag_s": stats["max_lag_s"],
        "drain_at_close_s": drain_s,
        "buffer_peak_mb": stats["buffer_peak_mb"],
        "max_buffer_mb": max_buffer_mb,
        "commits": stats["commits"],
        "compression": compression,
        "level": level,
    }


# --------------------------------------------------------------------------- report
def _table(rows: list[tuple[str, ...]], header: tuple[str, ...], title: str) -> str:
    try:
        import io

        from rich.console import Console
        from rich.table import Table

        table = Table(title=title)
        for h in header:
            table.add_column(h, justify="left" if h == header[0] else "right")
        for r in rows:
            table.add_row(*r)
        buf = io.StringIO()
        Console(file=buf, width=140, color_system=None).print(table)
        return buf.getvalue()
    except ImportError:  # pragma: no cover - rich is a core dependency
        widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=False)]
        lines = [title, "  ".join(h.ljust(wd) for h, wd in zip(header, widths, strict=True))]
        lines += ["  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(lines)


def _import_sync_bench() -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _sync_bench import bench_synchronizer as fn

    return fn


bench_synchronizer = _import_sync_bench()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds of 30 fps data per run (default 3)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--level", type=int, default=3, help="zstd level for the comparison (mcap uses 3)")
    ap.add_argument("--realtime-level", type=int, default=1, help="zstd level of the real-time run (default 1)")
    ap.add_argument("--max-buffer-mb", type=float, default=512.0, help="writer buffer bound in the real-time run")
    ap.add_argument("--skip-realtime", action="store_true")
    ap.add_argument("--tmpdir", default=None, help="where to write (default: system temp dir)")
    ap.add_argument("--json-only", action="store_true", help="print only the final JSON line")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        if not args.json_only:
            print(msg, file=sys.stderr, flush=True)

    results: dict[str, Any] = {"seconds": args.seconds, "cpus": os.cpu_count()}
    t = time.perf_counter()
    workload = make_workload(args.seconds)
    results["raw_mb_per_s_of_data"] = workload.raw_bytes / MB / args.seconds
    log(
        f"workload: {len(workload.specs)} streams, {workload.n_sets} frames each, "
        f"{workload.raw_bytes / MB:.0f} MB raw (generated in {time.perf_counter() - t:.1f} s)"
    )

    with tempfile.TemporaryDirectory(prefix="sf-bench-", dir=args.tmpdir) as tmpname:
        tmp = Path(tmpname)
        # ---- recorder vs mcap -------------------------------------------------------
        rows = []
        for compression in ("zstd", "lz4"):
            rows.append(compare_writers(workload, tmp, compression, args.level, args.repeats, log))
        results["recorder"] = rows
        zstd, lz4 = rows
        results["recorder_mb_s"] = zstd["recorder_mb_s"]
        results["mcap_mb_s"] = zstd["mcap_mb_s"]
        results["ratio_recorder_vs_mcap"] = zstd["ratio"]
        results["recorder_lz4_mb_s"] = lz4["recorder_mb_s"]
        results["mcap_lz4_mb_s"] = lz4["mcap_mb_s"]
        results["ratio_recorder_vs_mcap_lz4"] = lz4["ratio"]

        # ---- real time --------------------------------------------------------------
        if not args.skip_realtime:
            results["realtime"] = []
            for compression, level in (("zstd", args.realtime_level), ("lz4", 1), ("none", 1)):
                out = tmp / f"realtime-{compression}.zarr"
                rt = bench_realtime(workload, out, compression, level, args.max_buffer_mb)
                shutil.rmtree(out, ignore_errors=True)
                log(
                    f"  realtime {compression}: dropped {rt['frames_dropped']}/{rt['frames_pushed']}, "
                    f"max lag {rt['max_lag_s']:.2f} s"
                )
                results["realtime"].append(rt)
                prefix = "realtime" if compression == "zstd" else f"realtime_{compression}"
                results[f"{prefix}_frames_dropped"] = rt["frames_dropped"]
                results[f"{prefix}_drop_rate"] = rt["drop_rate"]
                results[f"{prefix}_max_lag_s"] = rt["max_lag_s"]

        # ---- synchronizer -----------------------------------------------------------
        sync = bench_synchronizer(seconds=max(args.seconds, 20.0) * 3, repeats=args.repeats)
        results["synchronizer"] = sync
        results["sync_framesets_per_s"] = sync["sync_framesets_per_s"]
        results["sync_frames_per_s"] = sync["sync_frames_per_s"]
        log(f"  synchronizer: {sync['sync_framesets_per_s']:.0f} framesets/s, {sync['sync_frames_per_s']:.0f} frames/s")

    if not args.json_only:
        table_rows = [
            (
                f"{r['compression']}" + (f"-{r['level']}" if r["level"] else ""),
                f"{r['recorder_mb_s']:.1f}",
                f"{r['mcap_mb_s']:.1f}",
                f"{r['ratio']:.2f}",
                f"{r['recorder_compression_ratio']:.2f}",
                f"{r['mcap_compression_ratio']:.2f}",
            )
            for r in results["recorder"]
        ]
        print(
            _table(
                table_rows,
                ("codec", "recorder MB/s", "mcap MB/s", "ours/mcap", "recorder size ratio", "mcap size ratio"),
                f"write throughput, raw MB/s (median of {args.repeats}, {args.seconds:g} s of data, "
                f"{results['raw_mb_per_s_of_data']:.0f} MB/s real time)",
            )
        )
        sy = results["synchronizer"]
        print(
            _table(
                [
                    (
                        str(sy["sync_streams"]),
                        str(sy["sync_frames"]),
                        str(sy["sync_framesets"]),
                        f"{sy['sync_framesets_per_s']:.0f}",
                        f"{sy['sync_frames_per_s']:.0f}",
                        f"{sy['sync_realtime_factor']:.0f}x",
                    )
                ],
                ("streams", "frames", "framesets", "framesets/s", "frames/s", "vs real time"),
                "synchronizer: 8 streams at 10-200 Hz, host arrival order, reference 15 Hz, tolerance 20 ms (no peer: a "
                "throughput figure, not a ratio)",
            )
        )
        if "realtime" in results:
            rt_rows = [
                (
                    rt["compression"] + (f"-{rt['level']}" if rt["compression"] == "zstd" else ""),
                    str(rt["frames_pushed"]),
                    str(rt["frames_recorded"]),
                    str(rt["frames_dropped"]),
                    f"{100 * rt['drop_rate']:.1f}%",
                    f"{rt['max_lag_s']:.2f}",
                    f"{rt['drain_at_close_s']:.2f}",
                    f"{rt['buffer_peak_mb']:.0f}/{rt['max_buffer_mb']:.0f}",
                    str(rt["producer_late_frames"]),
                )
                for rt in results["realtime"]
            ]
            print(
                _table(
                    rt_rows,
                    (
                        "codec",
                        "pushed",
                        "recorded",
                        "dropped",
                        "drop rate",
                        "max lag s",
                        "close s",
                        "buffer peak/max MB",
                        "producer late",
                    ),
                    f"real time: {len(workload.specs)} streams at {FPS} fps for {args.seconds:g} s "
                    f"(background writer, commit every 0.5 s)",
                )
            )
    print(json.dumps(results, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
