"""sensorfusion-calibration: boards, intrinsics, multi-camera bundle adjustment, calibration
from people, radar/depth/time alignment, and every peer's calibration file format.

Its exports load on first use (``sensorfusion_calibration.calibrate_intrinsics`` imports OpenCV
then), so the plugin that registers ``sensorfusion calibrate`` and the formats stays light."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._align import RigidFit, estimate_time_offset, fit_rigid, rig_calibration_from_realsense
    from ._boards import Board, BoardDetection, detect_board, iter_frames, parse_board
    from ._extrinsics import ExtrinsicsResult, calibrate_extrinsics
    from ._intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics
    from ._people import PeopleCalibration, calibrate_from_people
    from .formats import FORMATS, detect_format, load_calibration, save_calibration

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "Board",
    "BoardDetection",
    "CalibrationError",
    "ExtrinsicsResult",
    "IntrinsicsResult",
    "PeopleCalibration",
    "RigidFit",
    "__version__",
    "calibrate_extrinsics",
    "calibrate_from_people",
    "calibrate_intrinsics",
    "detect_board",
    "detect_format",
    "estimate_time_offset",
    "fit_rigid",
    "iter_frames",
    "load_calibration",
    "parse_board",
    "rig_calibration_from_realsense",
    "save_calibration",
]

__getattr__, __dir__ = lazy_exports(__name__)
