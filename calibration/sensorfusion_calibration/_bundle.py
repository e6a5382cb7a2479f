"""Sparse bundle adjustment with ``scipy.optimize.least_squares`` on Numba-computed Jacobian blocks.

Unknowns, in this order: every camera's pose (``camera_from_world`` rotation vector and the
camera's centre in the world; 6 each; the gauge camera's stay fixed), every object's ``world_from_object`` pose (6 each) or,
in *points* mode, every object's position (3 each), optionally every camera's intrinsics
``fx, fy, cx, cy, k1, k2, p1, p2, k3`` (9 each), then any extra unknowns of extra residual
terms (bone lengths for calibration from people). The Jacobian goes to ``least_squares``
(``trf`` with ``lsmr``) as a ``scipy.sparse`` CSR matrix whose fixed sparsity pattern (each
reprojection row touches one camera, one object and that camera's intrinsics) is built once; its
values come from the ``calibration.ba_jacobian`` kernel, so nothing is differenced numerically; ``x_scale`` is set per block
(radians, metres, pixels) and the loss is robust (``huber`` or ``soft_l1``, scale in pixels).

``solver="auto"`` (default) solves board-pose problems (objects with 6-dof poses, no extra terms:
what ``calibrate extrinsics`` runs) with :mod:`._schur` — Levenberg–Marquardt on the Schur
complement, the same cost, 4-10x faster than ``least_squares`` on the benchmark — and the others
(free points, bone-length terms) with ``least_squares``, which is faster there: in points mode
every observation is its own (camera, point) pair and the numpy side of the Schur solver costs
more per iteration than ``lsmr``. ``solver="scipy"`` or ``"schur"`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import least_squares

from ._ba_kernels import alloc_outputs, ba_jacobian
from ._intrinsics import CalibrationError

__all__ = ["INTRINSIC_TERMS", "LOSSES", "SOLVERS", "BAProblem", "BAResult", "ExtraTerm", "bundle_adjust"]

LOSSES = ("linear", "huber", "soft_l1", "cauchy")
SOLVERS = ("auto", "schur", "scipy")
INTRINSIC_TERMS = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")


@dataclass
class ExtraTerm:
    """Extra residuals: ``fn(points (O, 3), extra (E,)) -> (res (R,), jac_points (R, O*3) sparse,
    jac_extra (R, E) sparse)``, with ``extra0`` their unknowns' start values. Points mode only."""

    fn: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, sp.spmatrix, sp.spmatrix]]
    extra0: np.ndarray


@dataclass
class BAProblem:
    cam_params: np.ndarray  # (C, 6) camera_from_world rotvec | camera centre in the world (m)
    intr: np.ndarray  # (C, 12) fx fy cx cy k1 k2 p1 p2 k3 k4 k5 k6
    obj_params: np.ndarray  # (O, 6) world_from_object rotvec | t  (points mode: rotvec 0, t = point)
    obj: np.ndarray  # (N, 3) point in its object's frame (points mode: zeros)
    cam_idx: np.ndarray  # (N,) int64
    obj_idx: np.ndarray  # (N,) int64
    uv: np.ndarray  # (N, 2) observed pixels
    cam_fixed: np.ndarray  # (C,) uint8: 1 = pose held fixed (gauge)
    points_mode: bool = False
    refine_intrinsics: bool = False
    # which of fx, fy, cx, cy, k1, k2, p1, p2, k3 are refined (when refine_intrinsics)
    intrinsics_terms: tuple[str, ...] = INTRINSIC_TERMS
    extra: ExtraTerm | None = None


@dataclass
class BAResult:
    cam_params: np.ndarray
    intr: np.ndarray
    obj_params: np.ndarray
    extra: np.ndarray
    residuals_px: np.ndarray  # (N, 2) at the solution
    valid: np.ndarray  # (N,) bool: in front of the camera
    nfev: int
    status: int
    message: str
    cost: float


def _layout(p: BAProblem) -> tuple[int, int, int, int]:
    c_free = int((p.cam_fixed == 0).sum())
    o = p.obj_params.shape[0]
    n_cam = 6 * c_free
    n_obj = (3 if p.points_mode else 6) * o
    n_intr = len(p.intrinsics_terms) * p.cam_params.shape[0] if p.refine_intrinsics else 0
    n_extra = p.extra.extra0.size if p.extra is not None else 0
    return n_cam, n_obj, n_intr, n_extra


def bundle_adjust(
    p: BAProblem,
    *,
    loss: str = "huber",
    f_scale_px: float = 1.0,
    tier: str = "cpu",
    max_nfev: int = 100,
    ftol: float = 1e-6,
    xtol: float = 1e-8,
    verbose: int = 0,
    x_scale: Any = None,
    tr_options: dict[str, Any] | None = None,
    linear_first: bool = True,
    lsmr_tol: Any = None,
    solver: str = "auto",
) -> BAResult:
    """Minimise reprojection error (plus the extra terms) over the problem's unknowns.

    ``max_nfev`` bounds the iterations (``schur``) or function evaluations (``scipy``) of the robust
    pass; the Gauss–Newton warm start (``linear_first``) gets a third of it."""
    from sensorfusion import ConfigError

    if loss not in LOSSES:
        raise ConfigError("unknown robust loss", field_path="loss", value=loss, choices=LOSSES)
    if solver not in SOLVERS:
        raise ConfigError("unknown solver", field_path="solver", value=solver, choices=SOLVERS)
    if solver == "schur" and p.extra is not None:
        raise ConfigError("the schur solver takes no extra terms", field_path="solver", value=solver, choices=["scipy"])
    n = p.obj.shape[0]
    if n == 0:
        raise CalibrationError("degenerate adjustment: no observations")
    if solver == "schur" or (solver == "auto" and p.extra is None and not p.points_mode):
        if not (
            np.all(np.isfinite(p.cam_params)) and np.all(np.isfinite(p.obj_params)) and np.all(np.isfinite(p.intr))
        ):
            raise CalibrationError("degenerate adjustment: the initial estimate has NaN/inf values")
        from ._schur import solve_schur

        sel_terms = np.array([INTRINSIC_TERMS.index(t) for t in p.intrinsics_terms], dtype=np.int64)
        out = solve_schur(p.cam_params, p.intr, p.obj_params, p.obj, p.cam_idx, p.obj_idx, p.uv, p.cam_fixed,
                          points_mode=p.points_mode, intr_sel=sel_terms if p.refine_intrinsics else None, loss=loss,
                          f_scale_px=f_scale_px, tier=tier, max_iter=max_nfev, ftol=ftol, xtol=xtol,
                          linear_first=linear_first)  # fmt: skip
        return BAResult(out["cam_params"], out["intr"], out["obj_params"], np.zeros(0), out["residuals"], out["valid"],
                        out["nfev"], out["status"], out["message"], out["cost"])  # fmt: skip
    kern = ba_jacobian(tier)
    n_cam, n_obj, n_intr, n_extra = _layout(p)
    nobj = 3 if p.points_mode else 6
    ncols = n_cam + n_obj + n_intr + n_extra
    sel = np.array([INTRINSIC_TERMS.index(t) for t in p.intrinsics_terms], dtype=np.int64)
    ni = sel.size
    per_row = 6 + nobj + (ni if p.refine_intrinsics else 0)
    # CSR structure of the reprojection rows: columns ascend within a row (camera, object,
    # intrinsics); the entries of gauge-fixed cameras are left out (they are no unknowns)
    ci, oi = p.cam_idx.astype(np.int64), p.obj_idx.astype(np.int64)
    free = p.cam_fixed == 0
    cam_col = np.cumsum(free) - 1  # column block of each free camera
    cols = [6 * cam_col[ci][:, None] + np.arange(6), n_cam + nobj * oi[:, None] + np.arange(nobj)]
    if p.refine_intrinsics:
        cols.append(n_cam + n_obj + ni * ci[:, None] + np.arange(ni))
    row_cols = np.concatenate(cols, axis=1)  # (N, per_row)
    keep_2d = np.ones((n, per_row), bool)
    keep_2d[:, :6] = free[ci][:, None]
    entry_keep = np.repeat(keep_2d[:, None, :], 2, axis=1).reshape(-1)
    indices = np.repeat(row_cols[:, None, :], 2, axis=1).reshape(-1)[entry_keep].astype(np.int32)
    row_len = np.repeat(per_row - 6 * (~free[ci]), 2)
    indptr = np.concatenate([[0], np.cumsum(row_len)]).astype(np.int64)
    outs = alloc_outputs(n)
    intr = p.intr.copy()
    extra_res0 = p.extra.fn(p.obj_params[:, 3:].copy(), p.extra.extra0)[0] if p.extra is not None else np.zeros(0)
    del extra_res0

    cam_all = p.cam_params.astype(np.float64).copy()

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cam = cam_all
        cam[free] = x[:n_cam].reshape(-1, 6)
        if p.points_mode:
            objp = np.zeros((p.obj_params.shape[0], 6))
            objp[:, 3:] = x[n_cam : n_cam + n_obj].reshape(-1, 3)
        else:
            objp = x[n_cam : n_cam + n_obj].reshape(-1, 6)
        if p.refine_intrinsics:
            intr[:, sel] = x[n_cam + n_obj : n_cam + n_obj + n_intr].reshape(-1, ni)
        return cam, intr, objp, x[n_cam + n_obj + n_intr :]

    cache: dict[str, Any] = {"x": None}

    def evaluate(x: np.ndarray) -> None:
        if cache["x"] is not None and np.array_equal(cache["x"], x):
            return
        cam, intr_now, objp, _ = unpack(x)
        kern(cam, intr_now, objp, p.obj, p.cam_idx, p.obj_idx, p.uv, p.cam_fixed, *outs)
        cache["x"] = x.copy()

    def fun(x: np.ndarray) -> np.ndarray:
        evaluate(x)
        r = outs[0].reshape(-1)
        if p.extra is None:
            return r.copy()
        _, _, objp, ex = unpack(x)
        return np.concatenate([r, p.extra.fn(objp[:, 3:], ex)[0]])

    def jac(x: np.ndarray) -> sp.csr_matrix:
        evaluate(x)
        _res, j_cam, j_obj, j_intr, j_pt, _valid = outs
        blocks = [j_cam, j_pt if p.points_mode else j_obj]
        if p.refine_intrinsics:
            blocks.append(j_intr[:, :, sel])
        data = np.concatenate(blocks, axis=2).reshape(-1)[entry_keep]
        main = sp.csr_matrix((data, indices, indptr), shape=(2 * n, ncols))
        if p.extra is None:
            return main
        _, _, objp, ex = unpack(x)
        _r, jp, je = p.extra.fn(objp[:, 3:], ex)
        zeros_cam = sp.csr_matrix((jp.shape[0], n_cam))
        zeros_intr = sp.csr_matrix((jp.shape[0], n_intr))
        lower = sp.hstack([zeros_cam, jp, zeros_intr, je], format="csr")
        return sp.vstack([main, lower], format="csr")

    x0_parts = [p.cam_params[free].reshape(-1), (p.obj_params[:, 3:] if p.points_mode else p.obj_params).reshape(-1)]
    scale_parts = [np.full(n_cam, 1e-3),
                   np.full(n_obj, 1e-3)]  # fmt: skip
    if p.refine_intrinsics:
        x0_parts.append(p.intr[:, sel].reshape(-1))
        scale_parts.append(
            np.tile(np.array([1.0, 1.0, 1.0, 1.0, 1e-3, 1e-3, 1e-4, 1e-4, 1e-3])[sel], p.cam_params.shape[0])
        )
    if p.extra is not None:
        x0_parts.append(p.extra.extra0)
        scale_parts.append(np.full(n_extra, 1e-3))
    x0 = np.concatenate(x0_parts)
    if not np.all(np.isfinite(x0)):
        raise CalibrationError("degenerate adjustment: the initial estimate has NaN/inf values")
    kwargs: dict[str, Any] = dict(
        jac=jac, method="trf", tr_solver="lsmr", x_scale=x_scale if x_scale is not None else "jac",
        f_scale=f_scale_px, ftol=ftol, xtol=xtol, gtol=1e-12, verbose=verbose, tr_options=tr_options or {},
    )  # fmt: skip
    if lsmr_tol is not None:
        kwargs["lsmr_tol"] = lsmr_tol
    # lsmr's many small BLAS calls (vector norms, dots) run ~10x slower with a multi-threaded
    # BLAS beside Numba's threads than single-threaded: keep BLAS to one thread while solving
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    with threadpool_limits(limits=1, user_api="blas"):
        return _solve(fun, x0, kwargs, loss, linear_first, max_nfev, unpack, evaluate, outs)


def _solve(fun: Any, x0: np.ndarray, kwargs: dict[str, Any], loss: str, linear_first: bool, max_nfev: int,
           unpack: Any, evaluate: Any, outs: Any) -> BAResult:  # fmt: skip
    nfev = 0
    if linear_first and loss != "linear":
        # Gauss-Newton converges in a few steps from a rough start; the robust loss then only
        # re-weights, starting where most residuals are already in its quadratic zone
        first = least_squares(fun, x0, loss="linear", max_nfev=max(max_nfev // 3, 5), **kwargs)
        if np.all(np.isfinite(first.x)):
            x0 = first.x
        nfev += int(first.nfev)
    sol = least_squares(fun, x0, loss=loss, max_nfev=max_nfev, **kwargs)
    nfev += int(sol.nfev)
    if not np.all(np.isfinite(sol.x)) or sol.status < 0:
        raise CalibrationError(f"degenerate adjustment: the solver failed ({sol.message})")
    cam, intr_f, objp, ex = unpack(sol.x)
    evaluate(sol.x)
    return BAResult(cam.copy(), intr_f.copy(), objp.copy(), ex.copy(), outs[0].copy(), outs[5].astype(bool),
                    nfev, int(sol.status), str(sol.message), float(sol.cost))  # fmt: skip
