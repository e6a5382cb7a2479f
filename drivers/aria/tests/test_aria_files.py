"""The Aria readers against the real samples: MPS trajectory, ADT skeleton, calibration JSON, VRS."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sensorfusion_aria import (
    ADT51,
    ADT_JOINT_LABELS,
    VrsRecording,
    aria_cameras_from_json,
    aria_cameras_to_json,
    read_adt_skeleton,
    read_aria_camera_records,
    read_mps_trajectory,
)

from sensorfusion import ConfigError
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons


def _csv_rows(path):
    lines = path.read_text().splitlines()
    return lines[0].split(","), [line.split(",") for line in lines[1:]]


def test_mps_trajectory_reads_every_row_and_finds_the_real_gap(mps):
    path = mps / "closed_loop_trajectory.csv"
    tr = read_mps_trajectory(path, max_gap_s=0.1)
    header, rows = _csv_rows(path)
    assert tr.rows == len(rows) == len(tr.t_ns) == 11517
    assert tr.t_ns.dtype == np.int64 and (np.diff(tr.t_ns) > 0).all()
    # times and poses exactly as written (microseconds -> ns, quaternion x y z w)
    k = 1234
    col = {c: i for i, c in enumerate(header)}
    assert tr.t_ns[k] == int(rows[k][col["tracking_timestamp_us"]]) * 1000
    assert np.allclose(
        tr.world_from_device[k, :3, 3], [float(rows[k][col[f"t{a}_world_device"]]) for a in "xyz"], atol=0
    )
    from scipy.spatial.transform import Rotation

    q = [float(rows[k][col[f"q{a}_world_device"]]) for a in "xyzw"]
    assert np.abs(tr.world_from_device[k, :3, :3] - Rotation.from_quat(q).as_matrix()).max() < 1e-9
    assert tr.issues == []  # MPS writes ~1 kHz without holes
    # a gap is any step longer than max_gap_s: the sample's longest is 1.179 ms
    t_file = np.array([int(r[col["tracking_timestamp_us"]]) * 1000 for r in rows])
    strict = read_mps_trajectory(path, max_gap_s=0.00115)
    assert strict.count("gap") == int((np.diff(t_file) > 1_150_000).sum()) > 0
    assert strict.count("backwards") == 0 and strict.count("bad_pose") == 0
    # decimation keeps poses at least 1/rate apart
    dec = read_mps_trajectory(path, min_period_s=1 / 30)
    assert np.diff(dec.t_ns).min() >= 1e9 / 30 and 300 < len(dec.t_ns) < 400


def test_a_trajectory_going_backwards_or_broken_is_dropped_and_counted(tmp_path, adt):
    path = adt / "aria_trajectory.csv"
    lines = path.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    # row 3 repeats row 2's time (a step back), row 4 has a broken quaternion, then a 1 s jump
    cols = header.split(",")
    r3 = rows[2].split(",")
    r3[cols.index("tracking_timestamp_us")] = rows[1].split(",")[cols.index("tracking_timestamp_us")]
    r4 = rows[3].split(",")
    r4[cols.index("qw_world_device")] = "5.0"
    r5 = rows[4].split(",")
    r5[cols.index("tracking_timestamp_us")] = str(int(r5[cols.index("tracking_timestamp_us")]) + 1_000_000)
    bad = tmp_path / "traj.csv"
    bad.write_text("\n".join([header, rows[0], rows[1], ",".join(r3), ",".join(r4), ",".join(r5), rows[5]]) + "\n")
    tr = read_mps_trajectory(bad, max_gap_s=0.1)
    assert [i.kind for i in tr.issues] == ["backwards", "bad_pose", "gap", "backwards"]
    assert len(tr.t_ns) == 3 and (np.diff(tr.t_ns) > 0).all()
    with pytest.raises(ConfigError, match="missing column"):
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        read_mps_trajectory(tmp_path / "x.csv")


def test_adt_skeleton_reads_51_joints_on_the_device_clock(adt):
    path = adt / "Skeleton_T.json"
    raw = json.loads(path.read_text())
    sk = read_adt_skeleton(path)
    assert sk.time_domain == "device"  # metadata.json: gt_time_domain DEVICE_CAPTURE
    assert sk.joints_m.shape == (20, 51, 3) and sk.markers_m.shape == (20, 57, 3)
    assert np.array_equal(sk.joints_m[7], np.array(raw["frames"][7]["joints"]))
    assert sk.t_ns[0] == raw["frames"][0]["timestamp_ns"]
    assert sk.dt_optitrack_minus_device_ns == {"1WM103600M1292": 2138633358000000}
    # the skeleton's times fall inside the device trajectory's (same clock)
    tr = read_mps_trajectory(adt / "aria_trajectory.csv")
    assert tr.t_ns[0] <= sk.t_ns[0] and sk.t_ns[-1] <= tr.t_ns[-1]
    # as OptiTrack times the offset is subtracted
    opt = read_adt_skeleton(path, time_domain="optitrack")
    assert (sk.t_ns - opt.t_ns == 2138633358000000).all()


def test_adt51_spec_matches_the_data_and_maps_to_the_common_specs(adt):
    sk = read_adt_skeleton(adt / "Skeleton_T.json")
    j = sk.joints_m[0]
    name = {n: i for i, n in enumerate(ADT51.joints)}
    assert len(ADT51.joints) == len(ADT_JOINT_LABELS) == 51
    # the joints are where the names say: pelvis = hip-joint midpoint, plausible bone lengths
    assert np.allclose(j[name["pelvis"]], 0.5 * (j[name["left_hip"]] + j[name["right_hip"]]), atol=1e-6)
    for a, b, lo, hi in (("left_shoulder", "left_elbow", 0.22, 0.36), ("left_elbow", "left_wrist", 0.2, 0.32),
                         ("left_hip", "left_knee", 0.35, 0.5), ("left_knee", "left_ankle", 0.35, 0.5)):  # fmt: skip
        assert lo < np.linalg.norm(j[name[a]] - j[name[b]]) < hi, (a, b)
    reg = SkeletonRegistry([*builtin_skeletons(), ADT51])
    coco = reg.convert(j, "adt51", "coco17")
    assert np.isnan(coco[:5]).all() and np.isfinite(coco[5:]).all()  # no face in mocap; all 12 limbs
    smpl = reg.convert(j, "adt51", "smpl24")
    shared = ("pelvis", "left_hip", "left_knee", "left_ankle", "left_foot", "neck", "left_collar", "left_shoulder",
              "left_elbow", "left_wrist")  # fmt: skip
    smpl_spec = reg.get("smpl24")
    for joint in shared:
        assert np.allclose(smpl[smpl_spec.index(joint)], j[name[joint]])
    wb = reg.convert(j, "adt51", "coco_wholebody133")
    wbs = reg.get("coco_wholebody133")
    assert np.allclose(wb[wbs.index("left_hand_5")], j[ADT_JOINT_LABELS.index("LIndex1")])


def test_online_calibration_json_parameters_are_read_exactly(mps):
    path = mps / "online_calibration.jsonl"
    records = read_aria_camera_records(path)
    assert len(records) == 122  # wc -l says 121: the last line has no newline
    first = json.loads(path.read_text().splitlines()[0])
    cams = aria_cameras_from_json(records[0])
    assert [c.label for c in cams] == ["camera-slam-left", "camera-slam-right", "camera-rgb"]
    for cam, raw in zip(cams, first["CameraCalibrations"], strict=True):
        assert list(cam.params) == raw["Projection"]["Params"]  # bit for bit
        assert np.array_equal(cam.device_from_camera[:3, 3], raw["T_Device_Camera"]["Translation"])
    assert (cams[0].width, cams[0].height, cams[2].width) == (640, 480, 2880)
    right = cams[1].device_from_camera
    assert abs(np.linalg.norm(right[:3, 3]) - 0.138) < 0.005  # the stereo baseline the data README gives
    # a written record reads back to the same cameras
    back = aria_cameras_from_json(aria_cameras_to_json(cams))
    for a, b in zip(cams, back, strict=True):
        assert a.params == b.params and np.abs(a.device_from_camera - b.device_from_camera).max() < 1e-12


def test_vrs_frames_and_factory_calibration(projectaria, gen1_vrs):
    with VrsRecording(gen1_vrs) as rec:
        assert {"camera-slam-left", "camera-slam-right", "camera-rgb"} <= set(rec.labels())
        t = rec.timestamps_ns("camera-slam-left")
        assert len(t) == 4 and (np.diff(t) > 0).all()
        f = rec.frame("camera-slam-left", 1)
        assert f.image.shape == (480, 640) and f.image.dtype == np.uint8 and f.t_ns == t[1]
        cams = {c.label: c for c in rec.cameras()}
        assert cams["camera-slam-left"].width == 640 and len(cams["camera-slam-left"].params) == 15
        assert np.allclose(cams["camera-slam-left"].device_from_camera, np.eye(4))
    with pytest.raises(ConfigError, match="VRS file not found"):
        VrsRecording(gen1_vrs.parent / "nope.vrs")
