"""Camera geometry: projection, unprojection and transforms (numpy reference tier)."""

from ._pinhole import distort_normalized, look_at, project_pinhole, projection_matrix
from ._undistort import undistort_pixels

__all__ = ["distort_normalized", "look_at", "project_pinhole", "projection_matrix", "undistort_pixels"]
