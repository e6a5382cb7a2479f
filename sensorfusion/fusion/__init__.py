"""Fusion kernels: weighted and robust triangulation (numpy, Numba CPU, Numba CUDA tiers),
cross-view association of people, tracking with persistent ids, filters, and the capture volume."""

from ._associate import Association, associate_views
from ._backfill import merge_backfill
from ._cameras import ViewModel, view_model
from ._dlt import triangulate_dlt
from ._filters import BoneLengthConstraint, ConstantVelocityKalman, OneEuroFilter, butterworth_zero_phase, fill_gaps
from ._pipeline import FusionFrame, FusionSettings, PersonFusion
from ._tracking import Track, Tracker, TrackStep
from ._triangulate import TriangulationResult, TriangulationStatus, triangulate_points
from ._volume import CaptureVolume

__all__ = [
    "Association",
    "BoneLengthConstraint",
    "CaptureVolume",
    "ConstantVelocityKalman",
    "FusionFrame",
    "FusionSettings",
    "OneEuroFilter",
    "PersonFusion",
    "Track",
    "TrackStep",
    "Tracker",
    "TriangulationResult",
    "TriangulationStatus",
    "ViewModel",
    "associate_views",
    "butterworth_zero_phase",
    "fill_gaps",
    "merge_backfill",
    "triangulate_dlt",
    "triangulate_points",
    "view_model",
]
