"""sensorfusion-interop: OpenPose and Pose2Sim interop on the SDK's public API.

* :func:`read_openpose_folder` / :func:`read_openpose_frame` — OpenPose JSON (``--write_json``).
* :func:`write_trc` / :func:`read_trc` — OpenSim TRC as Pose2Sim writes it (Z-up worlds written
  Y-up), :data:`POSE2SIM_BODY25B_MARKERS` and :func:`trc_markers` — its marker names.
* :func:`triangulate_openpose` — 3D people from OpenPose folders and a calibration through the
  SDK's own fusion (:class:`sensorfusion.fusion.PersonFusion`), :class:`TriangulatedPeople`,
  and the writers :func:`write_trc_people`, :func:`write_json`, :func:`write_session`.
* :func:`find_frame_rate` — the frame rate from the source (Pose2Sim ``Config.toml``, videos).
* The ``sensorfusion triangulate`` command (registered by the ``interop`` plugin).

Exports load on first use, so the plugin stays light.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._frame_rate import DEFAULT_FPS, FrameRate, find_frame_rate
    from ._openpose import frame_number, read_openpose_folder, read_openpose_frame
    from ._pose2sim import POSE2SIM_BODY25B_MARKERS, trc_markers
    from ._trc import read_trc, write_trc
    from ._triangulate import TriangulatedPeople, match_camera, triangulate_openpose
    from ._writers import write_json, write_session, write_trc_people

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_FPS",
    "POSE2SIM_BODY25B_MARKERS",
    "FrameRate",
    "TriangulatedPeople",
    "__version__",
    "find_frame_rate",
    "frame_number",
    "match_camera",
    "read_openpose_folder",
    "read_openpose_frame",
    "read_trc",
    "trc_markers",
    "triangulate_openpose",
    "write_json",
    "write_session",
    "write_trc",
    "write_trc_people",
]

__getattr__, __dir__ = lazy_exports(__name__)
