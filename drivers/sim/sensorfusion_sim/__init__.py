"""sensorfusion-sim: the SDK's embedded default rig.

Simulated people walking, waving, crouching and turning in a room, filmed by a
hardware-synced ring of calibrated pinhole cameras (``sim.rig``), and a simulated 2D
keypoint detector that projects the ground truth with a realistic error model
(``sim.keypoints2d``). Any person can wear a headset with two downward fisheye cameras and its
own drifting pose tracking (``headsets``), seen by ``sim.headset_keypoints2d``. Everything is a pure function of the rig seed and the frame index.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._ceiling import (
        CeilingCameraParams,
        CeilingCameras,
        ceiling_camera_ids,
        fisheye_camera,
        floor_positions,
        gt_rboxes,
    )
    from ._detector import SimKeypointDetector, SimKeypointParams
    from ._driver import SimRigDriver, SimRigParams
    from ._headset import HeadsetParams, Headsets, gt_pose_stream
    from ._headset_detector import SimHeadsetKeypointDetector, SimHeadsetKeypointParams
    from ._occlusion import joint_occlusion
    from ._people import CAPSULE_NAMES, PeopleSim, body_capsules, capsule_radii_m, heights_from_joints
    from ._raycast_render import RayCastBuffers, RayCastRenderer
    from ._render import CameraRenderer, RenderBuffers
    from ._rig import camera_ids, make_rig

__version__ = "0.1.0"

__all__ = [
    "CAPSULE_NAMES",
    "CameraRenderer",
    "CeilingCameraParams",
    "CeilingCameras",
    "HeadsetParams",
    "Headsets",
    "PeopleSim",
    "RayCastBuffers",
    "RayCastRenderer",
    "RenderBuffers",
    "SimHeadsetKeypointDetector",
    "SimHeadsetKeypointParams",
    "SimKeypointDetector",
    "SimKeypointParams",
    "SimRigDriver",
    "SimRigParams",
    "__version__",
    "body_capsules",
    "camera_ids",
    "capsule_radii_m",
    "ceiling_camera_ids",
    "fisheye_camera",
    "floor_positions",
    "gt_rboxes",
    "gt_pose_stream",
    "heights_from_joints",
    "joint_occlusion",
    "make_rig",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
