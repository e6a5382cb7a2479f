"""Multi-person tracking: id switches and fragmentations per person-minute, before / after.

    .venv/bin/python benchmarks/eval_tracking.py             # 30 s per scene (about 3 min of one core)
    .venv/bin/python benchmarks/eval_tracking.py --seconds 60   # the figures in benchmarks/README.md
    .venv/bin/python benchmarks/eval_tracking.py --quick     # 10 s per scene, for a smoke run
    .venv/bin/python benchmarks/eval_tracking.py --before none   # the current tracker only

Accuracy, not speed. Prints a table and then ONE JSON line.

**Scenes** (``sim.rig`` ``scene:``, four 640x480 cameras in the corners of a 6 m x 6 m room,
deterministic from ``--seed``): ``bystander`` (two walkers and a static bystander seen by
exactly two cameras, whose arm joints keep reappearing), ``dropout`` (three people; limbs hidden
from every camera for 0.3-2 s, returning far off), ``reentry`` (two people leaving the room for
2-6 s and coming back through a door), ``crossing`` (two people passing 0.5 m apart, centre to
centre, at changing angles). ``sim.keypoints2d`` detects them with its default error model and
**no identities** (its oracle ids are used only for scoring); every frame goes through
``PersonFusion`` (association, robust triangulation, tracking, One-Euro filter) with the
``multiperson`` estimator's defaults (``birth_hits`` 2), numpy tier.

**Before / after.** *after* is this checkout. *before* is the fusion package of ``--before REV``
(default: the commit this work started from, the tracker as on ``main`` then), extracted with
``git archive`` into a temporary folder and imported as a separate package, fed the very same
view models and detections. Its back-fill does not exist: its tracks start at confirmation.

**Definitions** (CLEAR-MOT, Bernardin & Stiefelhagen 2008; fragmentation as in Li et al. 2009
and the MOT16 benchmark):

* A ground-truth person is *trackable* in a frame when the detector reported them in at least
  two views with at least 5 joints above the confidence threshold each; other frames of that
  person are "don't care" (neither a miss nor, when a track lies on them, a false positive).
* Per frame, ground truth and reported tracks are paired by the mean distance over their shared
  joints, below 0.5 m: a pair from the previous frame is kept while it stays below the
  threshold, the others are paired by the Hungarian method.
* **ID switch**: a trackable person is paired with a different track id than the last id they
  were paired with (at any earlier frame).
* **Fragmentation**: a person's pairing is interrupted — paired, then unpaired in one or more
  trackable frames, then paired again (counted at the resumption).
* **Per person-minute**: divided by the trackable person-frames / (fps x 60).
* **First frames**: of the starts of trackable stretches (a person's first trackable frame, and
  the first after 10 or more frames away or untrackable), the share already paired in that frame
  (tracks reported from their first frame, back-fill included).
* MOTA = 1 - (misses + false positives + id switches) / trackable person-frames; *ids/person*:
  distinct track ids paired with each person (1 is perfect).

**MPJPE** (mm, matched by nearest mean joint within 0.5 m, as ``metrics.mpjpe``) before / after:
on the demo rig (``examples/sim_rig.yaml``: seed 7, three people, 10 s, ``birth_hits`` 1), on
CMU Panoptic ``160906_band1`` (its real 3D people projected into the 31 HD cameras with the noise
of ``tests/test_fusion_panoptic.py``), and on Pose2Sim's real demo ``trial/pose`` (OpenPose,
every detection including other people; the participant's track against Pose2Sim's own TRC, the
21 markers), where *first frame* says whether the participant is reported in frame 1.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from sensorfusion import DriverContext, FieldSpec, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.fusion import FusionSettings, PersonFusion
from sensorfusion.fusion._cameras import ViewModel, view_model
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data"))
BEFORE_REV = "1491f56b140f449b47cfcc9b7f5b69a5fb29b0d9"  # main when this work started
SCENES = ("bystander", "dropout", "reentry", "crossing")
SCENE_PEOPLE = {"bystander": 2, "dropout": 3, "reentry": 2, "crossing": 2}
MATCH_M = 0.5
GAP_FRAMES = 10
COCO17 = next(s for s in builtin_skeletons() if s.name == "coco17")


# -- the fusion under test ----------------------------------------------------------------


@dataclass
class Version:
    """One fusion implementation: ``make(views, parents, settings_kwargs) -> fusion``."""

    name: str
    make: Callable[[Sequence[ViewModel], Sequence[int], dict[str, Any]], Any]


def after_version() -> Version:
    def make(views: Sequence[ViewModel], parents: Sequence[int], kw: dict[str, Any]) -> Any:
        return PersonFusion(views, parents, FusionSettings(**kw))

    return Version("after", make)


def before_version(rev: str) -> Version:
    """The fusion package of ``rev``, imported as ``sensorfusion_before`` from a scratch copy."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "sensorfusion"], capture_output=True, check=True)
    tmp = Path(tempfile.mkdtemp(prefix="sf_before_"))
    with tarfile.open(fileobj=io.BytesIO(data.stdout)) as tar:
        tar.extractall(tmp, filter="data")
    (tmp / "sensorfusion").rename(tmp / "sensorfusion_before")
    sys.path.insert(0, str(tmp))
    pipeline = importlib.import_module("sensorfusion_before.fusion._pipeline")
    fields = set(pipeline.FusionSettings.__dataclass_fields__)

    def make(views: Sequence[ViewModel], parents: Sequence[int], kw: dict[str, Any]) -> Any:
        return pipeline.PersonFusion(
            views, parents, pipeline.FusionSettings(**{k: v for k, v in kw.items() if k in fields})
        )

    return Version("before", make)


def run_fusion(fusion: Any, frames: Sequence[tuple[float, list[np.ndarray]]]) -> list[dict[int, np.ndarray]]:
    """``[{track id: joints (J, 3)}]`` per frame, back-filled frames put back where they belong."""
    out: list[dict[int, np.ndarray]] = [{} for _ in frames]
    for i, (t_s, dets) in enumerate(frames):
        r = fusion.step(t_s, dets)
        for fr in (*getattr(r, "backfill", ()), r):
            idx = i if fr is r else int(fr.stamp)
            for k, tid in enumerate(fr.track_id.tolist()):
                out[idx][int(tid)] = np.asarray(fr.joints[k], dtype=np.float64)
    return out


# -- simulated scenes -----------------------------------------------------------------------


@dataclass
class Scene:
    name: str
    views: list[ViewModel]
    frames: list[tuple[float, list[np.ndarray]]]  # (t_s, per-view detections without ids)
    gt: list[dict[int, np.ndarray]]  # per frame: person id -> joints (17, 3)
    trackable: list[set[int]]
    fps: float
    extra: dict[str, Any] = field(default_factory=dict)


def simulate(
    name: str, scene: dict[str, Any] | None, people: int, seconds: float, seed: int, crossing: bool = True
) -> Scene:
    from sensorfusion_sim import SimKeypointDetector, SimRigDriver

    fps = 30.0
    params: dict[str, Any] = {"render": False, "people": people, "crossing": crossing}
    if scene is not None:
        params["scene"] = scene
    drv = SimRigDriver(SimRigDriver.Params.model_validate(params), DriverContext("sim", seed=seed, realtime=False))
    cal = drv.calibration()
    cams = drv.camera_ids
    specs = [
        StreamSpec(name=f"{c}/image", kind=FrameKind.IMAGE, fields={"image": FieldSpec(dtype="uint8", shape=(1, 1, 3))})
        for c in cams
    ]
    gt_spec = next(s for s in drv.streams() if s.name == "gt/skeleton3d")
    ctx = StageContext("detector", [*specs, gt_spec], cal, SkeletonRegistry(builtin_skeletons()), seed=seed)
    det = SimKeypointDetector(SimKeypointDetector.Params.model_validate({"identities": True}), ctx)
    views = [view_model(cal.camera(c), cal.sensors[c].world_from_sensor) for c in cams]
    shuffle = np.random.default_rng(seed)
    frames, gts, trackable = [], [], []
    tiny = np.zeros((1, 1, 3), dtype=np.uint8)
    for i in range(round(seconds * fps)):
        fr = {f.stream: f for f in drv.frames_at(i)}
        g = fr["gt/skeleton3d"]
        fs = FrameSet(i, g.t_sensor_ns, g.t_host_ns, {"gt/skeleton3d": g})
        for c in cams:
            fs.frames[f"{c}/image"] = Frame(f"{c}/image", g.t_sensor_ns, g.t_host_ns, i, {"image": tiny})
        out = det.process(fs)
        seen: dict[int, int] = {}
        dets = []
        for c in cams:
            kp = np.asarray(out[f"{c}/keypoints2d"]["keypoints"])
            pid = np.asarray(out[f"{c}/keypoints2d"]["person_id"])
            for k, p in enumerate(pid.tolist()):
                if int((kp[k, :, 2] > 0.3).sum()) >= 5:
                    seen[p] = seen.get(p, 0) + 1
            dets.append(kp[shuffle.permutation(len(kp))])
        frames.append((g.t_sensor_ns * 1e-9, dets))
        gts.append({int(p): np.asarray(j, dtype=np.float64) for p, j in zip(g["person_id"], g["joints"], strict=True)})
        trackable.append({p for p, n in seen.items() if n >= 2})
    return Scene(name, views, frames, gts, trackable, fps)


# -- scoring --------------------------------------------------------------------------------


def _dist(a: np.ndarray, b: np.ndarray) -> float:
    d = np.linalg.norm(a - b, axis=-1)
    d = d[np.isfinite(d)]
    return float(d.mean()) if d.size else math.inf


def score(scene: Scene, tracks: list[dict[int, np.ndarray]]) -> dict[str, Any]:
    """CLEAR-MOT counts (see the module docstring)."""
    last_pair: dict[int, int] = {}  # gt -> id of the previous frame (for keeping pairs)
    last_id: dict[int, int] = {}  # gt -> last id ever paired
    was_tracked: dict[int, bool] = {}  # gt -> paired in its previous trackable frame
    ever: set[int] = set()
    ids_of: dict[int, set[int]] = {}
    last_trackable: dict[int, int] = {}
    idsw = frag = misses = fps = n_gt = starts = starts_ok = 0
    for i, (gt, trk, out) in enumerate(zip(scene.gt, scene.trackable, tracks, strict=True)):
        pairs: dict[int, int] = {}
        used: set[int] = set()
        for g, tid in last_pair.items():
            if g in gt and tid in out and _dist(gt[g], out[tid]) < MATCH_M:
                pairs[g] = tid
                used.add(tid)
        gl = [g for g in gt if g not in pairs]
        tl = [t for t in out if t not in used]
        if gl and tl:
            c = np.array([[_dist(gt[g], out[t]) for t in tl] for g in gl])
            c = np.where(np.isfinite(c), c, 1e9)
            for r, k in zip(*linear_sum_assignment(c), strict=True):
                if c[r, k] < MATCH_M:
                    pairs[gl[r]] = tl[k]
        last_pair = dict(pairs)
        # a track paired with a present but untrackable person is "don't care", not a false positive
        fps += sum(1 for t in out if t not in pairs.values())
        for g in gt:
            if g not in trk:
                continue
            n_gt += 1
            gap = i - last_trackable.get(g, -(10**9))
            if gap > GAP_FRAMES:
                starts += 1
                starts_ok += g in pairs
            last_trackable[g] = i
            if g in pairs:
                tid = pairs[g]
                if g in last_id and last_id[g] != tid:
                    idsw += 1
                if g in ever and not was_tracked.get(g, True):
                    frag += 1
                last_id[g] = tid
                ever.add(g)
                was_tracked[g] = True
                ids_of.setdefault(g, set()).add(tid)
            else:
                misses += 1
                was_tracked[g] = False
    minutes = n_gt / scene.fps / 60.0
    return {
        "person_minutes": round(minutes, 3),
        "id_switches": idsw,
        "fragmentations": frag,
        "idsw_per_min": round(idsw / minutes, 3) if minutes else None,
        "frag_per_min": round(frag / minutes, 3) if minutes else None,
        "mota": round(1.0 - (misses + fps + idsw) / n_gt, 4) if n_gt else None,
        "misses": misses,
        "false_positives": fps,
        "ids_per_person": round(float(np.mean([len(v) for v in ids_of.values()])), 2) if ids_of else None,
        "first_frames_pct": round(100.0 * starts_ok / starts, 1) if starts else None,
        "track_starts": starts,
    }


def mpjpe_mm(gts: Sequence[dict[int, np.ndarray]], tracks: Sequence[dict[int, np.ndarray]]) -> float:
    """Mean per-joint error (mm) of people paired by nearest mean joint within 0.5 m (as metrics.mpjpe)."""
    errs = []
    for gt, out in zip(gts, tracks, strict=True):
        if not gt or not out:
            continue
        g = list(gt.values())
        o = list(out.values())
        c = np.array([[_dist(a, b) for b in o] for a in g])
        c = np.where(np.isfinite(c), c, 1e9)
        for r, k in zip(*linear_sum_assignment(c), strict=True):
            if c[r, k] <= MATCH_M:
                e = np.linalg.norm(g[r] - o[k], axis=-1)
                errs.append(e[np.isfinite(e)])
    return round(float(np.concatenate(errs).mean()) * 1e3, 2) if errs else math.nan


# -- real data ------------------------------------------------------------------------------


def panoptic(versions: list[Version]) -> dict[str, Any] | None:
    """CMU Panoptic 160906_band1: its 3D people projected into the 31 HD cameras (noise, misses,
    outliers, swaps, false detections as in tests/test_fusion_panoptic.py), 40 frames."""
    root = DATA / "multiview" / "panoptic" / "160906_band1"
    if not root.exists():
        return None
    from sensorfusion import load_calibration
    from sensorfusion.geometry import project_pinhole

    cal = load_calibration(root / "calibration_160906_band1.json")
    hd = sorted(s for s in cal.sensors if s.startswith("00_"))
    cams = [cal.camera(s) for s in hd]
    poses = [cal.sensors[s].world_from_sensor for s in hd]
    views = [view_model(c, p) for c, p in zip(cams, poses, strict=True)]
    people = []
    for f in sorted((root / "hdPose3d_stage1_coco19").glob("*.json")):
        bodies = sorted(json.loads(f.read_text())["bodies"], key=lambda b: b["id"])
        frame = []
        for b in bodies:
            j = np.asarray(b["joints19"], dtype=np.float64).reshape(19, 4)
            X = j[:, :3] / 100.0
            X[j[:, 3] < 0.1] = np.nan
            frame.append(X)
        people.append(np.stack(frame))
    a, b = people
    flip = np.array([0, 1, 2, 9, 10, 11, 12, 13, 14, 3, 4, 5, 6, 7, 8, 17, 18, 15, 16])
    T = 40
    w = np.abs(((np.arange(T) / 10.0) % 2) - 1.0)
    seq = [(1 - x) * a + x * b for x in w]
    rng = np.random.default_rng(11)
    frames = []
    for t, X in enumerate(seq):
        dets = []
        for c, p in zip(cams, poses, strict=True):
            uv, depth = project_pinhole(X, c, p)
            inside = (
                (uv[..., 0] >= 0) & (uv[..., 0] < c.width) & (uv[..., 1] >= 0) & (uv[..., 1] < c.height) & (depth > 0)
            )
            uv = uv + rng.normal(0, 2.0, uv.shape)
            conf = rng.uniform(0.6, 1.0, uv.shape[:-1])
            miss = ~inside | ~np.isfinite(uv).all(-1) | (rng.random(conf.shape) < 0.05)
            out = rng.random(conf.shape) < 0.01
            uv[out] += rng.uniform(40, 120, (int(out.sum()), 2))
            uv[miss] = np.nan
            conf[miss] = 0.0
            ppl = []
            for k in range(len(X)):
                if inside[k].mean() < 0.5 or rng.random() < 0.05:
                    continue
                d = np.concatenate([uv[k], conf[k, :, None]], -1)
                if rng.random() < 0.03:
                    d = d[flip]
                ppl.append(d)
            if ppl and rng.random() < 0.3:
                ghost = ppl[0].copy()
                ghost[:, :2] += rng.uniform(150, 400, 2) * rng.choice([-1, 1], 2)
                ppl.append(ghost)
            order = rng.permutation(len(ppl))
            dets.append(np.stack([ppl[i] for i in order]) if ppl else np.zeros((0, 19, 3)))
        frames.append((t / 30.0, dets))
    gts = [{k: X[k] for k in range(len(X))} for X in seq]
    res: dict[str, Any] = {}
    for v in versions:
        kw = {"multiperson": True, "filter": "none", "threshold_px": 10.0, "min_joints": 5, "tier": "numpy"}
        tracks = run_fusion(v.make(views, [-1] * 19, kw), frames)
        ids = sorted({t for o in tracks for t in o})
        res[v.name] = {
            "mpjpe_mm": mpjpe_mm(gts, tracks),
            "tracks": len(ids),
            "frames_with_3_people": sum(len(o) == 3 for o in tracks),
            "of_frames": T,
        }
    return res


def _read_openpose(folder: Path, J: int) -> dict[int, np.ndarray]:
    out = {}
    for k, f in enumerate(sorted(folder.glob("*.json"))):
        people = []
        for p in json.loads(f.read_text()).get("people", []):
            a = np.asarray(p.get("pose_keypoints_2d") or [], dtype=np.float64)
            if a.size != 3 * J:
                continue
            a = a.reshape(J, 3)
            a[a[:, 2] <= 0, :2] = np.nan
            people.append(a)
        out[k] = np.stack(people) if people else np.zeros((0, J, 3))
    return out


def pose2sim(versions: list[Version]) -> dict[str, Any] | None:
    """Pose2Sim's demo, every OpenPose detection (``trial/pose``), 100 frames at 60 fps."""
    root = DATA / "pose2sim-demo-single"
    if not root.exists():
        return None
    from sensorfusion import load_calibration

    cal = load_calibration(root / "calibration" / "Calib_qualisys.toml")
    skel = next(s for s in builtin_skeletons() if s.name == "body_25b")
    names = [f"cam0{i}" for i in range(1, 5)]
    norm = {k.lower().replace("_", ""): k for k in cal.sensors}
    sensors = [n if n in cal.sensors else norm[n] for n in names]
    views = [view_model(cal.camera(s), cal.sensors[s].world_from_sensor) for s in sensors]
    per_view = [_read_openpose(root / "trial" / "pose" / f"{n}_json", skel.num_joints) for n in names]
    T = max(len(p) for p in per_view)
    frames = [(f / 60.0, [pv.get(f, np.zeros((0, skel.num_joints, 3))) for pv in per_view]) for f in range(T)]
    # Pose2Sim's TRC (X, Y, Z = world Y, Z, X); its 21 markers are body_25b joints
    from sensorfusion._builtin.triangulate_cmd import POSE2SIM_BODY25B_MARKERS

    idx = [skel.index(j) for _, j in POSE2SIM_BODY25B_MARKERS]
    trc = sorted((root / "trial" / "pose-3d").glob("*.trc"))
    raw = next(p for p in trc if "filt" not in p.name.lower())
    lines = raw.read_text().splitlines()
    rows = [[float(x) if x else np.nan for x in ln.split("\t")] for ln in lines[5:] if ln.strip()]
    ref = np.asarray(rows)[:, 2:].reshape(len(rows), -1, 3)[..., [2, 0, 1]]  # back to world X, Y, Z
    res: dict[str, Any] = {}
    for v in versions:
        kw = {
            "multiperson": True,
            "robust": True,
            "threshold_px": 15.0,
            "refine_iters": 2,
            "filter": "none",
            "tier": "numpy",
        }
        tracks = run_fusion(v.make(views, skel.parents, kw), frames)
        ids = sorted({t for o in tracks for t in o})

        def err(tid: int, tracks: list[dict[int, np.ndarray]] = tracks) -> np.ndarray:
            e = [np.linalg.norm(o[tid][idx] - ref[f], axis=-1) for f, o in enumerate(tracks[: len(ref)]) if tid in o]
            return np.concatenate(e) if e else np.full(1, np.inf)

        best = min(ids, key=lambda t: float(np.nanmedian(err(t))))
        e = err(best)
        e = e[np.isfinite(e)]
        res[v.name] = {
            "mpjpe_mm": round(float(e.mean()) * 1e3, 2),
            "median_mm": round(float(np.median(e)) * 1e3, 2),
            "tracks": len(ids),
            "participant_frames": sum(best in o for o in tracks),
            "of_frames": T,
            "first_frame": best in tracks[0],
        }
    return res


# -- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 s per scene instead of 30")
    ap.add_argument("--seconds", type=float, default=None, help="seconds per scene")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scenes", default=",".join(SCENES), help="comma-separated subset of " + ", ".join(SCENES))
    ap.add_argument("--before", default=BEFORE_REV, help="git revision to compare with ('none': skip)")
    args = ap.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 30.0)
    versions = [after_version()]
    if args.before != "none":
        try:
            versions.insert(0, before_version(args.before))
        except (subprocess.CalledProcessError, FileNotFoundError) as e:
            print(f"before ({args.before}) not available: {e}; measuring the current tracker only", file=sys.stderr)
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console(stderr=True, width=max(150, shutil.get_terminal_size().columns))
    settings = {"multiperson": True, "tier": "numpy"}  # everything else: the multiperson defaults
    results: dict[str, Any] = {"seconds_per_scene": seconds, "seed": args.seed, "before_rev": args.before}
    scenes = [s for s in args.scenes.split(",") if s]
    t_start = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("scenes", total=len(scenes) * (1 + len(versions)) + 2)
        for name in scenes:
            sc = simulate(name, {"kind": name}, SCENE_PEOPLE[name], seconds, args.seed)
            bar.advance(task)
            results[name] = {}
            for v in versions:
                tracks = run_fusion(v.make(sc.views, COCO17.parents, settings), sc.frames)
                results[name][v.name] = score(sc, tracks) | {"mpjpe_mm": mpjpe_mm(sc.gt, tracks)}
                bar.advance(task)
        demo = simulate("demo", None, 3, 10.0, 7)
        results["demo_rig"] = {}
        for v in versions:
            kw = {"multiperson": True, "min_confidence": 0.3, "birth_hits": 1, "tier": "numpy"}
            results["demo_rig"][v.name] = {
                "mpjpe_mm": mpjpe_mm(demo.gt, run_fusion(v.make(demo.views, COCO17.parents, kw), demo.frames))
            }
        bar.advance(task)
        results["panoptic"] = panoptic(versions)
        results["pose2sim_demo"] = pose2sim(versions)
        bar.advance(task)
    results["wall_s"] = round(time.perf_counter() - t_start, 1)

    table = Table(title=f"tracking on simulated scenes ({seconds:g} s each, seed {args.seed}; per person-minute)")
    for col in (
        "scene",
        "version",
        "person-min",
        "IDSW/min",
        "Frag/min",
        "IDSW",
        "Frag",
        "ids/person",
        "MOTA",
        "first frames %",
        "MPJPE mm",
    ):
        table.add_column(col, justify="left" if col in ("scene", "version") else "right")
    for name in scenes:
        for v in versions:
            r = results[name][v.name]
            table.add_row(
                name, v.name, f"{r['person_minutes']:.2f}", f"{r['idsw_per_min']:.2f}", f"{r['frag_per_min']:.2f}",
                str(r["id_switches"]), str(r["fragmentations"]), f"{r['ids_per_person']:.2f}", f"{r['mota']:.3f}",
                f"{r['first_frames_pct']:.1f}", f"{r['mpjpe_mm']:.1f}",
            )  # fmt: skip
    console.print(table)
    t2 = Table(title="MPJPE (mm) before / after")
    for col in ("data", "version", "MPJPE mm", "notes"):
        t2.add_column(col)
    for v in versions:
        t2.add_row("demo rig (examples/sim_rig.yaml)", v.name, f"{results['demo_rig'][v.name]['mpjpe_mm']:.2f}", "")
    for key, label in (("panoptic", "CMU Panoptic band1 (31 HD views)"), ("pose2sim_demo", "Pose2Sim demo trial/pose")):
        r = results[key]
        if r is None:
            t2.add_row(label, "-", "-", "data not found: skipped")
            continue
        for v in versions:
            x = r[v.name]
            note = ", ".join(f"{k}={val}" for k, val in x.items() if k != "mpjpe_mm")
            t2.add_row(label, v.name, f"{x['mpjpe_mm']:.2f}", note)
    console.print(t2)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
