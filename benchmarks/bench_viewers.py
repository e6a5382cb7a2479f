"""Viewers (``plugins/rerun``): exporting a recorded session to Rerun (``.rrd``) and to MCAP with
Foxglove's schemas, and the cost of the ``rerun`` sink per frameset.

The session: the demo room (``examples/sim_rig.yaml``: 4 cameras at 640x480 / 30 fps, 3
people, the simulated detector and multi-person fusion) recorded for ``--seconds`` with
``--fast``. Measured in this process:

* ``write_rrd`` and ``write_mcap`` with JPEG images (quality 75) and with raw pixels: frames per
  second and file size (the session's own size for reference);
* the sink: ``RerunSink.write`` per frameset, over the session's framesets (images, 2D
  keypoints, 3D skeletons), saving an ``.rrd``;
* JPEG encoding of one camera frame: Pillow (what the plugin uses) against the peer
  ``rerun.Image.compress`` on the same frames.

A table, then one JSON line: ``ratio_jpeg_pillow_vs_rerun_compress`` = rerun.Image.compress time
/ Pillow time (> 1: Pillow faster), the export rates, sizes and the sink's ms per frameset.

Usage: ``python benchmarks/bench_viewers.py [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of the recorded session")
    args = ap.parse_args(argv)

    import numpy as np
    import rerun as rr
    from sensorfusion_rerun import RerunSink, RerunSinkParams, write_mcap, write_rrd
    from sensorfusion_rerun._scene import jpeg_bytes

    from sensorfusion import FrameSet, StageContext
    from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
    from sensorfusion.store import Session

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        session_path = d / "room.zarr"
        subprocess.run(
            [sys.executable, "-m", "sensorfusion.run", str(ROOT / "examples" / "sim_rig.yaml"), "--fast",
             "--duration", str(args.seconds), "--out", str(session_path), "--quiet"],
            check=True,
        )  # fmt: skip
        session = Session.open(session_path)
        rows = []
        out: dict[str, object] = {"session_mb": round(_size_mb(session_path), 2)}
        for fmt, fn, quality in (
            ("rrd", write_rrd, 75),
            ("rrd", write_rrd, None),
            ("mcap", write_mcap, 75),
            ("mcap", write_mcap, None),
        ):
            path = d / f"out_{quality}.{fmt}"
            t0 = time.perf_counter()
            result = fn(session, path, jpeg_quality=quality)
            dt = time.perf_counter() - t0
            label = f"{fmt} {'jpeg75' if quality else 'raw'}"
            rows.append((label, result.frames, dt, result.frames / dt, _size_mb(path)))
            key = f"{fmt}_{'jpeg' if quality else 'raw'}"
            out[f"{key}_frames_per_s"] = round(result.frames / dt, 1)
            out[f"{key}_mb"] = round(_size_mb(path), 2)

        # the sink over the session's framesets
        infos = {**session.streams(), **session.estimates()}
        by_t: dict[int, dict[str, object]] = {}
        for key in infos:
            for f in session.read(key):
                by_t.setdefault(f.t_sensor_ns, {})[f.stream] = f
        sets = [FrameSet(i, t, t, frames) for i, (t, frames) in enumerate(sorted(by_t.items()))]  # type: ignore[arg-type]
        specs = list({i.spec.name: i.spec for i in infos.values()}.values())
        ctx = StageContext("viewer", specs, session.calibration, SkeletonRegistry(builtin_skeletons()))
        sink = RerunSink(RerunSinkParams(save=str(d / "sink.rrd")), ctx)
        sink.warmup()
        t0 = time.perf_counter()
        for fs in sets:
            sink.write(fs)
        sink_ms = (time.perf_counter() - t0) / max(1, len(sets)) * 1e3
        sink.close()
        out["sink_ms_per_frameset"] = round(sink_ms, 2)

        # JPEG: Pillow against rerun.Image.compress, the same frames
        images = [np.asarray(f.data["image"]) for f in session.read("cam0/image", stop=20)]
        jpeg_bytes(images[0], 75)  # both warmed up once (imports, first-call setup)
        rr.Image(images[0], color_model="RGB").compress(jpeg_quality=75)
        t0 = time.perf_counter()
        for im in images:
            jpeg_bytes(im, 75)
        pil_ms = (time.perf_counter() - t0) / len(images) * 1e3
        t0 = time.perf_counter()
        for im in images:
            rr.Image(im, color_model="RGB").compress(jpeg_quality=75)
        rr_ms = (time.perf_counter() - t0) / len(images) * 1e3
        out["jpeg_pillow_ms"] = round(pil_ms, 2)
        out["jpeg_rerun_compress_ms"] = round(rr_ms, 2)
        out["ratio_jpeg_pillow_vs_rerun_compress"] = round(rr_ms / pil_ms, 2)
        out["framesets"] = len(sets)
        out["cpus"] = os.cpu_count()

    print(f"session: {args.seconds:g} s of the demo room, {out['session_mb']} MB, {out['framesets']} framesets")
    print(f"{'export':14s} {'frames':>7s} {'s':>7s} {'frames/s':>9s} {'MB':>7s}")
    for label, frames, dt, rate, mb in rows:
        print(f"{label:14s} {frames:7d} {dt:7.2f} {rate:9.0f} {mb:7.1f}")
    print(f"sink: {sink_ms:.1f} ms per frameset (4 JPEG images, keypoints, skeletons)")
    print(f"JPEG 640x480: Pillow {pil_ms:.2f} ms, rerun.Image.compress {rr_ms:.2f} ms ({rr_ms / pil_ms:.1f}x)")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
