"""Fusion kernels: weighted and robust triangulation (numpy, Numba CPU, Numba CUDA tiers),
cross-view association of people, tracking with persistent ids, filters, and the capture volume.

The pieces the fusion stages are built from are public, so a tool outside the pipeline (the
``sensorfusion triangulate`` command of ``sensorfusion-interop``) runs the same fusion:
:func:`view_model` turns a calibrated camera into a :class:`ViewModel` (undistortion to ideal
pixels + a 3x4 projection matrix), :class:`PersonFusion` runs association → triangulation →
tracking → filtering on a list of them frame by frame (:class:`FusionSettings`, one
:class:`FusionFrame` per step), and :func:`skeleton3d_spec` is the stream contract of its output.
"""

from ._associate import Association, associate_views
from ._backfill import merge_backfill
from ._cameras import ViewModel, view_model
from ._dlt import triangulate_dlt
from ._filters import BoneLengthConstraint, ConstantVelocityKalman, OneEuroFilter, butterworth_zero_phase, fill_gaps
from ._nanstats import quiet_nanmean, quiet_nanmedian
from ._outputs import skeleton3d_spec
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
    "quiet_nanmean",
    "quiet_nanmedian",
    "skeleton3d_spec",
    "merge_backfill",
    "triangulate_dlt",
    "triangulate_points",
    "view_model",
]
