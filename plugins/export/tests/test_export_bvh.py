"""BVH: rotations solved on a fixed-length hierarchy; forward kinematics (ours, and bvhio's
independent parser) reproduces the joints of a rigid skeleton to within 1 mm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensorfusion_export import (
    bvh_forward_kinematics,
    load_motion,
    read_bvh,
    solve_bvh,
    world_from_bvh,
    write_bvh,
)
from sensorfusion_export._bvh import _euler_deg_to_rotations, rotations_to_euler_deg

from sensorfusion import ConfigError, ExportOptions, export_session
from sensorfusion.plugins import get_plugin_host
from sensorfusion.store import Session


def _gt(session_path):
    s = Session.open(session_path)
    sk = get_plugin_host().skeletons.get("coco17")
    return load_motion(s, "gt/skeleton3d", ExportOptions(), sk), sk


def test_euler_zxy_round_trip_and_matches_scipy():
    rng = np.random.default_rng(0)
    zxy = rng.uniform(-170, 170, size=(200, 3))
    zxy[:, 1] = rng.uniform(-89, 89, size=200)
    R = _euler_deg_to_rotations(zxy)
    from scipy.spatial.transform import Rotation

    assert np.allclose(R, Rotation.from_euler("ZXY", zxy, degrees=True).as_matrix(), atol=1e-12)
    assert np.allclose(rotations_to_euler_deg(R), zxy, atol=1e-9)
    # gimbal lock (x = +-90 deg): the angles differ, the rotation does not
    lock = np.array([[30.0, 90.0, 10.0], [-50.0, -90.0, 20.0]])
    assert np.allclose(
        _euler_deg_to_rotations(rotations_to_euler_deg(_euler_deg_to_rotations(lock))),
        _euler_deg_to_rotations(lock),
        atol=1e-9,
    )


@pytest.mark.parametrize("units", ["cm", "m", "mm"])
def test_rigid_skeleton_round_trip_within_a_millimetre(session_path, tmp_path, units):
    m, sk = _gt(session_path)
    for k in range(len(m.person_ids)):
        joints = m.joints_m[:, k]
        bvh, lengths = solve_bvh(joints, sk.parents, sk.joints, frame_time_s=1 / m.rate_hz, units=units)
        path = tmp_path / f"p{k}.bvh"
        write_bvh(path, bvh)
        back = read_bvh(path)
        assert back.names == bvh.names and back.channels[0][:3] == ["Xposition", "Yposition", "Zposition"]
        assert all(c[-3:] == ["Zrotation", "Xrotation", "Yrotation"] for c in back.channels)
        pos = world_from_bvh(bvh_forward_kinematics(back), units)
        idx = [back.names.index(n) for n in sk.joints]
        err = np.linalg.norm(pos[:, idx] - joints, axis=-1)
        assert np.isfinite(err).all()
        assert err.max() < 1e-3, f"person {k}: {err.max() * 1000:.4f} mm"
        # the bones keep the simulator's lengths
        for j, p in enumerate(sk.parents):
            if p >= 0:
                true = np.linalg.norm(joints[:, j] - joints[:, p], axis=-1)
                assert math.isclose(lengths[f"{sk.joints[p]}-{sk.joints[j]}"], float(np.median(true)), abs_tol=1e-6)


def test_bvhio_reads_the_same_positions(session_path, tmp_path):
    bvhio = pytest.importorskip("bvhio", reason="bvhio (test extra) is not installed")
    m, sk = _gt(session_path)
    bvh, _ = solve_bvh(m.joints_m[:, 0], sk.parents, sk.joints, frame_time_s=1 / m.rate_hz, units="cm")
    path = tmp_path / "p.bvh"
    write_bvh(path, bvh)
    root = bvhio.readAsHierarchy(str(path))
    joints = {j.Name: j for j, _, _ in root.layout()}
    assert set(joints) == set(bvh.names)
    for t in (0, len(bvh.values) // 2, len(bvh.values) - 1):
        root.loadPose(t)
        for n, true in zip(sk.joints, m.joints_m[t, 0], strict=True):
            got = world_from_bvh(np.array(list(joints[n].PositionWorld)), "cm")
            assert np.linalg.norm(got - true) < 1e-3, (t, n)


def test_twist_convention_is_stable_and_the_rest_pose_is_zero(session_path):
    m, sk = _gt(session_path)
    joints = m.joints_m[:, 1]
    bvh, _ = solve_bvh(joints, sk.parents, sk.joints, frame_time_s=1 / m.rate_hz)
    ref = int(np.argmax(np.isfinite(joints).all(axis=2).sum(axis=1)))
    # the rest pose is the most complete frame: every rotation there is (near) zero
    assert np.abs(bvh.values[ref, 3:]).max() < 1e-3
    # a still pose gives the same angles in every frame (no twist flipping around the bones)
    still = np.repeat(joints[:1], 5, axis=0)
    b2, _ = solve_bvh(still, sk.parents, sk.joints, frame_time_s=1 / 30)
    assert np.ptp(b2.values, axis=0).max() < 1e-9
    # angles move smoothly along the session: no frame-to-frame jump over 30 degrees
    assert np.abs(np.diff(bvh.values[:, 3:], axis=0)).max() < 30


def test_export_writes_one_file_per_person_with_missing_joints_filled(session_path, tmp_path):
    out = tmp_path / "out" / "walk.bvh"
    res = export_session(session_path, out)
    assert res.format == "bvh" and res.streams == ("fusion:fusion/skeleton3d",)
    assert [p.name for p in res.paths] == [f"walk_P{p}.bvh" for p in res.person_ids]
    assert res.details["euler_order"] == "ZXY" and res.details["units"] == "cm"
    s = Session.open(session_path)
    sk = get_plugin_host().skeletons.get("coco17")
    m = load_motion(s, "fusion:fusion/skeleton3d", ExportOptions(), sk)
    for path, pid in zip(res.paths, res.person_ids, strict=True):
        b = read_bvh(path)
        assert math.isclose(b.frame_time_s, 1 / m.rate_hz, rel_tol=1e-6)
        pos = world_from_bvh(bvh_forward_kinematics(b), "cm")
        assert np.isfinite(pos).all()  # BVH has no gaps
        k = int(np.flatnonzero(m.person_ids == pid)[0])
        seen = np.flatnonzero(m.present()[:, k])
        est = m.joints_m[seen[0] : seen[-1] + 1, k]
        idx = [b.names.index(n) for n in sk.joints]
        err = np.linalg.norm(pos[:, idx] - est, axis=-1)
        # a noisy estimate on fixed-length bones: close, not exact
        assert np.nanmedian(err) < 0.05, np.nanmedian(err)


def test_a_person_whose_root_is_never_seen_is_skipped(session_path, tmp_path):
    from dataclasses import replace

    from sensorfusion_export._bvh import export_people_bvh

    m, sk = _gt(session_path)
    j = m.joints_m.copy()
    j[:, 1, sk.parents.index(-1)] = np.nan  # person 1's nose, always
    people = export_people_bvh(replace(m, joints_m=j), tmp_path / "w.bvh", units="cm", rigid_tolerance_deg=1.0)
    assert [p["person_id"] for p in people] == [0, 1, 2]
    assert people[1]["path"] is None and "nose" in str(people[1]["skipped"])
    assert (tmp_path / "w_P0.bvh").exists() and not (tmp_path / "w_P1.bvh").exists()


def test_rerooted_at_a_hip_still_round_trips(session_path, tmp_path):
    from sensorfusion_export._bvh import reroot

    m, sk = _gt(session_path)
    parents = reroot(sk.parents, sk.index("left_hip"))
    assert parents[sk.index("left_hip")] == -1 and parents[sk.index("left_shoulder")] == sk.index("left_hip")
    assert parents[sk.index("nose")] == sk.index("left_shoulder")  # the old root now hangs below
    bvh, _ = solve_bvh(m.joints_m[:, 2], parents, sk.joints, frame_time_s=1 / m.rate_hz)
    write_bvh(tmp_path / "h.bvh", bvh)
    back = read_bvh(tmp_path / "h.bvh")
    assert back.names[0] == "left_hip" and back.parents[0] == -1
    pos = world_from_bvh(bvh_forward_kinematics(back), "cm")
    idx = [back.names.index(n) for n in sk.joints]
    assert np.linalg.norm(pos[:, idx] - m.joints_m[:, 2], axis=-1).max() < 1e-3
    res = export_session(
        session_path, tmp_path / "r.bvh", options=ExportOptions(person_ids=(0,), extra={"root": "left_hip"})
    )
    assert read_bvh(res.paths[0]).names[0] == "left_hip"
    with pytest.raises(ConfigError) as bad:
        export_session(session_path, tmp_path / "r.bvh", options=ExportOptions(extra={"root": "pelvis"}))
    assert bad.value.field_path == "--option" and "left_hip" in str(bad.value)
