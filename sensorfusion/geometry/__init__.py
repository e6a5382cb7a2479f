"""Camera geometry: camera models, projection, unprojection, Jacobians and transforms.

Models (the schema's camera union): pinhole + Brown–Conrady (k1..k6, p1, p2), Kannala–Brandt
fisheye, Scaramuzza/OCamCalib omnidirectional, double sphere, and Project Aria's Fisheye624
(radial θ polynomial to θ¹³, tangential and thin-prism terms). Conventions: OpenCV camera
axes (x right, y down, z forward), metres, pixels with (0, 0) at the centre of the top-left
pixel and ``u`` along columns, transforms named ``a_from_b``.

Functions (all float64, batched over leading dimensions ``*``):

* ``project(camera, points_camera (*, N, 3), *, tier) -> pixels (*, N, 2)``
* ``project_with_jacobian(...) -> (pixels (*, N, 2), d_pixel_d_point (*, N, 2, 3))``
* ``unproject(camera, pixels (*, N, 2), *, tier) -> unit rays (*, N, 3)``
* ``undistort_points(camera, pixels (*, N, 2), *, tier) -> (x/z, y/z) (*, N, 2)``
* ``transform_points(a_from_b, points_b (*, N, 3)) -> points_a`` (``Transform``, ``(4, 4)`` or
  ``(*, 4, 4)``)
* ``world_to_pixels(camera, world_from_camera, points_world (*, N, 3), *, tier)``
* ``read_ocamcalib(path) -> OmnidirectionalCamera``; ``camera_params(camera)`` (flat array)
* ``quaternion_to_matrix``, ``matrix_to_quaternion`` (``x, y, z, w``), ``pose_matrix``, and
  ``interpolate_poses(t_query_ns, t_ns, poses)`` (SLERP over a pose track, NaN outside it)

Invalid input never raises mid-batch: a point the model cannot image, a non-finite value,
or an inversion that does not converge gives NaN in that row. Wrong shapes raise
:class:`ShapeError` (a :class:`sensorfusion.SchemaError` with ``expected_shape`` and
``actual_shape``); an unknown tier or camera is a :class:`sensorfusion.ConfigError`.

Each operation exists in three kernel tiers with one signature (``numpy`` reference, Numba
``cpu`` with ``parallel=True``, Numba ``cuda`` with one thread per point), registered as
``geometry.<model>.<op>`` in :mod:`sensorfusion.kernels`; ``tier="auto"`` picks CUDA on a
real GPU, else the CPU tier. Scalar Numba versions for other Numba code, and the parameter
layouts, Newton caps and tolerances and the OCamCalib conventions, are documented in
:mod:`sensorfusion.geometry._numba_models`.

The older helpers ``project_pinhole``, ``projection_matrix``, ``look_at``,
``distort_normalized`` and ``undistort_pixels`` (world-frame pinhole projection used by the
DLT stage and the simulator) are kept as they were.
"""

from ._api import Camera, project, project_with_jacobian, undistort_points, unproject, world_to_pixels
from ._omnidirectional import read_ocamcalib
from ._params import camera_params
from ._pinhole import distort_normalized, look_at, project_pinhole, projection_matrix, undistort_pixels
from ._poses import interpolate_poses, matrix_to_quaternion, pose_matrix, quaternion_to_matrix
from ._shapes import ShapeError
from ._transforms import transform_points

__all__ = [
    "Camera",
    "ShapeError",
    "camera_params",
    "distort_normalized",
    "interpolate_poses",
    "look_at",
    "matrix_to_quaternion",
    "pose_matrix",
    "project",
    "project_pinhole",
    "project_with_jacobian",
    "projection_matrix",
    "quaternion_to_matrix",
    "read_ocamcalib",
    "transform_points",
    "undistort_pixels",
    "undistort_points",
    "unproject",
    "world_to_pixels",
]
