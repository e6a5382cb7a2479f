"""Differentiable camera models and triangulation in torch, for training and for other plugins.

Every camera model of the core's union (:data:`sensorfusion.schema.CameraModel`): pinhole +
Brown–Conrady (rational k1..k6, p1, p2), Kannala–Brandt fisheye, double sphere,
Scaramuzza/OCamCalib omnidirectional and Fisheye624 (Project Aria), with the core's parameter layouts
(:func:`sensorfusion.geometry.camera_params`) and conventions (OpenCV axes, metres, pixels
with (0, 0) at the centre of the top-left pixel, ``a_from_b`` transforms).

* :class:`TorchCamera` — ``project(points_camera (*, 3))`` and ``unproject(pixels (*, 2))``,
  ``undistort_points``; batched over any leading dimensions, float32 or float64, on any device,
  differentiable in the points/pixels and in ``params``.
* :class:`TorchRig` — ``V`` cameras with their poses: ``project(points_world)`` into every
  view, ``rays(pixels)`` as world directions from :meth:`TorchRig.centers_world`.
* :func:`triangulate_dlt` — the core's confidence-weighted DLT, differentiable;
  :func:`triangulate_rays` — weighted least-squares point nearest to world rays.

**Every function returns ``(values, valid)``**: values are finite everywhere — rows where
``valid`` is False hold placeholders — so a loss masked with ``torch.where(valid, ...)`` has
finite values and gradients (NaN never enters a graph; no NaN gradient on the optical axis,
at the origin, behind the camera or for NaN input). Use :func:`nan_where_invalid` to get
the core's NaN-for-invalid arrays for reports. Iterative inversions (Brown–Conrady
undistortion, Kannala–Brandt θ, Scaramuzza without ``inv_poly``) run without gradients and
then take one Newton step on the tape, whose derivative is the exact implicit one.

The numpy reference is :mod:`sensorfusion.geometry` and
:func:`sensorfusion.fusion.triangulate_points`; the tests compare against them on the same
inputs and check gradients against finite differences.
"""

from ._camera import CAMERA_MODELS, CameraFunctions, TorchCamera, nan_where_invalid, register_camera_model
from ._double_sphere import ds_project, ds_unproject
from ._fisheye624 import f624_project, f624_unproject
from ._kannala_brandt import kb_project, kb_unproject
from ._pinhole import pinhole_project, pinhole_unproject
from ._rig import TorchRig
from ._scaramuzza import scaramuzza_project, scaramuzza_unproject
from ._triangulate import triangulate_dlt, triangulate_rays

__all__ = [
    "CAMERA_MODELS",
    "CameraFunctions",
    "TorchCamera",
    "TorchRig",
    "ds_project",
    "ds_unproject",
    "f624_project",
    "f624_unproject",
    "kb_project",
    "kb_unproject",
    "nan_where_invalid",
    "pinhole_project",
    "pinhole_unproject",
    "register_camera_model",
    "scaramuzza_project",
    "scaramuzza_unproject",
    "triangulate_dlt",
    "triangulate_rays",
]
