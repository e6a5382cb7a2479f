"""sensorfusion-export: a recorded session's 3D skeletons for animation and biomechanics tools.

* The ``sensorfusion export`` command and the exporters it finds through the
  ``sensorfusion_add_exporters`` hook: ``trc`` (OpenSim, optional scaling + inverse
  kinematics), ``c3d`` (ezc3d), ``bvh``, ``json``, ``csv`` - registered by the ``export`` plugin.
* :func:`load_motion` / :class:`Motion` - a skeleton stream's people on a uniform time grid.
* :func:`solve_bvh`, :func:`write_bvh`, :func:`read_bvh`, :func:`bvh_forward_kinematics` -
  BVH with a fixed-length bone hierarchy and solved joint rotations, and its forward kinematics.
* :func:`write_c3d`, :func:`read_c3d_points`, :func:`write_json`, :func:`write_csv`.

Exports load on first use, so the plugin stays light.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._bvh import BvhMotion, bvh_forward_kinematics, read_bvh, solve_bvh, world_from_bvh, write_bvh
    from ._c3d import read_c3d_points, write_c3d
    from ._motion import Motion, load_motion, skeleton_streams
    from ._opensim import OPENSIM_INSTALL, check_opensim, scale_and_ik
    from ._tables import CSV_COLUMNS, write_csv, write_json

__version__ = "0.1.0"

__all__ = [
    "CSV_COLUMNS",
    "OPENSIM_INSTALL",
    "BvhMotion",
    "Motion",
    "__version__",
    "bvh_forward_kinematics",
    "check_opensim",
    "load_motion",
    "read_bvh",
    "read_c3d_points",
    "scale_and_ik",
    "skeleton_streams",
    "solve_bvh",
    "world_from_bvh",
    "write_bvh",
    "write_c3d",
    "write_csv",
    "write_json",
]

__getattr__, __dir__ = lazy_exports(__name__)
