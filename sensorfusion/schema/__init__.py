"""The typed schema: streams and frames, skeleton specs, calibration models, the rig config."""

from ._calibration import (
    CameraModel,
    DoubleSphereCamera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
    PinholeCamera,
    RadarModel,
    RigCalibration,
    SensorCalibration,
    Transform,
)
from ._config import (
    CalibrationConfig,
    QueueConfig,
    RecordConfig,
    RestartConfig,
    RigConfig,
    SensorConfig,
    SinkConfig,
    StageConfig,
    SyncConfig,
    load_rig,
    match_streams,
)
from ._mounting import CeilingMount
from ._skeletons import SkeletonRegistry, SkeletonSpec, builtin_skeletons
from ._streams import FieldSpec, Frame, FrameKind, FrameSet, QueuePolicy, StreamSpec, split_stream_name

__all__ = [
    "CalibrationConfig",
    "CameraModel",
    "CeilingMount",
    "DoubleSphereCamera",
    "FieldSpec",
    "Frame",
    "FrameKind",
    "FrameSet",
    "KannalaBrandtCamera",
    "OmnidirectionalCamera",
    "PinholeCamera",
    "QueueConfig",
    "QueuePolicy",
    "RadarModel",
    "RecordConfig",
    "RestartConfig",
    "RigCalibration",
    "RigConfig",
    "SensorCalibration",
    "SensorConfig",
    "SinkConfig",
    "SkeletonRegistry",
    "SkeletonSpec",
    "StageConfig",
    "StreamSpec",
    "SyncConfig",
    "Transform",
    "builtin_skeletons",
    "load_rig",
    "match_streams",
    "split_stream_name",
]
