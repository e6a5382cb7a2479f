"""sensorfusion-onnx: keypoint estimators for user-supplied ONNX models (RTMPose/SimCC, RTMO, YOLO-pose)."""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._estimator import FAMILIES, OnnxKeypoints, OnnxKeypointsParams
    from ._geometry import RTMPOSE_MEAN, RTMPOSE_STD, box_to_center_scale, decode_simcc, letterbox, nms, topdown_affine

__all__ = [
    "FAMILIES",
    "RTMPOSE_MEAN",
    "RTMPOSE_STD",
    "OnnxKeypoints",
    "OnnxKeypointsParams",
    "box_to_center_scale",
    "decode_simcc",
    "letterbox",
    "nms",
    "topdown_affine",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
