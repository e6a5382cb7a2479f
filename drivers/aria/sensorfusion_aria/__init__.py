"""sensorfusion-aria: Project Aria recordings as sensors.

Readers for Aria device calibrations (JSON, MPS ``online_calibration.jsonl``, ``.vrs``) as
Fisheye624 cameras mounted on the device, MPS trajectories as ``device_pose`` streams, Aria
Digital Twin body skeletons (spec ``adt51``), ``.vrs`` camera frames, and the
``aria.recording`` driver that plays them through the pipeline in time order.
"""

from ._calibration import (
    ARIA_IMAGE_SIZES,
    AriaCamera,
    aria_cameras_from_json,
    aria_cameras_to_json,
    detect_aria,
    load_aria_calibration,
    read_aria_camera_records,
    rig_calibration,
    save_aria_calibration,
)
from ._driver import AriaRecordingDriver, AriaRecordingParams
from ._skeleton import ADT51, ADT_JOINT_LABELS, ADT_MARKER_LABELS, AdtSkeleton, read_adt_skeleton
from ._trajectory import TrajectoryIssue, TrajectoryRead, read_mps_trajectory
from ._vrs import INSTALL_VRS, VrsFrame, VrsRecording, have_projectaria_tools

__version__ = "0.1.0"

__all__ = [
    "ADT51",
    "ADT_JOINT_LABELS",
    "ADT_MARKER_LABELS",
    "ARIA_IMAGE_SIZES",
    "INSTALL_VRS",
    "AdtSkeleton",
    "AriaCamera",
    "AriaRecordingDriver",
    "AriaRecordingParams",
    "TrajectoryIssue",
    "TrajectoryRead",
    "VrsFrame",
    "VrsRecording",
    "__version__",
    "aria_cameras_from_json",
    "aria_cameras_to_json",
    "detect_aria",
    "have_projectaria_tools",
    "load_aria_calibration",
    "read_adt_skeleton",
    "read_aria_camera_records",
    "read_mps_trajectory",
    "rig_calibration",
    "save_aria_calibration",
]
