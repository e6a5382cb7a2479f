"""Fusion kernels: triangulation (numpy reference tier for now)."""

from ._dlt import triangulate_dlt

__all__ = ["triangulate_dlt"]
