"""Tracks that hold: robust matching cost, a short prediction horizon, capped velocities,
re-identification after gaps, tracks reported from their first frame (back-fill), and the capture
volume. The regression tests here fail on the tracker as it was (commit 1491f56)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sensorfusion import ConfigError, SchemaError
from sensorfusion._builtin.fusion import MultiPersonFusion
from sensorfusion._components import StageContext
from sensorfusion.fusion import CaptureVolume, FusionSettings, PersonFusion, Tracker, merge_backfill
from sensorfusion.fusion._cameras import view_model
from sensorfusion.geometry import look_at, project_pinhole
from sensorfusion.schema import (
    CaptureVolumeConfig,
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    PinholeCamera,
    RigCalibration,
    SensorCalibration,
    StreamSpec,
    load_rig,
)
from sensorfusion.schema._skeletons import SkeletonRegistry, builtin_skeletons

COCO17 = next(s for s in builtin_skeletons() if s.name == "coco17")
CAMS = [f"c{i}" for i in range(4)]
# a standing COCO-17 person at the origin (x right, z up), metres
STAND = np.array(
    [
        [0, 0.08, 1.62], [0.03, 0.07, 1.65], [-0.03, 0.07, 1.65], [0.07, 0.03, 1.63], [-0.07, 0.03, 1.63],
        [0.18, 0, 1.42], [-0.18, 0, 1.42], [0.22, 0, 1.15], [-0.22, 0, 1.15], [0.24, 0.02, 0.9],
        [-0.24, 0.02, 0.9], [0.1, 0, 0.95], [-0.1, 0, 0.95], [0.11, 0.02, 0.52], [-0.11, 0.02, 0.52],
        [0.11, 0, 0.08], [-0.11, 0, 0.08],
    ]
)  # fmt: skip


def rig_calibration() -> RigCalibration:
    """Four 640x480 cameras on a 4 m circle, 2.2 m high, looking at (0, 0, 1)."""
    sensors = {}
    for i, c in enumerate(CAMS):
        a = 2 * np.pi * i / len(CAMS)
        pose = look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.2]), np.array([0.0, 0.0, 1.0]))
        cam = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0, k1=-0.05)
        sensors[c] = SensorCalibration(camera=cam, world_from_sensor=pose)
    return RigCalibration(sensors=sensors)


def specs() -> list[StreamSpec]:
    fields = {"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")}
    return [
        StreamSpec(name=f"{c}/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17", fields=fields)
        for c in CAMS
    ]


def synthetic_framesets(n: int, people: int) -> list[FrameSet]:
    """People standing at x = 0.8 k - 0.4 (+0.01 m per frame), y = 0.3 k; 1 px noise, no ids."""
    cal = rig_calibration()
    rng = np.random.default_rng(0)
    out = []
    for t in range(n):
        X = np.stack([STAND + np.array([0.8 * k - 0.4 + 0.01 * t, 0.3 * k, 0]) for k in range(people)])
        frames = {}
        for c in CAMS:
            s = cal.sensors[c]
            uv, _ = project_pinhole(X, s.camera, s.world_from_sensor)  # type: ignore[arg-type]
            kp = np.concatenate([uv + rng.normal(0, 1, uv.shape), np.full((*uv.shape[:-1], 1), 0.9)], -1)
            order = rng.permutation(people)
            data = {"keypoints": kp[order].astype(np.float32), "person_id": -np.ones(people, dtype=np.int64)}
            frames[f"{c}/keypoints2d"] = Frame(f"{c}/keypoints2d", t * 33_333_333, 0, t, data)
        out.append(FrameSet(t, t * 33_333_333, 0, frames, tuple(frames)))
    return out


def body(x: float, y: float, scale: float = 1.0) -> np.ndarray:
    return STAND * scale + np.array([x, y, 0.0])


# -- the reported defect: one static person split by a single reappearing joint ---------------


def test_single_reappearing_joint_does_not_split_a_static_person() -> None:
    """A static bystander seen by two cameras: a wrist shows up for one frame every so often,
    triangulated 0.45 m off (two views, no outlier rejection possible), and is missing in
    between. The old tracker took (new - extrapolated) / dt as the joint's velocity (tens of
    m/s), kept extrapolating the missing joint with it, and the mean-over-joints cost pushed the
    person past the gate: a second id. One id is right."""
    rng = np.random.default_rng(0)
    tr = Tracker()
    ids: list[int] = []
    for f in range(300):
        x = body(2.0, 1.0) + rng.normal(0, 0.01, (17, 3))
        x[[7, 9, 10]] = np.nan
        if f % 7 == 3:  # a glimpse of the right wrist, badly triangulated
            x[10] = body(2.0, 1.0)[10] + np.array([0.45 if (f // 7) % 2 else -0.45, 0.1, 0.0])
        ids += [tid for _, tid in tr.update(f / 30.0, x[None])]
    assert len(ids) == 300 - 1  # reported from its confirmation on (birth_hits=2), every frame
    assert set(ids) == {0} and tr.births == 1


def test_velocity_is_capped_and_a_missing_joint_is_predicted_for_a_short_horizon_only() -> None:
    tr = Tracker(max_joint_speed_m_s=5.0, predict_horizon_s=0.25)
    x = body(0.0, 0.0)
    tr.update(0.0, x[None])
    y = x.copy()
    y[9] += np.array([1.0, 0.0, 0.0])  # a 1 m jump in one frame: 30 m/s
    tr.update(1 / 30, y[None])
    track = tr.tracks[0]
    assert np.linalg.norm(track.velocity, axis=-1).max() <= 5.0 + 1e-9
    # the wrist goes missing: extrapolated for 0.25 s, then held where the horizon ended
    z = y.copy()
    z[9] = np.nan
    tr.update(2 / 30, z[None])
    p1 = tr.predict(tr.tracks[0], 2 / 30 + 0.25)[9]
    p2 = tr.predict(tr.tracks[0], 2 / 30 + 5.0)[9]
    assert np.allclose(p1, p2)
    assert np.linalg.norm(p2 - y[9]) <= 5.0 * 0.25 + 1e-9


def test_trimmed_cost_ignores_a_few_wild_joints() -> None:
    tr = Tracker(match_trim=0.25)
    a = body(0.0, 0.0)
    b = a.copy()
    b[[9, 10, 15]] += 3.0  # three joints 5 m off
    assert tr._cost(a, b) < 1e-9
    assert Tracker(match_trim=0.0)._cost(a, b) > 0.8  # the plain mean: past any gate


def test_lost_track_is_reclaimed_by_the_same_person_and_not_by_someone_else() -> None:
    """Two people of different builds leave; after 3 s the taller one comes back through another
    door, then a stranger (another build) walks in: the first gets their id back, the stranger a
    new one."""
    rng = np.random.default_rng(1)
    tr = Tracker(parents=COCO17.parents)

    def noisy(x: np.ndarray) -> np.ndarray:
        return x + rng.normal(0, 0.01, x.shape)

    f = 0
    tall, short = body(-1.0, 0.0, 1.1), body(1.0, 0.0, 0.9)
    for f in range(60):
        tr.update(f / 30.0, np.stack([noisy(tall), noisy(short)]))
    assert {tr.track(0).track_id, tr.track(1).track_id} == {0, 1}
    for f in range(60, 150):  # both away for 3 s: lost after max_missing_s
        tr.update(f / 30.0, np.zeros((0, 17, 3)))
    assert len(tr.lost) == 2 and not tr.tracks
    back: list[int] = []
    for f in range(150, 200):  # the tall one, 2.4 m from where they left
        back += [tid for _, tid in tr.update(f / 30.0, noisy(body(1.0, 2.0, 1.1))[None])]
    assert set(back) == {0} and tr.reclaimed == 1
    stranger: list[int] = []
    for f in range(200, 250):  # a stranger of a third build where the short one left
        pair = tr.update(f / 30.0, np.stack([noisy(body(1.0, 2.0, 1.1)), noisy(body(1.0, 0.0, 1.0))]))
        stranger += [tid for k, tid in pair if k == 1]
    assert set(stranger) == {2} and tr.births == 3


# -- back-fill: a confirmed track is reported from its first frame ---------------------------


def _views() -> list[Any]:
    cal = rig_calibration()
    return [view_model(cal.camera(c), cal.sensors[c].world_from_sensor) for c in CAMS]


def _detections(X: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    cal = rig_calibration()
    out = []
    for c in CAMS:
        s = cal.sensors[c]
        uv, _ = project_pinhole(X, s.camera, s.world_from_sensor)  # type: ignore[arg-type]
        kp = np.concatenate([uv + rng.normal(0, 1, uv.shape), np.full((*uv.shape[:-1], 1), 0.9)], -1)
        out.append(kp[rng.permutation(len(kp))])
    return out


def test_confirmed_tracks_are_reported_from_their_first_frame() -> None:
    """Regression: birth confirmation dropped a track's first frames (frame 1 of every person's
    TRC was blank). Every frame of both people comes out, the held ones through ``backfill``, in
    time order, stamped with their own step."""
    rng = np.random.default_rng(3)
    fusion = PersonFusion(_views(), COCO17.parents, FusionSettings(birth_hits=3, filter="one_euro"))
    per_stamp: dict[int, dict[int, np.ndarray]] = {}
    late: list[int] = []
    for f in range(8):
        X = np.stack([body(-0.5 + 0.02 * f, 0.0), body(0.6, 0.4)])
        r = fusion.step(f / 30.0, _detections(X, rng))
        assert r.stamp == f and r.t_s == pytest.approx(f / 30.0)
        for b in r.backfill:
            late.append(b.stamp)
            assert b.t_s == pytest.approx(b.stamp / 30.0)
            per_stamp.setdefault(b.stamp, {}).update(zip(b.track_id.tolist(), b.joints, strict=True))
        per_stamp.setdefault(f, {}).update(zip(r.track_id.tolist(), r.joints, strict=True))
    assert late == [0, 1]  # held while confirming (3 hits), emitted at frame 2, oldest first
    assert all(sorted(per_stamp[f]) == [0, 1] for f in range(8))
    assert fusion.backfilled == 4
    truth0 = body(-0.5, 0.0)
    assert min(np.nanmean(np.linalg.norm(per_stamp[0][k] - truth0, axis=-1)) for k in (0, 1)) < 0.03


def _context(volume: CaptureVolumeConfig | None = None) -> StageContext:
    return StageContext(
        "dut",
        specs(),
        rig_calibration(),
        SkeletonRegistry(builtin_skeletons()),
        config_path="stages[1]",
        capture_volume=volume,
    )


def test_multiperson_estimator_backfills_the_first_framesets() -> None:
    est = MultiPersonFusion(MultiPersonFusion.Params.model_validate({"birth_hits": 2}), _context())
    names = [s.name for s in est.outputs()]
    assert names == ["dut/skeleton3d", "dut/backfill"]
    fs = synthetic_framesets(n=4, people=2)
    outs = [est.process(f) for f in fs]
    assert len(outs[0]["dut/skeleton3d"]["person_id"]) == 0  # not yet confirmed
    bf = outs[1]["dut/backfill"]
    assert bf["t_ns"].tolist() == [fs[0].t_ref_ns] * 2 and sorted(bf["person_id"].tolist()) == [0, 1]
    assert all(len(o["dut/backfill"]["person_id"]) == 0 for o in (outs[0], outs[2], outs[3]))
    assert est.summary()["backfilled_person_frames"] == 2
    spec = {s.name: s for s in est.outputs()}["dut/backfill"]
    for i, o in enumerate(outs):
        spec.validate_frame(Frame("dut/backfill", fs[i].t_ref_ns, 0, i, o["dut/backfill"]))
    # merged back (as a reader of the session would): both people in every frame
    main = [
        Frame("dut/skeleton3d", f.t_ref_ns, 0, i, o["dut/skeleton3d"])
        for i, (f, o) in enumerate(zip(fs, outs, strict=True))
    ]
    late = [
        Frame("dut/backfill", f.t_ref_ns, 0, i, o["dut/backfill"])
        for i, (f, o) in enumerate(zip(fs, outs, strict=True))
    ]
    full = merge_backfill(main, late)
    assert [f.data["person_id"].tolist() for f in full] == [[0, 1]] * 4
    assert set(full[0].data) == set(main[1].data) and full[0].data["joints"].dtype == np.float32
    with pytest.raises(SchemaError):
        merge_backfill(main[1:], late)


# -- the capture volume ----------------------------------------------------------------------


def test_capture_volume_config_errors_name_the_field() -> None:
    cases = [
        ({"shape": "box", "min_m": [0, 0, 0], "max_m": [1, -1, 2]}, "capture_volume.max_m"),
        ({"shape": "box", "max_m": [1, 1, 2]}, "capture_volume.min_m"),
        ({"shape": "polygon", "polygon_m": [[0, 0], [1, 1]]}, "capture_volume.polygon_m"),
        ({"shape": "polygon", "polygon_m": [[0, 0], [1, 1], [2, 2]]}, "capture_volume.polygon_m"),
        ({"shape": "cameras", "min_m": [0, 0, 0]}, "capture_volume.min_m"),
    ]
    for doc, path in cases:
        with pytest.raises(ConfigError) as e:
            CaptureVolumeConfig.model_validate(doc)
        assert e.value.field_path == path, (doc, str(e.value))
    rig = "sensors: [{id: s, driver: sim.rig}]\ncapture_volume: {shape: sphere}\n"
    with pytest.raises(ConfigError) as e:
        load_rig(text=rig)
    assert e.value.field_path == "capture_volume.shape" and "box" in (e.value.choices or [])
    rig = "sensors: [{id: s, driver: sim.rig}]\ncapture_volume: {shape: box, min_m: [0, 0, 0], max_m: [1, 1, 0]}\n"
    with pytest.raises(ConfigError) as e:
        load_rig(text=rig)
    assert e.value.field_path == "capture_volume.max_m"
    ok = load_rig(
        text="sensors: [{id: s, driver: sim.rig}]\ncapture_volume: {shape: polygon, polygon_m: [[0, 0], [2, 0], [0, 2]], outside: drop}\n"
    )
    assert ok.capture_volume is not None and ok.capture_volume.outside == "drop"
    with pytest.raises(ConfigError) as e:
        CaptureVolume.from_calibration(CaptureVolumeConfig(cameras=["c0", "nope"]), rig_calibration(), CAMS)
    assert e.value.field_path == "capture_volume.cameras" and e.value.value == "nope"


def test_capture_volume_shapes() -> None:
    box = CaptureVolume(CaptureVolumeConfig(shape="box", min_m=(-1, -1, 0), max_m=(1, 1, 2.5)))
    assert box.contains(np.array([[0, 0, 1], [1.5, 0, 1], [np.nan, 0, 1]])).tolist() == [True, False, False]
    poly = CaptureVolume(
        CaptureVolumeConfig(shape="polygon", polygon_m=[(0, 0), (2, 0), (2, 2), (1, 1), (0, 2)], height_m=(0, 2))
    )
    pts = np.array([[0.5, 0.5, 1.0], [1.0, 1.5, 1.0], [1.5, 1.5, 1.0], [0.5, 0.5, 2.5]])
    assert poly.contains(pts).tolist() == [True, False, True, False]  # a notch, and above the ceiling
    xz = CaptureVolume(
        CaptureVolumeConfig(shape="polygon", floor_axes="xz", polygon_m=[(0, 0), (2, 0), (2, 2), (0, 2)])
    )
    assert xz.contains(np.array([[1.0, -7.0, 1.0], [1.0, 0.0, 3.0]])).tolist() == [True, False]
    cams = CaptureVolume.from_calibration(CaptureVolumeConfig(min_cameras=2), rig_calibration(), CAMS)
    n = cams.views_seeing(np.array([[0, 0, 1.0], [0, 0, -5.0], [3.9, 0, 2.2]]))
    assert n[0] == 4 and n[1] == 0 and n[2] < 4
    assert cams.contains(np.array([[0, 0, 1.0], [0, 0, -5.0]])).tolist() == [True, False]
    three = CaptureVolume.from_calibration(CaptureVolumeConfig(min_cameras=3), rig_calibration(), CAMS)
    assert three.contains(np.array([[3.9, 0, 2.2]])).tolist() == [bool(n[2] >= 3)]


@pytest.mark.parametrize("rule", ["flag", "drop"])
def test_people_outside_the_volume_are_flagged_or_dropped_never_mixed_in(rule: str) -> None:
    """Regression: there was no capture volume; a bystander outside came out like anyone else.
    The two synthetic people stand at x = -0.4 and x = +0.4 (+0.3 m in y); the volume holds only
    the first."""
    vol = CaptureVolumeConfig(shape="box", min_m=(-1.0, -0.5, -0.1), max_m=(0.0, 0.5, 2.5), outside=rule)  # type: ignore[arg-type]
    est = MultiPersonFusion(MultiPersonFusion.Params.model_validate({"birth_hits": 1}), _context(vol))
    outs = [est.process(f)["dut/skeleton3d"] for f in synthetic_framesets(n=5, people=2)]
    for o in outs:
        x = np.nanmedian(o["joints"][..., 0], axis=1)
        if rule == "flag":
            assert len(o["person_id"]) == 2
            assert o["in_volume"].tolist() == (x < 0).tolist() and o["in_volume"].sum() == 1
        else:
            assert len(o["person_id"]) == 1 and o["in_volume"].tolist() == [True] and x[0] < 0
    s = est.summary()["capture_volume"]
    assert s == {"shape": "box", "outside": rule, "outside_person_frames": 5}


def test_default_volume_is_where_two_cameras_overlap() -> None:
    est = MultiPersonFusion(MultiPersonFusion.Params.model_validate({"birth_hits": 1}), _context())
    assert est.volume.config.shape == "cameras" and est.volume.config.min_cameras == 2
    o = est.process(synthetic_framesets(n=1, people=2)[0])["dut/skeleton3d"]
    assert o["in_volume"].tolist() == [True, True]
