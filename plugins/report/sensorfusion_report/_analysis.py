"""What a report shows, computed from a recorded session (numbers only; the figures are drawn
from these in :mod:`sensorfusion_report._figures`).

Every analysis reads the session through the public :class:`sensorfusion.store.Session` API and
returns ``None`` with a one-line reason (:class:`Skipped`) when it does not apply.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sensorfusion import ConfigError, FrameKind, SessionDamagedError, SkeletonSpec, StoreError
from sensorfusion.store import Session, StreamInfo

__all__ = [
    "BoneStability",
    "CameraReprojection",
    "Mpjpe",
    "PersonBones",
    "ReportData",
    "RunSummary",
    "Skipped",
    "StreamRate",
    "Trajectories",
    "Trajectory",
    "analyse_session",
    "pick_skeleton_stream",
]

_NS = 1_000_000_000


@dataclass(frozen=True)
class Skipped:
    """A section that does not apply to this session, and why (one line)."""

    reason: str


@dataclass
class RunSummary:
    """The run as the session stored it (``summary`` when it finished, else the last ``stats``)."""

    path: str
    rig_name: str | None
    created: str | None
    finished: bool
    interrupted: bool
    error: str | None
    duration_s: float
    framesets: int | None
    partial_framesets: int | None
    wall_s: float | None
    drops: dict[str, dict[str, int]]
    drops_total: int
    errors_total: int
    events: list[dict[str, Any]]
    event_counts: dict[str, int]
    sinks: dict[str, dict[str, Any]]
    software: dict[str, str]
    committed_frames: int


@dataclass
class StreamRate:
    """One stream's frame rate and lost frames over sensor time.

    ``t_s``: seconds since the session's first frame, per frame; ``rate_hz``: frames per second
    over the window before each frame; ``missing_cum``: frames lost so far according to ``seq``.
    """

    key: str
    kind: str
    stage: str | None
    count: int
    t_s: np.ndarray
    rate_hz: np.ndarray
    missing_cum: np.ndarray
    mean_rate_hz: float | None
    nominal_hz: float | None
    drops: dict[str, int]


@dataclass
class CameraReprojection:
    """3D skeletons projected into one camera against its 2D keypoints (pixels)."""

    camera: str
    keypoints: str
    errors_px: np.ndarray
    frame_t_s: np.ndarray
    frame_median_px: np.ndarray
    matched_person_frames: int
    unmatched_person_frames: int


@dataclass
class Trajectory:
    person_id: int
    t_s: np.ndarray
    floor_m: np.ndarray  # (T, 2) in the floor axes

    @property
    def path_length_m(self) -> float:
        if len(self.floor_m) < 2:
            return 0.0
        step = np.linalg.norm(np.diff(self.floor_m, axis=0), axis=1)
        return float(np.nansum(step))


@dataclass
class Trajectories:
    floor_axes: str  # "xy", "xz" or "yz"
    people: list[Trajectory]
    ground_truth: list[Trajectory]
    cameras: dict[str, tuple[np.ndarray, np.ndarray]]  # id -> (floor position, floor viewing direction)
    volume: dict[str, Any] | None  # {"shape": ..., "polygon": (N, 2)} or coverage grid
    volume_note: str
    source: str = ""  # the stream the paths come from


@dataclass
class PersonBones:
    person_id: int
    frames: int
    lengths_m: np.ndarray  # (T, E), NaN where a joint is missing
    truth_m: np.ndarray | None = None  # (E,) the paired ground-truth person's median lengths
    truth_id: int | None = None


@dataclass
class BoneStability:
    skeleton: str
    bones: list[str]
    people: list[PersonBones]


@dataclass
class Mpjpe:
    ground_truth: str
    estimate: str
    t_s: np.ndarray  # per scored frame
    frame_mm: np.ndarray  # mean over matched people and joints
    person_t_s: dict[int, np.ndarray]
    person_mm: dict[int, np.ndarray]
    joint_names: list[str]
    joint_mm: np.ndarray  # mean per joint
    errors_mm: np.ndarray  # every joint error
    matched_person_frames: int
    missed_person_frames: int
    extra_person_frames: int
    pairs: dict[int, int] = field(default_factory=dict)  # estimated id -> ground-truth id paired most often


@dataclass
class ReportData:
    """Everything a report shows; a section is its result or :class:`Skipped`."""

    summary: RunSummary
    skeleton_stream: str | None
    streams: list[StreamRate] | Skipped
    reprojection: list[CameraReprojection] | Skipped
    trajectories: Trajectories | Skipped
    bones: BoneStability | Skipped
    mpjpe: Mpjpe | Skipped
    notes: list[str] = field(default_factory=list)  # one line each, under the summary


# --------------------------------------------------------------------------- helpers
def _skeleton_frames(session: Session, key: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(t_sensor_ns, joints (P, J, 3) float64, person_id (P,))`` of every frame of a 3D stream."""
    out = []
    for f in session.read(key):
        joints = np.asarray(f["joints"], dtype=np.float64)
        ids = np.asarray(f["person_id"], dtype=np.int64) if "person_id" in f.data else np.arange(len(joints))
        out.append((int(f.t_sensor_ns), joints, ids))
    return out


def _nearest(times: np.ndarray, t: int, tol_ns: int) -> int | None:
    """Index of the entry of sorted ``times`` nearest to ``t`` when within ``tol_ns``."""
    if len(times) == 0:
        return None
    i = int(np.searchsorted(times, t))
    best: int | None = None
    for j in (i - 1, i):
        if (
            0 <= j < len(times)
            and abs(int(times[j]) - t) <= tol_ns
            and (best is None or abs(int(times[j]) - t) < abs(int(times[best]) - t))
        ):
            best = j
    return best


def _half_period_ns(times: np.ndarray) -> int:
    if len(times) < 2:
        return 50_000_000
    dt = np.diff(times)
    dt = dt[dt > 0]
    return int(np.median(dt) / 2) if len(dt) else 50_000_000


def _skeleton_spec(name: str | None) -> SkeletonSpec | None:
    if not name:
        return None
    from sensorfusion.plugins import get_plugin_host

    registry = get_plugin_host().skeletons
    return registry.get(name) if name in registry else None


def _shared(a: SkeletonSpec, b: SkeletonSpec) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(i, b.joints.index(j)) for i, j in enumerate(a.joints) if j in b.joints]
    return np.array([p for p, _ in pairs], dtype=np.int64), np.array([q for _, q in pairs], dtype=np.int64)


def _reference_points(joints: np.ndarray) -> np.ndarray:
    """``(P, 3)``: per-axis median of each person's finite joints (NaN for a person with none)."""
    out = np.full((len(joints), 3), np.nan)
    for p, person in enumerate(joints):
        ok = np.isfinite(person).all(axis=-1)
        if ok.any():
            out[p] = np.median(person[ok], axis=0)
    return out


# --------------------------------------------------------------------------- the choice of streams
def _skeleton_streams(session: Session) -> tuple[list[str], list[str]]:
    """(estimated 3D streams, ground-truth 3D streams) by key; backfill streams are left out."""
    estimates: list[str] = []
    truths: list[str] = []
    for key, info in {**session.streams(), **session.estimates()}.items():
        if info.spec.kind != FrameKind.SKELETON3D or "backfill_of" in info.spec.attrs:
            continue
        is_truth = bool(info.spec.attrs.get("ground_truth")) or (info.stage is None and info.name.startswith("gt/"))
        (truths if is_truth else estimates).append(key)
    return sorted(estimates, key=lambda k: (":" not in k, k)), sorted(truths)


def pick_skeleton_stream(session: Session, wanted: str | None) -> tuple[str | None, str | None]:
    """The 3D stream the report is about (``wanted`` or the first estimate) and the ground truth."""
    estimates, truths = _skeleton_streams(session)
    truth = truths[0] if truths else None
    if wanted is not None:
        choices = estimates + truths
        if wanted not in choices:
            raise ConfigError(
                "not a 3D skeleton stream of this session",
                field_path="--skeleton",
                value=wanted,
                choices=choices,
            )
        return wanted, (truth if wanted != truth else None)
    if estimates:
        return estimates[0], truth
    return None, truth


# --------------------------------------------------------------------------- sections
def run_summary(session: Session) -> RunSummary:
    summary = session.summary
    stats = summary or session.stats
    infos = session.streams()
    firsts = [i.t_first_ns for i in infos.values() if i.t_first_ns is not None]
    lasts = [i.t_last_ns for i in infos.values() if i.t_last_ns is not None]
    duration_s = (max(lasts) - min(firsts)) / 1e9 if firsts and lasts else 0.0
    drops: dict[str, dict[str, int]] = {
        str(k): {str(r): int(n) for r, n in (v or {}).items()} for k, v in (stats.get("drops") or {}).items()
    }
    recorder = (session.stats.get("recorder") or {}).get("dropped") or {}
    if isinstance(recorder, dict):
        for k, n in recorder.items():
            if int(n):
                drops.setdefault(str(k), {})["recorder_full"] = int(n)
    errors = sum(
        int((v or {}).get("errors") or 0) for part in ("streams", "stages") for v in (stats.get(part) or {}).values()
    )
    events = session.events
    counts: dict[str, int] = {}
    for ev in events:
        counts[str(ev.get("kind"))] = counts.get(str(ev.get("kind")), 0) + 1
    committed = sum(i.count for i in {**infos, **session.estimates()}.values())
    framesets = stats.get("framesets")
    partial = stats.get("partial_framesets")
    return RunSummary(
        path=str(session.path),
        rig_name=session.rig.get("name"),
        created=session.created,
        finished=session.finished,
        interrupted=bool(summary.get("interrupted")) if summary else not session.finished,
        error=summary.get("error") if summary else None,
        duration_s=float(duration_s),
        framesets=int(framesets) if framesets is not None else None,
        partial_framesets=int(partial) if partial is not None else None,
        wall_s=float(summary["wall_s"]) if summary.get("wall_s") is not None else None,
        drops=drops,
        drops_total=sum(sum(v.values()) for v in drops.values()),
        errors_total=errors,
        events=events,
        event_counts=counts,
        sinks={str(k): dict(v) for k, v in (summary.get("sinks") or {}).items() if isinstance(v, dict)},
        software={str(k): str(v) for k, v in (session.attrs.get("software") or {}).items()},
        committed_frames=committed,
    )


def stream_rates(session: Session, t0_ns: int, *, window_s: float | None = None) -> list[StreamRate] | Skipped:
    infos: dict[str, StreamInfo] = {**session.streams(), **session.estimates()}
    stats = session.summary or session.stats
    drops = stats.get("drops") or {}
    out: list[StreamRate] = []
    for key, info in sorted(infos.items(), key=lambda kv: (kv[1].stage is not None, kv[0])):
        if info.count == 0:
            continue
        ts = session.timestamps(key)
        t = ts["t_sensor_ns"].astype(np.int64)
        seq = ts["seq"].astype(np.int64)
        t_s = (t - t0_ns) / 1e9
        span = float(t_s[-1] - t_s[0]) if len(t_s) > 1 else 0.0
        w = window_s if window_s is not None else float(np.clip(span / 10, 0.25, 2.0))
        # frames per second over the window that ends at each frame (fewer frames at the start)
        # (at least the previous frame: a gap longer than the window shows as a dip, not a hole)
        idx = np.arange(len(t))
        start = np.minimum(np.searchsorted(t, t - int(w * _NS), side="left"), np.maximum(idx - 1, 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(idx > start, (idx - start) / ((t - t[start]) / 1e9), np.nan)
        gaps = np.concatenate([[0], np.clip(np.diff(seq) - 1, 0, None)]) if len(seq) else np.zeros(0, np.int64)
        out.append(
            StreamRate(
                key=key,
                kind=info.spec.kind.value,
                stage=info.stage,
                count=info.count,
                t_s=t_s,
                rate_hz=rate,
                missing_cum=np.cumsum(gaps),
                mean_rate_hz=(info.count - 1) / span if span > 0 else None,
                nominal_hz=float(info.spec.rate_hz) if info.spec.rate_hz else None,
                drops={str(r): int(n) for r, n in (drops.get(info.name) or {}).items()} if info.stage is None else {},
            )
        )
    if not out:
        return Skipped("the session holds no frames")
    return out


def reprojection(
    session: Session, skeleton_key: str | None, *, min_confidence: float, gate_px: float | None = None
) -> list[CameraReprojection] | Skipped:
    from scipy.optimize import linear_sum_assignment

    from sensorfusion.geometry import world_to_pixels

    if skeleton_key is None:
        return Skipped("no 3D skeleton stream to project")
    calibration = session.calibration
    cams = {sid: sc for sid, sc in calibration.sensors.items() if sc.camera is not None}
    if not cams:
        return Skipped("the session stores no camera calibration")
    kp_streams = [
        (key, info)
        for key, info in {**session.streams(), **session.estimates()}.items()
        if info.spec.kind == FrameKind.KEYPOINTS2D and info.name.split("/")[0] in cams and info.count
    ]
    if not kp_streams:
        return Skipped("no 2D keypoint stream of a calibrated camera")
    info3 = {**session.streams(), **session.estimates()}[skeleton_key]
    spec3 = _skeleton_spec(info3.spec.skeleton)
    frames3 = _skeleton_frames(session, skeleton_key)
    if not any(len(j) for _, j, _ in frames3):
        return Skipped(f"{skeleton_key} holds no person")
    t0 = _t0(session)
    out: list[CameraReprojection] = []
    for key, info in sorted(kp_streams):
        sid = info.name.split("/")[0]
        sc = cams[sid]
        assert sc.camera is not None
        spec2 = _skeleton_spec(info.spec.skeleton)
        if spec3 is not None and spec2 is not None and spec3.name != spec2.name:
            i3, i2 = _shared(spec3, spec2)
        else:
            n = min(frames3[0][1].shape[1] if frames3 else 0, int(info.spec.fields["keypoints"].shape[0]))
            i3 = i2 = np.arange(n)
        if len(i3) == 0:
            continue
        width, height = float(getattr(sc.camera, "width", 0)), float(getattr(sc.camera, "height", 0))
        gate = gate_px if gate_px is not None else 0.1 * float(np.hypot(width, height)) if width else 100.0
        frames2 = list(session.read(key))
        t2 = np.array([f.t_sensor_ns for f in frames2], dtype=np.int64)
        tol = _half_period_ns(t2)
        errors: list[np.ndarray] = []
        f_t: list[float] = []
        f_med: list[float] = []
        matched = unmatched = 0
        for t, joints, _ids in frames3:
            if not len(joints):
                continue
            j = _nearest(t2, t, tol)
            if j is None:
                continue
            kp = np.asarray(frames2[j]["keypoints"], dtype=np.float64)[:, i2]
            uv = world_to_pixels(sc.camera, sc.world_from_sensor, joints[:, i3], tier="numpy")  # (P, J, 2)
            if not len(kp):
                unmatched += len(joints)
                continue
            seen = (kp[..., 2] >= min_confidence) & np.isfinite(kp[..., :2]).all(-1)
            dist = np.linalg.norm(uv[:, None] - kp[None, :, :, :2], axis=-1)  # (P, D, J)
            ok = seen[None] & np.isfinite(dist)
            with warnings.catch_warnings():  # a pair with no joint in common: all-NaN, cost 1e9
                warnings.simplefilter("ignore", RuntimeWarning)
                cost = np.where(ok.any(-1), np.nanmedian(np.where(ok, dist, np.nan), axis=-1), 1e9)
            rows, cols = linear_sum_assignment(cost)
            frame_errs = []
            for r, c in zip(rows, cols, strict=True):
                if cost[r, c] > gate:
                    continue
                e = dist[r, c][ok[r, c]]
                frame_errs.append(e)
            matched += len(frame_errs)
            unmatched += len(joints) - len(frame_errs)
            if frame_errs:
                fe = np.concatenate(frame_errs)
                errors.append(fe)
                f_t.append((t - t0) / 1e9)
                f_med.append(float(np.median(fe)))
        out.append(
            CameraReprojection(
                camera=sid,
                keypoints=key,
                errors_px=np.concatenate(errors) if errors else np.zeros(0),
                frame_t_s=np.asarray(f_t),
                frame_median_px=np.asarray(f_med),
                matched_person_frames=matched,
                unmatched_person_frames=unmatched,
            )
        )
    if not any(c.errors_px.size for c in out):
        return Skipped(f"no person of {skeleton_key} matched a 2D detection in any camera")
    return out


def _t0(session: Session) -> int:
    firsts = [i.t_first_ns for i in {**session.streams(), **session.estimates()}.values() if i.t_first_ns is not None]
    return int(min(firsts)) if firsts else 0


_FLOOR = {"xy": (0, 1, 2), "xz": (0, 2, 1), "yz": (1, 2, 0)}


def _up_axis(frames: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> int:
    """The world axis people are tallest along (standing people are taller than wide)."""
    extents = []
    for _, joints, _ in frames:
        for person in joints:
            ok = np.isfinite(person).all(-1)
            if ok.sum() >= 3:
                extents.append(np.ptp(person[ok], axis=0))
    if not extents:
        return 2
    return int(np.argmax(np.median(np.asarray(extents), axis=0)))


def _tracks(
    frames: Sequence[tuple[int, np.ndarray, np.ndarray]], t0_ns: int, axes: tuple[int, int]
) -> list[Trajectory]:
    by_id: dict[int, tuple[list[float], list[np.ndarray]]] = {}
    for t, joints, ids in frames:
        refs = _reference_points(joints)
        for pid, ref in zip(ids.tolist(), refs, strict=True):
            if not np.isfinite(ref).all():
                continue
            ts, xs = by_id.setdefault(int(pid), ([], []))
            ts.append((t - t0_ns) / 1e9)
            xs.append(ref[list(axes)])
    return [Trajectory(pid, np.asarray(ts), np.asarray(xs).reshape(-1, 2)) for pid, (ts, xs) in sorted(by_id.items())]


def _floor_track_stream(session: Session) -> str | None:
    """An estimated stream of floor tracks (``position_m`` and ``track_id`` per item, e.g. the
    overhead plugin's ``floor/tracks``), the first by key."""
    for key, info in sorted(session.estimates().items()):
        f = info.spec.fields
        if info.spec.ragged and "position_m" in f and "track_id" in f and info.count:
            return key
    return None


def _floor_track_frames(session: Session, key: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Floor tracks as one-joint "skeletons": ``(t, positions (N, 1, 3), track ids)``."""
    out = []
    for f in session.read(key):
        pos = np.asarray(f["position_m"], dtype=np.float64)
        if pos.ndim == 2 and pos.shape[1] == 2:  # a floor position without height
            pos = np.concatenate([pos, np.zeros((len(pos), 1))], axis=1)
        out.append((int(f.t_sensor_ns), pos.reshape(len(pos), 1, 3), np.asarray(f["track_id"], dtype=np.int64)))
    return out


def trajectories(session: Session, skeleton_key: str | None, truth_key: str | None) -> Trajectories | Skipped:
    key = skeleton_key
    tracks_key = _floor_track_stream(session) if key is None else None
    if key is None and tracks_key is None:
        key = truth_key  # only the ground truth: its people are what there is to show
    if key is None and tracks_key is None:
        return Skipped("no 3D skeleton or floor track stream: nobody to place on the floor")
    if key is not None:
        frames = _skeleton_frames(session, key)
    else:
        assert tracks_key is not None
        frames = _floor_track_frames(session, tracks_key)
    source = key or str(tracks_key)
    truth_frames = _skeleton_frames(session, truth_key) if truth_key and truth_key != key else []
    volume_cfg = session.rig.get("capture_volume")
    config, config_note = _volume_config(volume_cfg)
    if config is not None and config.shape == "polygon":
        floor: str = config.floor_axes
    else:
        up = _up_axis(truth_frames if tracks_key is not None else (frames or truth_frames))
        floor = {2: "xy", 1: "xz", 0: "yz"}[up]
    a, b, up_axis = _FLOOR[floor]
    t0 = _t0(session)
    people = _tracks(frames, t0, (a, b))
    if not people:
        return Skipped(f"{source} holds no person")
    truth = _tracks(truth_frames, t0, (a, b)) if truth_frames else []
    cameras: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for sid, sc in session.calibration.sensors.items():
        if sc.camera is None:
            continue
        m = np.asarray(sc.world_from_sensor.rotation, dtype=np.float64)
        pos = np.asarray(sc.world_from_sensor.translation_m, dtype=np.float64)
        look = m[:, 2]  # the camera's z axis (forward) in the world
        cameras[sid] = (pos[[a, b]], look[[a, b]])
    volume: dict[str, Any] | None = None
    note = config_note
    if config is not None:
        volume, note = _volume_outline(session, config, floor, people, up_axis, truth_frames if tracks_key else frames)
    return Trajectories(floor, people, truth, cameras, volume, note, source)


def _volume_config(stored: Any) -> tuple[Any, str]:
    """The rig's capture volume from the stored rig (which lists every field, defaults included:
    only the fields that differ from their default are given back to the model)."""
    from sensorfusion.schema import CaptureVolumeConfig

    if not stored:
        return None, "the rig declares no capture volume"
    fields = CaptureVolumeConfig.model_fields
    given = {k: v for k, v in dict(stored).items() if k not in fields or k == "shape" or v != fields[k].default}
    try:
        return CaptureVolumeConfig.model_validate(given), ""
    except (ConfigError, ValueError) as exc:
        return None, f"the stored capture volume is not drawn ({str(exc).splitlines()[0]})"


def _volume_outline(
    session: Session,
    config: Any,
    floor: str,
    people: list[Trajectory],
    up_axis: int,
    frames: Sequence[tuple[int, np.ndarray, np.ndarray]],
) -> tuple[dict[str, Any] | None, str]:
    a, b, _ = _FLOOR[floor]
    if config.shape == "box":
        lo, hi = np.asarray(config.min_m), np.asarray(config.max_m)
        poly = np.array([[lo[a], lo[b]], [hi[a], lo[b]], [hi[a], hi[b]], [lo[a], hi[b]]])
        return {"shape": "box", "polygon": poly}, "capture volume: the rig's box"
    if config.shape == "polygon":
        return {"shape": "polygon", "polygon": np.asarray(config.polygon_m, dtype=np.float64)}, (
            "capture volume: the rig's floor polygon"
        )
    # cameras: where at least min_cameras views overlap, at the people's median reference height
    from sensorfusion.fusion import CaptureVolume

    cams = [sid for sid, sc in session.calibration.sensors.items() if sc.camera is not None]
    try:
        volume = CaptureVolume.from_calibration(config, session.calibration, cams)
    except ConfigError as exc:
        return None, f"capture volume not drawn: {exc}"
    heights = [r[up_axis] for _, j, _ in frames for r in _reference_points(j) if np.isfinite(r).all()]
    h = float(np.median(heights)) if heights else 1.0
    pts = np.concatenate([p.floor_m for p in people])
    cam_pts = [np.asarray(sc.world_from_sensor.translation_m)[[a, b]] for sc in session.calibration.sensors.values()]
    allp = np.vstack([pts, *cam_pts]) if cam_pts else pts
    lo, hi = allp.min(axis=0) - 0.5, allp.max(axis=0) + 0.5
    ga, gb = np.meshgrid(np.linspace(lo[0], hi[0], 201), np.linspace(lo[1], hi[1], 201))
    world = np.zeros((ga.size, 3))
    world[:, a], world[:, b], world[:, _FLOOR[floor][2]] = ga.ravel(), gb.ravel(), h
    seeing = volume.views_seeing(world).reshape(ga.shape)
    return (
        {"shape": "cameras", "grid_a": ga, "grid_b": gb, "inside": seeing >= config.min_cameras},
        f"capture volume: seen by at least {config.min_cameras} cameras, at the people's median height {h:.2f} m",
    )


def bone_stability(session: Session, skeleton_key: str | None, *, max_people: int = 6) -> BoneStability | Skipped:
    if skeleton_key is None:
        return Skipped("no 3D skeleton stream")
    info = {**session.streams(), **session.estimates()}[skeleton_key]
    spec = _skeleton_spec(info.spec.skeleton)
    if spec is None:
        return Skipped(f"{skeleton_key} names no registered skeleton ({info.spec.skeleton!r}): its bones are unknown")
    edges = list(spec.edges)
    names = [f"{spec.joints[i]}–{spec.joints[j]}" for i, j in edges]
    ia, ib = np.array([e[0] for e in edges]), np.array([e[1] for e in edges])
    per: dict[int, list[np.ndarray]] = {}
    for _, joints, ids in _skeleton_frames(session, skeleton_key):
        if not len(joints):
            continue
        lengths = np.linalg.norm(joints[:, ia] - joints[:, ib], axis=-1)  # (P, E)
        for pid, row in zip(ids.tolist(), lengths, strict=True):
            per.setdefault(int(pid), []).append(row)
    people = [PersonBones(pid, len(rows), np.asarray(rows)) for pid, rows in per.items() if len(rows) >= 2]
    if not people:
        return Skipped(f"no person of {skeleton_key} was seen in two frames or more")
    people.sort(key=lambda p: (-p.frames, p.person_id))
    return BoneStability(spec.name, names, sorted(people[:max_people], key=lambda p: p.person_id))


def mpjpe(
    session: Session, skeleton_key: str | None, truth_key: str | None, *, max_match_distance_m: float = 0.5
) -> Mpjpe | Skipped:
    from scipy.optimize import linear_sum_assignment

    if truth_key is None:
        return Skipped(
            "the session has no ground truth (a 3D stream marked ground_truth, e.g. the sim rig's gt/skeleton3d)"
        )
    if skeleton_key is None:
        return Skipped("no estimated 3D skeleton stream to score against the ground truth")
    infos = {**session.streams(), **session.estimates()}
    se, sg = _skeleton_spec(infos[skeleton_key].spec.skeleton), _skeleton_spec(infos[truth_key].spec.skeleton)
    if se is not None and sg is not None:
        ie, ig = _shared(se, sg)
        joint_names = [se.joints[i] for i in ie]
    else:
        n = int(infos[skeleton_key].spec.fields["joints"].shape[0])
        ie = ig = np.arange(n)
        joint_names = [str(i) for i in range(n)]
    if len(ie) == 0:
        return Skipped(f"{skeleton_key} and {truth_key} share no joint")
    est = _skeleton_frames(session, skeleton_key)
    gt = _skeleton_frames(session, truth_key)
    tg = np.array([t for t, _, _ in gt], dtype=np.int64)
    tol = _half_period_ns(tg)
    t0 = _t0(session)
    t_s: list[float] = []
    frame_mm: list[float] = []
    p_t: dict[int, list[float]] = {}
    p_mm: dict[int, list[float]] = {}
    joint_sum = np.zeros(len(ie))
    joint_n = np.zeros(len(ie))
    all_err: list[np.ndarray] = []
    matched = missed = extra = 0
    pair_counts: dict[tuple[int, int], int] = {}
    for t, joints, ids in est:
        k = _nearest(tg, t, tol)
        if k is None:
            continue
        gj = gt[k][1][:, ig]
        ej = joints[:, ie]
        if not len(ej):
            missed += len(gj)
            continue
        dist = np.linalg.norm(ej[:, None] - gj[None], axis=-1)
        ok = np.isfinite(dist)
        n_ok = ok.sum(-1)
        d = np.where(n_ok > 0, np.where(ok, dist, 0.0).sum(-1) / np.maximum(n_ok, 1), 1e9)
        rows, cols = linear_sum_assignment(d) if d.size else (np.zeros(0, int), np.zeros(0, int))
        keep = d[rows, cols] <= max_match_distance_m
        rows, cols = rows[keep], cols[keep]
        errs = []
        for r, c in zip(rows, cols, strict=True):
            e = np.linalg.norm(ej[r] - gj[c], axis=-1) * 1e3
            good = np.isfinite(e)
            joint_sum[good] += e[good]
            joint_n[good] += 1
            errs.append(e[good])
            if good.any():
                pid = int(ids[r])
                key_pair = (pid, int(gt[k][2][c]))
                pair_counts[key_pair] = pair_counts.get(key_pair, 0) + 1
                p_t.setdefault(pid, []).append((t - t0) / 1e9)
                p_mm.setdefault(pid, []).append(float(e[good].mean()))
        matched += len(rows)
        missed += len(gj) - len(cols)
        extra += len(ej) - len(rows)
        if errs and sum(e.size for e in errs):
            flat = np.concatenate(errs)
            all_err.append(flat)
            t_s.append((t - t0) / 1e9)
            frame_mm.append(float(flat.mean()))
    if not all_err:
        return Skipped(f"no person of {skeleton_key} was within {max_match_distance_m} m of the ground truth")
    with np.errstate(invalid="ignore", divide="ignore"):
        joint_mm = joint_sum / joint_n
    return Mpjpe(
        ground_truth=truth_key,
        estimate=skeleton_key,
        t_s=np.asarray(t_s),
        frame_mm=np.asarray(frame_mm),
        person_t_s={k: np.asarray(v) for k, v in p_t.items()},
        person_mm={k: np.asarray(v) for k, v in p_mm.items()},
        joint_names=joint_names,
        joint_mm=joint_mm,
        errors_mm=np.concatenate(all_err),
        matched_person_frames=matched,
        missed_person_frames=missed,
        extra_person_frames=extra,
        pairs=_most_frequent(pair_counts),
    )


def _most_frequent(counts: dict[tuple[int, int], int]) -> dict[int, int]:
    best: dict[int, tuple[int, int]] = {}
    for (est, truth), n in sorted(counts.items()):
        if est not in best or n > best[est][1]:
            best[est] = (truth, n)
    return {est: truth for est, (truth, _) in best.items()}


def _with_truth(bones: BoneStability, session: Session, truth_key: str, pairs: dict[int, int]) -> None:
    """Give each person the median bone lengths of the ground-truth person paired with them."""
    info = {**session.streams(), **session.estimates()}[truth_key]
    spec = _skeleton_spec(info.spec.skeleton)
    if spec is None or spec.name != bones.skeleton:
        return
    ia = np.array([e[0] for e in spec.edges])
    ib = np.array([e[1] for e in spec.edges])
    rows: dict[int, list[np.ndarray]] = {}
    for _, joints, ids in _skeleton_frames(session, truth_key):
        if len(joints):
            for gid, row in zip(ids.tolist(), np.linalg.norm(joints[:, ia] - joints[:, ib], axis=-1), strict=True):
                rows.setdefault(int(gid), []).append(row)
    for person in bones.people:
        gid = pairs.get(person.person_id)
        if gid is not None and gid in rows:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                person.truth_m = np.nanmedian(np.asarray(rows[gid]), axis=0)
            person.truth_id = gid


def _guard(section: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """A section over damaged frames is skipped with the damage named, never a crash."""
    try:
        return fn(*args, **kwargs)
    except SessionDamagedError as exc:
        return Skipped(f"{section}: {exc}".split("\n")[0])
    except StoreError as exc:
        return Skipped(f"{section}: {exc}".split("\n")[0])


def analyse_session(
    session: Session,
    *,
    skeleton: str | None = None,
    min_confidence: float = 0.3,
    max_people: int = 6,
    progress: Callable[[str], None] | None = None,
) -> ReportData:
    """Every section of the report for ``session`` (:class:`ReportData`).

    ``skeleton`` picks the 3D stream (key as in ``Session.estimates()``; default: the first
    estimated one, ground truth when there is none); ``min_confidence``: 2D keypoints below it are
    not scored; ``max_people``: the bone-length section shows the people seen longest;
    ``progress`` is told which section is being computed.
    """
    step = progress or (lambda _msg: None)
    key, truth = pick_skeleton_stream(session, skeleton)
    t0 = _t0(session)
    step("rates and lost frames")
    rates = _guard("rates", stream_rates, session, t0)
    step("reprojection errors")
    reproj = _guard("reprojection", reprojection, session, key, min_confidence=min_confidence)
    step("trajectories")
    paths = _guard("trajectories", trajectories, session, key, truth)
    step("bone lengths")
    bones = _guard("bones", bone_stability, session, key or truth, max_people=max_people)
    step("MPJPE")
    scored = _guard("mpjpe", mpjpe, session, key, truth)
    if isinstance(bones, BoneStability) and isinstance(scored, Mpjpe):
        _guard("bones", _with_truth, bones, session, scored.ground_truth, scored.pairs)
    estimates, truths = _skeleton_streams(session)
    others = [k for k in estimates + truths if k not in (key, truth)]
    notes = [f"other 3D streams in this session: {', '.join(others)} (--skeleton picks one)"] if others else []
    return ReportData(
        notes=notes,
        summary=run_summary(session),
        skeleton_stream=key,
        streams=rates,
        reprojection=reproj,
        trajectories=paths,
        bones=bones,
        mpjpe=scored,
    )
