"""Scalar per-observation code of the bundle adjustment: scalar kernels of ``calibration.ba_jacobian``.

Plain Python on scalars and tuples only (no allocation), compiled with
:func:`sensorfusion.kernels.scalar`; the cpu loop and the cuda twin are generated from
:func:`obs_core` (see :mod:`._ba_kernels`).
"""

from __future__ import annotations

import math
from typing import Any

from sensorfusion.kernels import scalar

__all__ = ["matmul3", "matvec", "obs_core", "rot_and_dmat", "skew_times"]


@scalar(inline=True)
def rot_and_dmat(r0: float, r1: float, r2: float) -> tuple[Any, Any]:
    """Rodrigues rotation ``R(r)`` and ``M(r) = (r r^T + (R^T - I)[r]x)/|r|^2`` as row-major 9-tuples."""
    th2 = r0 * r0 + r1 * r1 + r2 * r2
    if th2 < 1e-24:
        rot = (1.0, -r2, r1, r2, 1.0, -r0, -r1, r0, 1.0)
        return rot, (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    th = math.sqrt(th2)
    k0, k1, k2 = r0 / th, r1 / th, r2 / th
    c, s = math.cos(th), math.sin(th)
    v = 1.0 - c
    rot = (
        c + v * k0 * k0, v * k0 * k1 - s * k2, v * k0 * k2 + s * k1,
        v * k1 * k0 + s * k2, c + v * k1 * k1, v * k1 * k2 - s * k0,
        v * k2 * k0 - s * k1, v * k2 * k1 + s * k0, c + v * k2 * k2,
    )  # fmt: skip
    # (R^T - I)
    a00, a01, a02 = rot[0] - 1.0, rot[3], rot[6]
    a10, a11, a12 = rot[1], rot[4] - 1.0, rot[7]
    a20, a21, a22 = rot[2], rot[5], rot[8] - 1.0
    # [r]x = [[0, -r2, r1], [r2, 0, -r0], [-r1, r0, 0]]
    b00, b01, b02 = a01 * r2 - a02 * r1, -a00 * r2 + a02 * r0, a00 * r1 - a01 * r0
    b10, b11, b12 = a11 * r2 - a12 * r1, -a10 * r2 + a12 * r0, a10 * r1 - a11 * r0
    b20, b21, b22 = a21 * r2 - a22 * r1, -a20 * r2 + a22 * r0, a20 * r1 - a21 * r0
    m = (
        (r0 * r0 + b00) / th2, (r0 * r1 + b01) / th2, (r0 * r2 + b02) / th2,
        (r1 * r0 + b10) / th2, (r1 * r1 + b11) / th2, (r1 * r2 + b12) / th2,
        (r2 * r0 + b20) / th2, (r2 * r1 + b21) / th2, (r2 * r2 + b22) / th2,
    )  # fmt: skip
    return rot, m


@scalar(inline=True)
def matvec(a: Any, x0: float, x1: float, x2: float) -> tuple[float, float, float]:
    return (
        a[0] * x0 + a[1] * x1 + a[2] * x2,
        a[3] * x0 + a[4] * x1 + a[5] * x2,
        a[6] * x0 + a[7] * x1 + a[8] * x2,
    )


@scalar(inline=True)
def matmul3(a: Any, b: Any) -> Any:
    return (
        a[0] * b[0] + a[1] * b[3] + a[2] * b[6], a[0] * b[1] + a[1] * b[4] + a[2] * b[7], a[0] * b[2] + a[1] * b[5] + a[2] * b[8],
        a[3] * b[0] + a[4] * b[3] + a[5] * b[6], a[3] * b[1] + a[4] * b[4] + a[5] * b[7], a[3] * b[2] + a[4] * b[5] + a[5] * b[8],
        a[6] * b[0] + a[7] * b[3] + a[8] * b[6], a[6] * b[1] + a[7] * b[4] + a[8] * b[7], a[6] * b[2] + a[7] * b[5] + a[8] * b[8],
    )  # fmt: skip


@scalar(inline=True)
def skew_times(p0: float, p1: float, p2: float, m: Any) -> Any:
    """``[p]x @ m`` for a row-major 9-tuple ``m``."""
    return (
        -p2 * m[3] + p1 * m[6], -p2 * m[4] + p1 * m[7], -p2 * m[5] + p1 * m[8],
        p2 * m[0] - p0 * m[6], p2 * m[1] - p0 * m[7], p2 * m[2] - p0 * m[8],
        -p1 * m[0] + p0 * m[3], -p1 * m[1] + p0 * m[4], -p1 * m[2] + p0 * m[5],
    )  # fmt: skip


@scalar(inline=True)
def obs_core(j: int, cam_params: Any, intr: Any, obj_params: Any, obj: Any, cam_idx: Any, obj_idx: Any, uv: Any,
             cam_fixed: Any, res: Any, j_cam: Any, j_obj: Any, j_intr: Any, j_pt: Any, valid: Any) -> None:  # fmt: skip
    """Residual and Jacobian blocks of observation ``j`` (see :mod:`._ba_kernels`)."""
    c = cam_idx[j]
    o = obj_idx[j]
    ro, mo = rot_and_dmat(obj_params[o, 0], obj_params[o, 1], obj_params[o, 2])
    x0, x1, x2 = obj[j, 0], obj[j, 1], obj[j, 2]
    q = matvec(ro, x0, x1, x2)
    pw0, pw1, pw2 = q[0] + obj_params[o, 3], q[1] + obj_params[o, 4], q[2] + obj_params[o, 5]
    rc, mc = rot_and_dmat(cam_params[c, 0], cam_params[c, 1], cam_params[c, 2])
    # the camera's pose is its rotation (camera_from_world) and its centre in the world
    q0, q1, q2 = pw0 - cam_params[c, 3], pw1 - cam_params[c, 4], pw2 - cam_params[c, 5]
    px, py, pz = matvec(rc, q0, q1, q2)
    for a in range(2):
        res[j, a] = 0.0
        for b in range(6):
            j_cam[j, a, b] = 0.0
            j_obj[j, a, b] = 0.0
        for b in range(9):
            j_intr[j, a, b] = 0.0
        for b in range(3):
            j_pt[j, a, b] = 0.0
    if not (pz > 1e-9):
        valid[j] = 0
        return
    valid[j] = 1
    fx, fy, cx, cy = intr[c, 0], intr[c, 1], intr[c, 2], intr[c, 3]
    k1, k2, p1, p2, k3 = intr[c, 4], intr[c, 5], intr[c, 6], intr[c, 7], intr[c, 8]
    k4, k5, k6 = intr[c, 9], intr[c, 10], intr[c, 11]
    iz = 1.0 / pz
    x = px * iz
    y = py * iz
    r2 = x * x + y * y
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    rad = num / den
    dnum = k1 + r2 * (2.0 * k2 + 3.0 * k3 * r2)
    dden = k4 + r2 * (2.0 * k5 + 3.0 * k6 * r2)
    drad = (dnum * den - num * dden) / (den * den)
    xd = x * rad + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * rad + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y
    res[j, 0] = fx * xd + cx - uv[j, 0]
    res[j, 1] = fy * yd + cy - uv[j, 1]
    # d(xd, yd)/d(x, y)
    dxx = rad + 2.0 * x * x * drad + 2.0 * p1 * y + 6.0 * p2 * x
    dxy = 2.0 * x * y * drad + 2.0 * p1 * x + 2.0 * p2 * y
    dyx = 2.0 * x * y * drad + 2.0 * p1 * x + 2.0 * p2 * y
    dyy = rad + 2.0 * y * y * drad + 6.0 * p1 * y + 2.0 * p2 * x
    # d(u, v)/d(p_camera): [fx 0; 0 fy] @ d(xd,yd)/d(x,y) @ [[1/z, 0, -x/z], [0, 1/z, -y/z]]
    g00, g01, g02 = fx * dxx * iz, fx * dxy * iz, -fx * (dxx * x + dxy * y) * iz
    g10, g11, g12 = fy * dyx * iz, fy * dyy * iz, -fy * (dyx * x + dyy * y) * iz
    # intrinsics: fx, fy, cx, cy, k1, k2, p1, p2, k3
    j_intr[j, 0, 0] = xd
    j_intr[j, 1, 1] = yd
    j_intr[j, 0, 2] = 1.0
    j_intr[j, 1, 3] = 1.0
    r4 = r2 * r2
    j_intr[j, 0, 4] = fx * x * r2 / den
    j_intr[j, 1, 4] = fy * y * r2 / den
    j_intr[j, 0, 5] = fx * x * r4 / den
    j_intr[j, 1, 5] = fy * y * r4 / den
    j_intr[j, 0, 6] = fx * 2.0 * x * y
    j_intr[j, 1, 6] = fy * (r2 + 2.0 * y * y)
    j_intr[j, 0, 7] = fx * (r2 + 2.0 * x * x)
    j_intr[j, 1, 7] = fy * 2.0 * x * y
    j_intr[j, 0, 8] = fx * x * r4 * r2 / den
    j_intr[j, 1, 8] = fy * y * r4 * r2 / den
    # G @ R_c : derivative with respect to p_world
    h = (g00 * rc[0] + g01 * rc[3] + g02 * rc[6], g00 * rc[1] + g01 * rc[4] + g02 * rc[7], g00 * rc[2] + g01 * rc[5] + g02 * rc[8],
         g10 * rc[0] + g11 * rc[3] + g12 * rc[6], g10 * rc[1] + g11 * rc[4] + g12 * rc[7], g10 * rc[2] + g11 * rc[5] + g12 * rc[8])  # fmt: skip
    if cam_fixed[c] == 0:
        # d p_camera / d r_c = -R_c [p_world - centre]x M_c ; d p_camera / d centre = -R_c
        dc = matmul3(rc, skew_times(q0, q1, q2, mc))
        for b in range(3):
            j_cam[j, 0, b] = -(g00 * dc[b] + g01 * dc[3 + b] + g02 * dc[6 + b])
            j_cam[j, 1, b] = -(g10 * dc[b] + g11 * dc[3 + b] + g12 * dc[6 + b])
            j_cam[j, 0, 3 + b] = -h[b]
            j_cam[j, 1, 3 + b] = -h[3 + b]
    # d p_world / d r_o = -R_o [x]x M_o ; d p_world / d t_o = I ; d p_world / d x = R_o
    do = matmul3(ro, skew_times(x0, x1, x2, mo))
    for b in range(3):
        j_obj[j, 0, b] = -(h[0] * do[b] + h[1] * do[3 + b] + h[2] * do[6 + b])
        j_obj[j, 1, b] = -(h[3] * do[b] + h[4] * do[3 + b] + h[5] * do[6 + b])
        j_obj[j, 0, 3 + b] = h[b]
        j_obj[j, 1, 3 + b] = h[3 + b]
        j_pt[j, 0, b] = h[0] * ro[b] + h[1] * ro[3 + b] + h[2] * ro[6 + b]
        j_pt[j, 1, b] = h[3] * ro[b] + h[4] * ro[3 + b] + h[5] * ro[6 + b]
