"""sensorfusion-rerun: viewers for live rigs and recorded sessions.

* :class:`RerunSink` (``sink: rerun`` in ``rig.yaml``) — a running rig in Rerun's viewer
  (``spawn: true`` / ``connect: URL``) or an ``.rrd`` file (``save: PATH``).
* :func:`write_rrd` — a recorded session as a Rerun recording (``sensorfusion export SESSION
  --to rrd``).
* :func:`write_mcap` — a recorded session as MCAP with Foxglove's protobuf schemas
  (``sensorfusion export SESSION --to mcap``): ``foxglove.SceneUpdate`` skeletons and tracks,
  ``foxglove.RawImage`` / ``CompressedImage``, ``foxglove.CameraCalibration``,
  ``foxglove.ImageAnnotations`` (2D keypoints), ``foxglove.PointCloud`` (radar),
  ``foxglove.FrameTransforms``.
* :func:`person_rgb` — the stable colour of a person id both viewers use.

Exports load on first use, so the plugin stays light.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._export_mcap import write_mcap
    from ._export_rrd import write_rrd
    from ._scene import person_rgb
    from ._sink import RerunSink, RerunSinkParams

__version__ = "0.1.0"

__all__ = ["RerunSink", "RerunSinkParams", "__version__", "person_rgb", "write_mcap", "write_rrd"]

__getattr__, __dir__ = lazy_exports(__name__)
