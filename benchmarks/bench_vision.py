"""Vision benchmark: MediaPipe BlazePose frames/s per camera on the four real Pose2Sim videos,
and a recorded session of those videos replayed with ``--fast`` (no frame may drop).

    python benchmarks/bench_vision.py [--frames 40] [--repeats 3] [--no-replay] [--json-only]

Data: ``../shared/data/pose2sim-demo-single/trial/videos/cam0[1-4].mp4`` (1080x1920 portrait,
60 fps, 100 frames each; ``$SENSORFUSION_TEST_DATA`` overrides the data folder). The first
``--frames`` frames of every video are decoded once into memory (RGB), so decoding is not
timed. The process is pinned to at most 2 CPU cores (``os.sched_setaffinity``).

Measurements (median of ``--repeats``, ours and the peer alternating, 5 framesets of warm-up):

* ``ours``: the ``mediapipe.pose`` stage as the demo rig configures it (``detector: none``,
  tracking, one solution object per camera), one ``process`` call per frameset of 4 cameras,
  cameras run concurrently on its thread pool (2 threads).
* ``naive`` (peer, same process, same frames): the loop a user writes with MediaPipe alone:
  one ``mediapipe.solutions.pose.Pose`` per camera (tracking), called camera after camera.
  The ratio therefore measures only what batching across cameras adds (concurrency and the
  conversion to arrays); both run the same BlazePose graph.
* ``top-down`` (no peer): the stage with ``detector: blazepose`` (person detector + a static
  BlazePose per crop), the multi-person path.

Frames/s per camera = framesets (one image per camera) per second.

Replay: records the demo rig (``examples/pose2sim_demo.yaml``) with ``--fast`` into a
temporary session, replays it with ``python -m sensorfusion.run ... --replay S --fast --json``
and reads ``drops`` and the frameset counts of both runs.

The last line printed is one JSON object (``ratio_*`` = ours / peer speed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data"))
VIDEOS = DATA / "pose2sim-demo-single" / "trial" / "videos"
CAMS = ["cam01", "cam02", "cam03", "cam04"]


def load_frames(n: int) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for cam in CAMS:
        cap = cv2.VideoCapture(str(VIDEOS / f"{cam}.mp4"))
        frames = []
        while len(frames) < n:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(np.ascontiguousarray(bgr[:, :, ::-1]))
        cap.release()
        out[cam] = frames
    return out


def run_ours(frames: dict[str, list[np.ndarray]], warmup: int, **params: Any) -> float:
    from sensorfusion_mediapipe import MediaPipePose

    from sensorfusion import FieldSpec, Frame, FrameKind, FrameSet, RigCalibration, StageContext, StreamSpec
    from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

    specs = [
        StreamSpec(
            name=f"{c}/image",
            kind=FrameKind.IMAGE,
            fields={"image": FieldSpec(dtype="uint8", shape=frames[c][0].shape)},
        )
        for c in CAMS
    ]
    ctx = StageContext(
        "pose", inputs=specs, calibration=RigCalibration(), skeletons=SkeletonRegistry(builtin_skeletons())
    )
    est = MediaPipePose(MediaPipePose.Params(**params), ctx)
    n = min(len(v) for v in frames.values())
    try:
        t0 = 0.0
        for i in range(n):
            if i == warmup:
                t0 = time.perf_counter()
            fs = FrameSet(i, i, i, {f"{c}/image": Frame(f"{c}/image", i, i, i, {"image": frames[c][i]}) for c in CAMS})
            est.process(fs)
        return (n - warmup) / (time.perf_counter() - t0)
    finally:
        est.close()


def run_naive(frames: dict[str, list[np.ndarray]], warmup: int) -> float:
    import mediapipe as mp

    poses = {c: mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) for c in CAMS}
    n = min(len(v) for v in frames.values())
    try:
        t0 = 0.0
        for i in range(n):
            if i == warmup:
                t0 = time.perf_counter()
            for c in CAMS:
                res = poses[c].process(frames[c][i])
                if res.pose_landmarks is not None:
                    np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark])
        return (n - warmup) / (time.perf_counter() - t0)
    finally:
        for p in poses.values():
            p.close()


def replay_check(tmp: Path) -> dict[str, Any]:
    rig = ROOT / "examples" / "pose2sim_demo.yaml"
    session = tmp / "recorded.zarr"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    base = [sys.executable, "-m", "sensorfusion.run", str(rig), "--fast", "--json", "--quiet"]
    t = time.perf_counter()
    rec = subprocess.run([*base, "--out", str(session)], cwd=ROOT, capture_output=True, text=True, env=env, check=False)
    rec_s = time.perf_counter() - t
    if rec.returncode != 0:
        raise SystemExit(f"recording failed ({rec.returncode}):\n{rec.stderr[-3000:]}")
    t = time.perf_counter()
    rep = subprocess.run(
        [*base, "--replay", str(session), "--out", str(tmp / "replayed.zarr")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    rep_s = time.perf_counter() - t
    if rep.returncode != 0:
        raise SystemExit(f"replay failed ({rep.returncode}):\n{rep.stderr[-3000:]}")
    a = json.loads(rec.stdout.strip().splitlines()[-1])
    b = json.loads(rep.stdout.strip().splitlines()[-1])
    return {
        "record_framesets": a["framesets"], "record_drops": a["drops"], "record_wall_s": round(rec_s, 1),
        "replay_framesets": b["framesets"], "replay_drops": b["drops"], "replay_wall_s": round(rep_s, 1),
        "record_recorder_dropped": a.get("recorder", {}).get("dropped"),
        "replay_recorder_dropped": b.get("recorder", {}).get("dropped"),
        "replay_partial_framesets": b.get("partial_framesets"),
        "replay_eval": b.get("sinks", {}).get("eval", {}),
    }  # fmt: skip


def _count(drops: Any) -> int:
    """Total of a drops report (``{stream: count}`` or ``{stream: {reason: count}}``)."""
    if isinstance(drops, dict):
        return sum(_count(v) for v in drops.values())
    return int(drops or 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=40, help="frames per camera (first N of each video)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-replay", action="store_true")
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args(argv)
    if not VIDEOS.is_dir():
        print(f"reference videos not found under {VIDEOS} (set SENSORFUSION_TEST_DATA)", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))[:2]
        os.sched_setaffinity(0, set(cores))
    warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated")
    frames = load_frames(args.frames)
    warmup = 5
    ours, naive, topdown = [], [], []
    for _ in range(args.repeats):
        ours.append(run_ours(frames, warmup, detector="none", tracking=True, max_people=1, threads=2))
        naive.append(run_naive(frames, warmup))
        topdown.append(run_ours(frames, warmup, detector="blazepose", max_people=2, threads=2))
    res: dict[str, Any] = {
        "bench": "vision",
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cameras": len(CAMS),
        "frames_per_camera": min(len(v) for v in frames.values()) - warmup,
        "image_size": list(frames[CAMS[0]][0].shape[:2]),
        "mediapipe_fps_per_camera": round(statistics.median(ours), 2),
        "naive_fps_per_camera": round(statistics.median(naive), 2),
        "topdown_fps_per_camera": round(statistics.median(topdown), 2),
        "ratio_batched_vs_naive": round(statistics.median(ours) / statistics.median(naive), 3),
    }
    if not args.no_replay:
        with tempfile.TemporaryDirectory() as tmp:
            res.update(replay_check(Path(tmp)))
        res["replay_dropped_frames"] = _count(res["replay_drops"])
        res["record_dropped_frames"] = _count(res["record_drops"])
        res["replay_no_drops"] = (
            res["replay_dropped_frames"] == 0 and res["replay_framesets"] == res["record_framesets"]
        )
    if not args.json_only:
        rows = [
            (
                "mediapipe.pose (batched, 4 cams, 2 threads)",
                res["mediapipe_fps_per_camera"],
                f"{res['ratio_batched_vs_naive']:.2f}x naive",
            ),
            ("naive Pose() per camera, sequential (peer)", res["naive_fps_per_camera"], "1.00x"),
            ("mediapipe.pose top-down (blazepose detector)", res["topdown_fps_per_camera"], "no peer"),
        ]
        print(f"{'what':48s} {'fps/camera':>10s}  ratio")
        for name, fps, ratio in rows:
            print(f"{name:48s} {fps:10.2f}  {ratio}")
        if "replay_framesets" in res:
            print(
                f"record --fast: {res['record_framesets']} framesets, drops {res['record_drops'] or 0}, {res['record_wall_s']} s"
            )
            print(
                f"replay --fast: {res['replay_framesets']} framesets, drops {res['replay_drops'] or 0}, {res['replay_wall_s']} s"
            )
            print(f"recorder dropped: record {res['record_recorder_dropped']}, replay {res['replay_recorder_dropped']}")
    print(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
