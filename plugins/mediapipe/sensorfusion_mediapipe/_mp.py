"""Access to MediaPipe's legacy ``solutions`` API: import check, bundled models, quiet calls.

MediaPipe is imported lazily so that the plugin registers (and ``sensorfusion plugins``
lists it) on a machine without it; building a component then raises
:class:`~sensorfusion.MissingDependencyError` with the exact install command.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from sensorfusion import MissingDependencyError

__all__ = [
    "INSTALL",
    "bundled_pose_models",
    "make_face_mesh",
    "make_pose",
    "make_pose_detector",
    "quiet",
    "require_mediapipe",
]

INSTALL = 'pip install "mediapipe>=0.10.14,<=0.10.21"'

# model_complexity -> the landmark model file the legacy Pose graph loads
_POSE_MODELS = {
    0: "modules/pose_landmark/pose_landmark_lite.tflite",
    1: "modules/pose_landmark/pose_landmark_full.tflite",
    2: "modules/pose_landmark/pose_landmark_heavy.tflite",
}

# The BlazePose person detector on its own: MediaPipe's ``PoseDetectionCpu`` subgraph
# (pose_detection.tflite, bundled), returning every detection that survives its NMS.
_POSE_DETECTION_GRAPH = """
input_stream: "image"
output_stream: "detections"
node {
  calculator: "PoseDetectionCpu"
  input_stream: "IMAGE:image"
  output_stream: "DETECTIONS:detections"
}
"""


def require_mediapipe(what: str) -> ModuleType:
    """Import ``mediapipe`` or raise :class:`MissingDependencyError` naming ``what``."""
    try:
        with quiet():
            import mediapipe  # type: ignore[import-untyped,unused-ignore]
            import mediapipe.python.solutions.face_mesh  # type: ignore[import-untyped,unused-ignore]
            import mediapipe.python.solutions.pose  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise MissingDependencyError(f"{what} (mediapipe: {exc})", install=INSTALL) from None
    module: ModuleType = mediapipe
    return module


def _package_dir() -> Path:
    mp = require_mediapipe("the MediaPipe models")
    return Path(str(mp.__file__)).parent


def bundled_pose_models() -> dict[int, Path]:
    """The model complexities whose landmark model is present in the installed wheel."""
    root = _package_dir()
    return {c: root / rel for c, rel in _POSE_MODELS.items() if (root / rel).is_file()}


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence protobuf's deprecation warning that MediaPipe's Python layer triggers on each call.

    ``warnings`` filters are process-wide, so this also covers worker threads that run
    while the block is active.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning
        )
        yield


def make_pose(
    *, static_image_mode: bool, model_complexity: int, min_detection_confidence: float, min_tracking_confidence: float
) -> Any:
    """A legacy ``mediapipe.solutions.pose.Pose`` (never downloads: complexities are checked first)."""
    mp = require_mediapipe("mediapipe.pose")
    with quiet():
        return mp.solutions.pose.Pose(
            static_image_mode=static_image_mode,
            model_complexity=model_complexity,
            smooth_landmarks=not static_image_mode,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )


def make_face_mesh(*, min_detection_confidence: float) -> Any:
    """A static-image legacy ``FaceMesh`` for one face per (head) crop."""
    mp = require_mediapipe("mediapipe.pose head pose")
    with quiet():
        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=False,
            min_detection_confidence=min_detection_confidence,
        )


def make_pose_detector(*, min_score: float) -> Any:
    """MediaPipe's BlazePose person detector as a graph of its own (all detections)."""
    require_mediapipe("the BlazePose person detector")
    from mediapipe.python.solution_base import SolutionBase  # type: ignore[import-untyped,unused-ignore]

    with quiet():
        return SolutionBase(
            graph_config=_POSE_DETECTION_GRAPH,
            outputs=["detections"],
            calculator_params={"posedetectioncpu__TensorsToDetectionsCalculator.min_score_thresh": min_score},
        )
