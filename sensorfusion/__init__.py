"""sensorfusion: sense people with many kinds of sensors at once.

The public API is what this module exports; everything in ``_modules`` is private.
"""

from ._calibration_format import CalibrationFormat
from ._calibration_io import (
    calibration_formats,
    detect_calibration_format,
    load_calibration,
    save_calibration,
)
from ._components import Command, Driver, DriverContext, Estimator, NoParams, Sink, StageContext
from ._deprecations import SensorfusionDeprecationWarning
from ._errors import (
    ConfigError,
    DriverError,
    EndOfStream,
    MissingDependencyError,
    PluginError,
    PluginLoadError,
    SchemaError,
    SensorfusionError,
    SessionDamagedError,
    StoreError,
)
from ._export_io import export_session, exporters
from ._exporter import Exporter, ExportOptions, ExportResult
from ._lazy import lazy, lazy_exports
from ._version import __version__
from .hookspecs import hookimpl
from .schema import (
    FieldSpec,
    Frame,
    FrameKind,
    FrameSet,
    RigCalibration,
    RigConfig,
    SensorCalibration,
    SkeletonSpec,
    StreamSpec,
    Transform,
)

__all__ = [
    "CalibrationFormat",
    "Command",
    "ConfigError",
    "Driver",
    "DriverContext",
    "DriverError",
    "EndOfStream",
    "Estimator",
    "ExportOptions",
    "ExportResult",
    "Exporter",
    "FieldSpec",
    "Frame",
    "FrameKind",
    "FrameSet",
    "MissingDependencyError",
    "NoParams",
    "PluginError",
    "PluginLoadError",
    "RigCalibration",
    "RigConfig",
    "SchemaError",
    "SensorCalibration",
    "SensorfusionDeprecationWarning",
    "SensorfusionError",
    "SessionDamagedError",
    "Sink",
    "SkeletonSpec",
    "StageContext",
    "StoreError",
    "StreamSpec",
    "Transform",
    "__version__",
    "calibration_formats",
    "detect_calibration_format",
    "export_session",
    "exporters",
    "hookimpl",
    "lazy",
    "lazy_exports",
    "load_calibration",
    "save_calibration",
]
