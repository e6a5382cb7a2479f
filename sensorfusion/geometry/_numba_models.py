"""Scalar camera-model functions compiled with Numba — private but importable, in one place.

These are the per-point scalar kernels (:func:`sensorfusion.kernels.scalar`) from which the
``cpu`` and ``cuda`` tiers of every model are generated. Each lives in its model's own file
(``_pinhole.py``, ``_kannala_brandt.py``, ``_double_sphere.py``, ``_omnidirectional.py``,
``_fisheye624.py``); this module gathers them. Other Numba code (the calibration toolkit's
bundle adjustment, fusion kernels) may call them directly from its own ``@njit`` functions;
the signatures below are stable.

Every function takes the model parameters as one flat ``float64`` array (build it with
:func:`camera_params`) followed by scalars, and returns a tuple of floats. Invalid input
(non-finite values, a point the model cannot see, an unprojection that does not converge)
gives NaN outputs — never an exception.

Parameter layouts (``params``)
------------------------------
=================  ===========================================================================
model              layout
=================  ===========================================================================
pinhole            ``[fx, fy, cx, cy, k1, k2, p1, p2, k3, k4, k5, k6]`` (12; OpenCV order after K)
kannala_brandt     ``[fx, fy, cx, cy, k1, k2, k3, k4]`` (8)
double_sphere      ``[fx, fy, cx, cy, xi, alpha]`` (6)
scaramuzza         ``[cx, cy, c, d, e, n_poly, n_inv, poly_0 .. poly_{n_poly-1},
                   inv_0 .. inv_{n_inv-1}]`` (7 + n_poly + n_inv; ``cx`` = column, ``cy`` = row)
fisheye624         ``[f, cu, cv, k0, k1, k2, k3, k4, k5, p0, p1, s0, s1, s2, s3]`` (15; Aria's order)
=================  ===========================================================================

Functions per model (``<m>`` is ``pinhole``, ``kb``, ``ds``, ``omni`` or ``f624``):

* ``<m>_project_point(params, x, y, z) -> (u, v)`` — camera-frame point (metres, OpenCV axes:
  x right, y down, z forward) to pixel;
* ``<m>_project_point_jacobian(params, x, y, z) -> (u, v, du_dx, du_dy, du_dz, dv_dx, dv_dy, dv_dz)``;
* ``<m>_unproject_pixel(params, u, v) -> (x, y, z)`` — unit ray in the camera frame;
* ``<m>_undistort_pixel(params, u, v) -> (x_over_z, y_over_z)`` — ideal normalized coordinates,
  NaN when the ray has ``z <= 0``.

Iterative inversions
--------------------
Brown–Conrady undistortion (2-D Newton on the normalized point, started at the distorted
point), Kannala–Brandt (1-D Newton on θ, started at θ_d) and the Scaramuzza ``project``
fallback when ``inv_poly`` is empty (1-D Newton on the image radius ρ, started at the
equidistant guess ``|a0| · angle-from-axis``) stop after :data:`NEWTON_MAX_ITER` iterations or
when the step falls below :data:`NEWTON_STEP_TOL` (normalized units / radians; pixels for
ρ). Fisheye624 inverts in two steps: 2-D Newton on the tangential + thin-prism part (started
at the distorted point), then 1-D Newton on θ (started at θ_d). The result is accepted only if
the forward model reproduces the input to within :data:`NEWTON_RESIDUAL_TOL` (relative);
otherwise the outputs are NaN.

Scaramuzza / OCamCalib conventions
----------------------------------
OCamCalib works in (row, column) order with its own sensor frame: ``x_o`` along the rows
(down), ``y_o`` along the columns (right), ``z_o`` pointing *out of the back* of the camera
(its polynomial's ``a0`` is negative). With an OpenCV camera-frame point ``(X, Y, Z)``:
``x_o = Y, y_o = X, z_o = -Z``. Its ``world2cam`` maps ``θ = atan(z_o / ‖(x_o, y_o)‖)`` to the
image radius ``ρ = Σ inv_i θ^i`` and then ``(row, col) = [[c, d], [e, 1]] · (x_o, y_o) ρ/‖·‖ +
(row_c, col_c)``; ``cam2world`` undoes the affine matrix and lifts ``(x_o, y_o, Σ a_i ρ^i)``.
Here ``u`` is the column and ``v`` the row (OpenCV order), ``cx`` = column centre, ``cy`` =
row centre, so ``u = q_x + e·q_y + cx`` and ``v = d·q_x + c·q_y + cy`` with
``(q_x, q_y) = (X, Y)·ρ/‖(X, Y)‖``.
"""

from __future__ import annotations

from ._double_sphere import ds_project_point, ds_project_point_jacobian, ds_undistort_pixel, ds_unproject_pixel
from ._fisheye624 import f624_project_point, f624_project_point_jacobian, f624_undistort_pixel, f624_unproject_pixel
from ._kannala_brandt import kb_project_point, kb_project_point_jacobian, kb_undistort_pixel, kb_unproject_pixel
from ._omnidirectional import (
    omni_project_point,
    omni_project_point_jacobian,
    omni_undistort_pixel,
    omni_unproject_pixel,
)
from ._params import NEWTON_MAX_ITER, NEWTON_RESIDUAL_TOL, NEWTON_STEP_TOL, PARAM_LAYOUTS, camera_params
from ._pinhole import (
    pinhole_project_point,
    pinhole_project_point_jacobian,
    pinhole_undistort_pixel,
    pinhole_unproject_pixel,
)

__all__ = [
    "NEWTON_MAX_ITER",
    "NEWTON_RESIDUAL_TOL",
    "NEWTON_STEP_TOL",
    "PARAM_LAYOUTS",
    "camera_params",
    "ds_project_point",
    "ds_project_point_jacobian",
    "ds_undistort_pixel",
    "ds_unproject_pixel",
    "f624_project_point",
    "f624_project_point_jacobian",
    "f624_undistort_pixel",
    "f624_unproject_pixel",
    "kb_project_point",
    "kb_project_point_jacobian",
    "kb_undistort_pixel",
    "kb_unproject_pixel",
    "omni_project_point",
    "omni_project_point_jacobian",
    "omni_undistort_pixel",
    "omni_unproject_pixel",
    "pinhole_project_point",
    "pinhole_project_point_jacobian",
    "pinhole_undistort_pixel",
    "pinhole_unproject_pixel",
]
