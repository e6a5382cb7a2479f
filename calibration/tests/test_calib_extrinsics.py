"""Multi-camera extrinsics: the synthetic 8-camera acceptance problem, the kernel tiers, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from sensorfusion_calibration._ba_kernels import alloc_outputs, ba_jacobian
from sensorfusion_calibration._boards import parse_board
from sensorfusion_calibration._extrinsics import calibrate_extrinsics
from sensorfusion_calibration._intrinsics import CalibrationError
from sensorfusion_calibration._synthetic import synthetic_board_views
from sensorfusion_sim import make_rig

from sensorfusion.schema import RigCalibration


def rig_errors(est: RigCalibration, truth: RigCalibration) -> tuple[np.ndarray, np.ndarray]:
    """Per-camera position (m) and rotation (rad) errors after the best rigid alignment (the gauge)."""
    ids = list(truth.sensors)
    a = np.array([est.sensors[i].world_from_sensor.matrix for i in ids])
    b = np.array([truth.sensors[i].world_from_sensor.matrix for i in ids])
    pa, pb = a[:, :3, 3], b[:, :3, 3]
    ca, cb = pa.mean(0), pb.mean(0)
    u, _, vt = np.linalg.svd((pb - cb).T @ (pa - ca))
    r = u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt
    pos = np.linalg.norm((pa - ca) @ r.T + cb - pb, axis=1)
    rot = np.array([Rotation.from_matrix((r @ a[i, :3, :3]).T @ b[i, :3, :3]).magnitude() for i in range(len(ids))])
    return pos, rot


def test_eight_cameras_two_hundred_board_poses() -> None:
    rig = make_rig(8, width=1920, height=1080)
    board = parse_board("charuco:7x10:0.08:0.06:DICT_4X4_100")
    dets, truth_boards = synthetic_board_views(rig, board, poses=200, noise_px=0.5, outlier_fraction=0.1, seed=1)
    assert len(truth_boards) == 200
    cams = {k: s.camera for k, s in rig.sensors.items()}
    res = calibrate_extrinsics(board, cams, dets, world="camera:cam0")  # type: ignore[arg-type]
    pos, rot = rig_errors(res.rig, rig)
    print(f"8-camera BA: position error max {pos.max() * 1e3:.3f} mm, rotation max {math.degrees(rot.max()):.4f} deg, "
          f"RMS {max(res.rms_px.values()):.3f} px, outliers {sum(res.outliers.values())}")  # fmt: skip
    assert pos.max() <= 1e-3
    assert math.degrees(rot.max()) <= 0.05
    # scale comes from the board: the distance between two cameras is right without alignment
    d_est = np.linalg.norm(
        np.subtract(
            res.rig.sensors["cam0"].world_from_sensor.translation_m,
            res.rig.sensors["cam4"].world_from_sensor.translation_m,
        )
    )
    d_true = np.linalg.norm(
        np.subtract(
            rig.sensors["cam0"].world_from_sensor.translation_m, rig.sensors["cam4"].world_from_sensor.translation_m
        )
    )
    assert abs(d_est - d_true) < 1e-3
    # the injected outliers (10 %) were found and left out
    n_obs = sum(d.count for v in dets.values() for d in v.values())
    assert 0.07 < sum(res.outliers.values()) / n_obs < 0.13
    assert all(r < 1.0 for r in res.rms_px.values())


def test_world_frame_from_the_floor_board() -> None:
    rig = make_rig(4, width=1280, height=720)
    board = parse_board("charuco:5x7:0.1:0.07:DICT_4X4_50")
    dets, truth = synthetic_board_views(rig, board, poses=40, noise_px=0.2, outlier_fraction=0.0, seed=4)
    cams = {k: s.camera for k, s in rig.sensors.items()}
    frame = next(iter(truth))
    res = calibrate_extrinsics(board, cams, dets, world=f"board:{frame}")  # type: ignore[arg-type]
    # with world = that board's frame, the board pose of that frame is the identity
    assert np.abs(res.world_from_board[frame] - np.eye(4)).max() < 1e-9
    # and each camera's pose is its true pose relative to that board
    for sid, s in rig.sensors.items():
        want = np.linalg.inv(truth[frame]) @ s.world_from_sensor.matrix
        assert np.linalg.norm(res.rig.sensors[sid].world_from_sensor.matrix[:3, 3] - want[:3, 3]) < 0.03


def test_a_camera_sharing_no_view_is_named() -> None:
    rig = make_rig(3, width=1280, height=720)
    board = parse_board("charuco:5x7:0.1:0.07:DICT_4X4_50")
    dets, _ = synthetic_board_views(rig, board, poses=30, noise_px=0.2, outlier_fraction=0.0, seed=2)
    dets["cam2"] = {1000 + k: v for k, v in dets["cam2"].items()}  # cam2's frames never coincide
    cams = {k: s.camera for k, s in rig.sensors.items()}
    with pytest.raises(CalibrationError, match="'cam2' shares no view"):
        calibrate_extrinsics(board, cams, dets)  # type: ignore[arg-type]


def test_degenerate_adjustment_is_an_error() -> None:
    rig = make_rig(2, width=1280, height=720)
    board = parse_board("charuco:5x7:0.1:0.07:DICT_4X4_50")
    dets, _ = synthetic_board_views(rig, board, poses=10, noise_px=0.2, outlier_fraction=0.0, seed=3)
    for d in dets["cam1"].values():  # every corner of cam1 scrambled: no consistent geometry exists
        d.corners_px = np.random.default_rng(0).uniform(0, 700, d.corners_px.shape)
    cams = {k: s.camera for k, s in rig.sensors.items()}
    with pytest.raises(CalibrationError, match=r"no board found|degenerate|shares no view"):
        calibrate_extrinsics(board, cams, dets)  # type: ignore[arg-type]


def _tiny_problem(seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    c, o, n = 3, 4, 40
    cam = np.column_stack([rng.normal(0, 0.2, (c, 3)), rng.normal(0, 0.1, (c, 2)), -rng.uniform(3, 4, (c, 1))])
    intr = np.zeros((c, 12))
    intr[:, :4] = [500, 510, 320, 240]
    intr[:, 4:9] = rng.normal(0, 0.05, (c, 5))
    intr[:, 9:] = rng.normal(0, 0.01, (c, 3))
    objp = np.column_stack([rng.normal(0, 0.3, (o, 3)), rng.normal(0, 0.2, (o, 3))])
    obj = rng.normal(0, 0.3, (n, 3))
    obj[0] = np.nan  # defined result: residual 0, invalid
    ci, oi = rng.integers(0, c, n), rng.integers(0, o, n)
    uv = rng.normal(300, 50, (n, 2))
    fixed = np.array([1, 0, 0], np.uint8)
    return cam, intr, objp, obj, ci, oi, uv, fixed


def test_kernel_tiers_agree_and_match_finite_differences() -> None:
    args = _tiny_problem()
    outs = {}
    for tier in ("numpy", "cpu"):
        o = alloc_outputs(args[3].shape[0])
        ba_jacobian(tier)(*args, *o)
        outs[tier] = o
    for a, b in zip(outs["numpy"], outs["cpu"], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    res, j_cam, j_obj, j_intr, _j_pt, valid = outs["cpu"]
    assert valid[0] == 0 and np.all(res[0] == 0) and valid[1:].all()
    cam, intr, objp, obj, ci, oi, uv, fixed = args

    def r(cam_: np.ndarray, intr_: np.ndarray, objp_: np.ndarray) -> np.ndarray:
        o = alloc_outputs(obj.shape[0])
        ba_jacobian("cpu")(cam_, intr_, objp_, obj, ci, oi, uv, fixed, *o)
        return o[0]

    eps = 1e-6
    for c in (1, 2):
        for b in range(6):
            d = cam.copy()
            d[c, b] += eps
            m = (ci == c) & (valid == 1)
            np.testing.assert_allclose((r(d, intr, objp) - res)[m] / eps, j_cam[m, :, b], rtol=1e-4, atol=1e-3)
    assert np.all(j_cam[ci == 0] == 0)  # the gauge camera has no unknowns
    for k in range(objp.shape[0]):
        for b in range(6):
            d = objp.copy()
            d[k, b] += eps
            m = (oi == k) & (valid == 1)
            np.testing.assert_allclose((r(cam, intr, d) - res)[m] / eps, j_obj[m, :, b], rtol=1e-4, atol=1e-3)
    for b in range(9):
        d = intr.copy()
        d[:, b] += eps * (100 if b < 4 else 1)
        m = valid == 1
        np.testing.assert_allclose(
            (r(cam, d, objp) - res)[m] / (eps * (100 if b < 4 else 1)), j_intr[m, :, b], rtol=1e-4, atol=1e-3
        )


def test_kernel_residual_is_the_sdk_projection() -> None:
    """The bundle adjustment carries its own Brown–Conrady code (it needs derivatives with
    respect to the intrinsics): its residual must equal sensorfusion.geometry.project of the
    same point through the same camera, minus the observation."""
    from scipy.spatial.transform import Rotation

    from sensorfusion.geometry import project
    from sensorfusion.schema import PinholeCamera

    cam, intr, objp, obj, ci, oi, uv, fixed = _tiny_problem(3)
    res, *_, valid = (o := alloc_outputs(obj.shape[0]))
    ba_jacobian("numpy")(cam, intr, objp, obj, ci, oi, uv, fixed, *o)
    names = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")
    checked = 0
    for j in range(obj.shape[0]):
        c, k = ci[j], oi[j]
        p_world = Rotation.from_rotvec(objp[k, :3]).as_matrix() @ obj[j] + objp[k, 3:]
        p_cam = Rotation.from_rotvec(cam[c, :3]).as_matrix() @ (p_world - cam[c, 3:])
        model = PinholeCamera(width=640, height=480, **dict(zip(names, intr[c].tolist(), strict=True)))
        want = project(model, p_cam[None], tier="numpy")[0] - uv[j]
        if valid[j]:
            np.testing.assert_allclose(res[j], want, rtol=0, atol=1e-9)
            checked += 1
        else:
            assert np.all(res[j] == 0) and not np.all(np.isfinite(want))
    assert checked >= obj.shape[0] - 2


def test_intrinsics_refinement_in_the_adjustment() -> None:
    rig = make_rig(4, width=1280, height=720, k1=-0.05)
    board = parse_board("charuco:7x10:0.08:0.06:DICT_4X4_100")
    dets, _ = synthetic_board_views(rig, board, poses=80, noise_px=0.3, outlier_fraction=0.0, seed=6)
    wrong = {k: s.camera.model_copy(update={"fx": s.camera.fx * 1.01, "fy": s.camera.fy * 0.99, "k1": 0.0})  # type: ignore[union-attr]
             for k, s in rig.sensors.items()}  # fmt: skip
    res = calibrate_extrinsics(board, wrong, dets, refine_intrinsics=True)  # type: ignore[arg-type]
    for sid, s in rig.sensors.items():
        got, want = res.rig.camera(sid), s.camera
        assert got.fx == pytest.approx(want.fx, rel=2e-3) and got.fy == pytest.approx(want.fy, rel=2e-3)  # type: ignore[union-attr]
        # the principal point and k1..k3 trade off with the camera's rotation and each other on
        # boards near the image centre; the residuals show the refined model fits
        assert abs(got.cx - want.cx) < 10 and abs(got.k1 - want.k1) < 0.03  # type: ignore[union-attr]
    assert max(res.rms_px.values()) < 0.5  # 0.3 px noise per axis
    fixed = calibrate_extrinsics(board, wrong, dets, refine_intrinsics=False)  # type: ignore[arg-type]
    assert max(res.rms_px.values()) < 0.9 * max(fixed.rms_px.values())  # without refinement the wrong intrinsics show
