"""Fusion kernels: weighted and robust triangulation (numpy, Numba CPU, Numba CUDA tiers),
cross-view association of people, tracking with persistent ids, and filters."""

from ._associate import Association, associate_views
from ._cameras import ViewModel, view_model
from ._dlt import triangulate_dlt
from ._filters import BoneLengthConstraint, ConstantVelocityKalman, OneEuroFilter, butterworth_zero_phase, fill_gaps
from ._pipeline import FusionFrame, FusionSettings, PersonFusion
from ._tracking import Tracker
from ._triangulate import TriangulationResult, TriangulationStatus, triangulate_points

__all__ = [
    "Association",
    "BoneLengthConstraint",
    "ConstantVelocityKalman",
    "FusionFrame",
    "FusionSettings",
    "OneEuroFilter",
    "PersonFusion",
    "Tracker",
    "TriangulationResult",
    "TriangulationStatus",
    "ViewModel",
    "associate_views",
    "butterworth_zero_phase",
    "fill_gaps",
    "triangulate_dlt",
    "triangulate_points",
    "view_model",
]
