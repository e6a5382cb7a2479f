"""sensorfusion-overhead: people seen by ceiling fisheye cameras.

Rotated person boxes (RAPiD ``[cx, cy, w, h, angle_deg]`` and LOAF polar formats, exact
rotated IoU and NMS), floor localisation through the fisheye model and the camera's
mounting, multi-camera floor tracks with stable ids, zone counts, occupancy heatmaps, and
scores against simulated ground truth.
"""

from typing import TYPE_CHECKING

from sensorfusion import lazy_exports

if TYPE_CHECKING:
    from ._camera import FISHEYE_MODELS, OverheadCamera
    from ._localise import FloorEstimates, LocaliseMethod, LocaliseSettings, localise_detections
    from ._localise_stage import LocaliseParams, OverheadLocalise
    from ._metrics import DetectionAP, TrackScores, pair_positions
    from ._mountfit import MountFit, fit_ceiling_mount, read_floor_points
    from ._onnx import FORMATS, Letterbox, OnnxRotatedDetector, OnnxRotatedParams, decode_rotated, letterbox_image
    from ._rbox import (
        normalize_angle_deg,
        polar_to_rbox,
        radial_rbox_from_points,
        rbox_corners,
        rbox_ends,
        rbox_iou,
        rbox_iou_reference,
        rbox_to_polar,
        rotated_nms,
    )
    from ._rectified import RectifiedDetector, RectifiedParams, UprightEstimator
    from ._rectify import VirtualView, virtual_views
    from ._simdet import SimOverheadDetector, SimOverheadParams, simulate_detections
    from ._sinks import HeatmapParams, MetricsParams, OccupancyHeatmap, OverheadMetrics, render_heatmap
    from ._streams import floor_spec, rboxes_spec
    from ._tracker import FloorTrack, FloorTracker, FloorTrackerSettings, Measurements, Zone, zone_of
    from ._tracks_stage import FloorTracks, FloorTracksParams, skeleton_floor_points

__version__ = "0.1.0"

__all__ = [
    "FISHEYE_MODELS",
    "FORMATS",
    "DetectionAP",
    "FloorEstimates",
    "FloorTrack",
    "FloorTracker",
    "FloorTrackerSettings",
    "FloorTracks",
    "FloorTracksParams",
    "HeatmapParams",
    "Letterbox",
    "LocaliseMethod",
    "LocaliseParams",
    "LocaliseSettings",
    "Measurements",
    "MountFit",
    "MetricsParams",
    "OccupancyHeatmap",
    "OnnxRotatedDetector",
    "OnnxRotatedParams",
    "OverheadCamera",
    "OverheadLocalise",
    "OverheadMetrics",
    "RectifiedDetector",
    "RectifiedParams",
    "SimOverheadDetector",
    "SimOverheadParams",
    "TrackScores",
    "UprightEstimator",
    "VirtualView",
    "Zone",
    "__version__",
    "decode_rotated",
    "fit_ceiling_mount",
    "floor_spec",
    "letterbox_image",
    "localise_detections",
    "normalize_angle_deg",
    "pair_positions",
    "polar_to_rbox",
    "radial_rbox_from_points",
    "rbox_corners",
    "rbox_ends",
    "rbox_iou",
    "rbox_iou_reference",
    "rbox_to_polar",
    "read_floor_points",
    "rboxes_spec",
    "render_heatmap",
    "rotated_nms",
    "simulate_detections",
    "skeleton_floor_points",
    "virtual_views",
    "zone_of",
]

# the exports above load on first use, so the plugin module (and `sensorfusion --help`) stays light
__getattr__, __dir__ = lazy_exports(__name__)
