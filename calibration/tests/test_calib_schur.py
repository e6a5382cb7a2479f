"""The board-pose adjustment's speed-ups: the Schur-complement solver against ``least_squares`` on
the same problems, the ``calibration.ba_normal`` kernel's tiers, and the planar PnP start."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sensorfusion_calibration._ba_kernels import alloc_outputs, ba_jacobian
from sensorfusion_calibration._ba_normal import ba_normal, normal_size
from sensorfusion_calibration._boards import parse_board
from sensorfusion_calibration._bundle import BAProblem, bundle_adjust
from sensorfusion_calibration._extrinsics import _pnp, calibrate_extrinsics, cam_vec, intr_row
from sensorfusion_calibration._synthetic import synthetic_board_views
from sensorfusion_sim import make_rig

from sensorfusion import ConfigError


def _normal_inputs(seed: int, *, n_sel: int, points_mode: bool) -> tuple[object, ...]:
    rng = np.random.default_rng(seed)
    n = 50
    res, j_cam, j_obj = rng.normal(size=(n, 2)), rng.normal(size=(n, 2, 6)), rng.normal(size=(n, 2, 6))
    j_intr, j_pt = rng.normal(size=(n, 2, 9)), rng.normal(size=(n, 2, 3))
    weight = rng.uniform(0.1, 1.0, (n, 2))
    weight[::7] = 0.0  # rows that add nothing
    sel = np.sort(rng.choice(9, n_sel, replace=False)).astype(np.int64)
    pair_start = np.array([0, 5, 5, 17, 30, 31, 50], np.int64)  # one empty pair, one single row
    k = normal_size(n_sel, points_mode)
    p = pair_start.size - 1
    return (
        res,
        j_cam,
        j_obj,
        j_intr,
        j_pt,
        weight,
        sel,
        int(points_mode),
        pair_start,
        np.zeros((p, k)),
        np.zeros((p, k, k)),
    )


@pytest.mark.parametrize(("n_sel", "points_mode"), [(0, False), (6, False), (9, True), (0, True)])
def test_ba_normal_tiers_agree_with_the_definition(n_sel: int, points_mode: bool) -> None:
    args = _normal_inputs(1, n_sel=n_sel, points_mode=points_mode)
    res, j_cam, j_obj, j_intr, j_pt, weight, sel, _pm, pair_start, _s, _o = args
    outs = {}
    for tier in ("numpy", "cpu"):
        a = list(args)
        a[-2], a[-1] = np.zeros_like(args[-2]), np.full_like(args[-1], np.nan)  # every entry is written
        ba_normal(tier)(*a)
        outs[tier] = a[-1]
    np.testing.assert_allclose(outs["cpu"], outs["numpy"], rtol=1e-12, atol=1e-12)
    # the definition, written out: sum over the pair's rows of w x^T x
    x = np.concatenate([j_cam, j_intr[:, :, sel], j_pt if points_mode else j_obj, res[:, :, None]], axis=2)  # type: ignore[call-overload,index]
    for p in range(pair_start.size - 1):  # type: ignore[union-attr]
        rows = slice(pair_start[p], pair_start[p + 1])  # type: ignore[index]
        want = np.einsum("na,nai,naj->ij", weight[rows], x[rows], x[rows])  # type: ignore[index]
        np.testing.assert_allclose(outs["cpu"][p], want, rtol=1e-12, atol=1e-12)
    assert np.all(outs["cpu"][1] == 0)  # the empty pair
    # NaN input stays in its pair
    a = list(args)
    r = np.array(res, copy=True)
    r[20, 0] = np.nan
    a[0] = r
    ba_normal("cpu")(*a)
    assert np.isnan(a[-1][3]).any() and np.isfinite(np.delete(a[-1], 3, axis=0)).all()


def test_ba_normal_cuda_tier_under_the_simulator() -> None:
    code = textwrap.dedent(
        """
        import numpy as np, sys
        sys.path.insert(0, %r)
        from test_calib_schur import _normal_inputs
        from sensorfusion_calibration._ba_normal import ba_normal
        for n_sel, pm in ((6, False), (0, True)):
            a = list(_normal_inputs(2, n_sel=n_sel, points_mode=pm))
            b = [x.copy() if isinstance(x, np.ndarray) else x for x in a]
            ba_normal("numpy")(*a)
            ba_normal("cuda")(*b)
            np.testing.assert_allclose(a[-1], b[-1], rtol=1e-10, atol=1e-10)
        print("ok")
        """
    ) % os.path.dirname(__file__)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def _board_problem(seed: int = 2, *, refine: bool = False) -> BAProblem:
    """An 4-camera board problem with a perturbed start (cameras 1 deg / 3 cm off, boards 1 cm)."""
    from sensorfusion_calibration._extrinsics import _vec

    rig = make_rig(4, width=1280, height=720)
    board = parse_board("charuco:5x7:0.1:0.07:DICT_4X4_50")
    dets, truth = synthetic_board_views(rig, board, poses=25, noise_px=0.5, outlier_fraction=0.05, seed=seed)
    ids = list(rig.sensors)
    rng = np.random.default_rng(seed)
    cams = np.array([cam_vec(np.linalg.inv(rig.sensors[c].world_from_sensor.matrix)) for c in ids])
    cams[1:] += np.column_stack([rng.normal(0, np.radians(1), (3, 3)), rng.normal(0, 0.03, (3, 3))])
    frames = sorted(truth)
    objp = np.array([_vec(truth[f]) for f in frames]) + np.column_stack([np.zeros((len(frames), 3)),
                                                                        rng.normal(0, 0.01, (len(frames), 3))])  # fmt: skip
    ci, oi, pts, uv = [], [], [], []
    for k, c in enumerate(ids):
        for f, d in dets[c].items():
            ci.append(np.full(d.count, k))
            oi.append(np.full(d.count, frames.index(f)))
            pts.append(board.object_points(d.ids))
            uv.append(d.corners_px)
    intr = np.array([intr_row(rig.sensors[c].camera) for c in ids])  # type: ignore[arg-type]
    if refine:
        intr[:, 0] *= 1.01
        intr[:, 1] *= 0.99
    return BAProblem(cams, intr, objp, np.concatenate(pts), np.concatenate(ci), np.concatenate(oi), np.concatenate(uv),
                     np.array([1, 0, 0, 0], np.uint8), refine_intrinsics=refine, intrinsics_terms=("fx", "fy", "cx", "cy"))  # fmt: skip


def _gradient(prob: BAProblem, cam: np.ndarray, intr: np.ndarray, objp: np.ndarray, loss: str) -> np.ndarray:
    """Gradient of the robust cost over the free unknowns (cameras but the gauge, boards, refined terms)."""
    from sensorfusion_calibration._schur import robust_weights

    o = alloc_outputs(prob.obj.shape[0])
    ba_jacobian("cpu")(cam, intr, objp, prob.obj, prob.cam_idx, prob.obj_idx, prob.uv, prob.cam_fixed, *o)
    res, j_cam, j_obj, j_intr = o[0], o[1], o[2], o[3]
    wr = robust_weights(loss, res, 1.0)[1] * res
    g_cam = np.zeros((cam.shape[0], 6))
    np.add.at(g_cam, prob.cam_idx, np.einsum("nai,na->ni", j_cam, wr))
    g_obj = np.zeros((objp.shape[0], 6))
    np.add.at(g_obj, prob.obj_idx, np.einsum("nai,na->ni", j_obj, wr))
    g_int = np.zeros((cam.shape[0], 9))
    np.add.at(g_int, prob.cam_idx, np.einsum("nai,na->ni", j_intr, wr))
    parts = [g_cam[prob.cam_fixed == 0].ravel(), g_obj.ravel()]
    if prob.refine_intrinsics:
        parts.append(g_int[:, :4].ravel() * 100.0)  # per 100 px: comparable with radians and metres
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("loss", "refine"), [("huber", False), ("soft_l1", False), ("cauchy", True), ("linear", False)]
)
def test_schur_reaches_the_minimum(loss: str, refine: bool) -> None:
    prob = _board_problem(refine=refine)
    # least_squares with tight lsmr tolerances as the reference (its default inexact steps stall short of it)
    a = bundle_adjust(prob, loss=loss, solver="scipy", max_nfev=400, ftol=1e-12, xtol=1e-14,
                      tr_options={"atol": 1e-12, "btol": 1e-12})  # fmt: skip
    b = bundle_adjust(prob, loss=loss, solver="schur", max_nfev=200, ftol=1e-10, xtol=1e-12)
    print(f"{loss}: cost {a.cost:.6f} (least_squares, {a.nfev} evaluations) vs {b.cost:.6f} (schur, {b.nfev})")
    assert b.cost <= a.cost * (1 + 1e-9) and b.nfev < 60
    g0 = np.abs(_gradient(prob, prob.cam_params, prob.intr, prob.obj_params, loss)).max()
    g = np.abs(_gradient(prob, b.cam_params, b.intr, b.obj_params, loss)).max()
    assert g < 1e-5 * g0  # a stationary point
    np.testing.assert_array_equal(b.cam_params[0], prob.cam_params[0])  # the gauge camera stays put
    if loss in ("linear", "soft_l1"):  # convex enough here: both find the same minimum
        np.testing.assert_allclose(b.cam_params, a.cam_params, atol=1e-5)
        np.testing.assert_allclose(b.obj_params, a.obj_params, atol=1e-5)
        np.testing.assert_allclose(b.residuals_px, a.residuals_px, atol=1e-4)


def test_schur_in_points_mode_and_bad_choices() -> None:
    prob = _board_problem()
    # free points: every corner of every board pose becomes a point at its true place (+1 cm)
    objp6 = prob.obj_params
    from scipy.spatial.transform import Rotation

    world = Rotation.from_rotvec(objp6[prob.obj_idx, :3]).apply(prob.obj) + objp6[prob.obj_idx, 3:]
    key = (
        prob.obj_idx * 1000
        + np.round(prob.obj[:, 0] * 100).astype(int) * 10
        + np.round(prob.obj[:, 1] * 100).astype(int)
    )
    uniq, pid = np.unique(key, return_inverse=True)
    pts = np.zeros((uniq.size, 6))
    pts[pid, 3:] = world + 0.01
    pp = BAProblem(prob.cam_params, prob.intr, pts, np.zeros_like(prob.obj), prob.cam_idx, pid, prob.uv, prob.cam_fixed,
                   points_mode=True)  # fmt: skip
    a = bundle_adjust(pp, solver="scipy", max_nfev=200, ftol=1e-10, xtol=1e-12)
    b = bundle_adjust(pp, solver="schur", max_nfev=200, ftol=1e-10, xtol=1e-12)
    assert b.cost <= a.cost * (1 + 1e-9)  # least_squares' inexact lsmr steps stop higher here
    o = alloc_outputs(pp.obj.shape[0])
    for params in (pp.obj_params, b.obj_params):
        ba_jacobian("cpu")(b.cam_params if params is b.obj_params else pp.cam_params, pp.intr, params, pp.obj,
                           pp.cam_idx, pp.obj_idx, pp.uv, pp.cam_fixed, *o)  # fmt: skip
        from sensorfusion_calibration._schur import robust_weights

        wr = robust_weights("huber", o[0], 1.0)[1] * o[0]
        g = np.zeros((params.shape[0], 3))
        np.add.at(g, pp.obj_idx, np.einsum("nai,na->ni", o[4], wr))
        if params is pp.obj_params:
            g0 = np.abs(g).max()
    # the points are at their optimum (ftol stops while a weakly seen point still creeps)
    assert np.median(np.abs(g)) < 1e-6 * g0 and np.abs(g).max() < 1e-2 * g0
    with pytest.raises(ConfigError, match="valid choices: auto, schur, scipy"):
        bundle_adjust(prob, solver="ceres")


def test_calibrate_extrinsics_same_answer_with_either_solver() -> None:
    rig = make_rig(4, width=1280, height=720)
    board = parse_board("charuco:5x7:0.1:0.07:DICT_4X4_50")
    dets, _ = synthetic_board_views(rig, board, poses=40, noise_px=0.3, outlier_fraction=0.1, seed=8)
    cams = {k: s.camera for k, s in rig.sensors.items()}
    a = calibrate_extrinsics(board, cams, dets, solver="scipy")  # type: ignore[arg-type]
    b = calibrate_extrinsics(board, cams, dets)  # type: ignore[arg-type]
    assert b.ba is not None and ("ftol" in b.ba.message or "xtol" in b.ba.message)
    for sid in rig.sensors:
        np.testing.assert_allclose(b.rig.sensors[sid].world_from_sensor.matrix, a.rig.sensors[sid].world_from_sensor.matrix,
                                   atol=2e-4)  # fmt: skip
        assert b.rms_px[sid] == pytest.approx(a.rms_px[sid], abs=2e-3)
        assert b.outliers[sid] == pytest.approx(a.outliers[sid], abs=3)


def test_planar_pnp_finds_the_true_inliers() -> None:
    rig = make_rig(3, width=1280, height=720)
    board = parse_board("charuco:7x10:0.08:0.06:DICT_4X4_100")
    dets, truth = synthetic_board_views(rig, board, poses=30, noise_px=0.3, outlier_fraction=0.15, seed=4)
    found = missed = wrong = 0
    for sid, per in dets.items():
        cam = rig.sensors[sid].camera
        cfw = np.linalg.inv(rig.sensors[sid].world_from_sensor.matrix)
        for f, d in per.items():
            got = _pnp(board, cam, d)  # type: ignore[arg-type]
            assert got is not None
            cfb, mask = got
            want = cfw @ truth[f]
            assert np.linalg.norm(cfb[:3, 3] - want[:3, 3]) < 0.05
            # the true inliers: within 3 px of the true projection (outliers are displaced >= 5 px)
            uv_true = (cam.K @ (want[:3, :3] @ board.object_points(d.ids).T + want[:3, 3:4])).T  # type: ignore[union-attr]
            inl = np.linalg.norm(uv_true[:, :2] / uv_true[:, 2:] - d.corners_px, axis=1) < 3.0
            found += int((mask & inl).sum())
            missed += int((~mask & inl).sum())
            wrong += int((mask & ~inl).sum())
    assert missed <= 0.001 * found and wrong <= 0.02 * found
    print(f"PnP inliers: {found} found, {missed} missed, {wrong} outliers kept (< 4 px from the pose)")
    # every corner detected as NaN-free but collinear (one row of the board): no pose, no exception
    d0 = next(iter(dets["cam0"].values()))
    row = d0.ids < 6
    from sensorfusion_calibration._boards import BoardDetection

    assert (
        _pnp(board, rig.sensors["cam0"].camera, BoardDetection("x", d0.ids[row], d0.corners_px[row], d0.image_size))
        is None
    )  # type: ignore[arg-type]


def test_kernels_used_by_the_solver_are_registered_in_every_tier() -> None:
    from sensorfusion._kernels import kernel_names

    assert "calibration.ba_normal" in kernel_names() and "calibration.ba_jacobian" in kernel_names()
    assert callable(ba_normal("numpy")) and callable(ba_jacobian("numpy")) and alloc_outputs(0)[0].shape == (0, 2)
