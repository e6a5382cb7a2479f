"""How much of the image the board covered, and whether intrinsics are physically plausible.

Coverage (:func:`board_coverage`), per camera:

* ``area``: the fraction of the image area inside the convex hull of the detected corners of at
  least one view (the union over views) — what the fit has seen; distortion outside it is
  extrapolated.
* ``cells``: the fraction of a 16 x 12 grid of cells holding at least one detected corner.
* ``per_view``: each view's hull area / image area.

Plausibility (:func:`implausible`): reasons a fit is degenerate — non-finite values, the principal
point outside the image, an aspect ratio ``fy/fx`` beyond ``max_aspect_ratio``, a focal length out
of range for the image width (pinhole: a horizontal field of view outside ``fov_range_deg``;
fisheye/omni: ``f < 0.05 x width`` or a field of view under the pinhole minimum).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from sensorfusion.schema import DoubleSphereCamera, KannalaBrandtCamera, PinholeCamera

from ._boards import BoardDetection

__all__ = [
    "DEFAULT_FOV_RANGE_DEG",
    "DEFAULT_MAX_ASPECT_RATIO",
    "DEFAULT_MIN_COVERAGE",
    "Coverage",
    "board_coverage",
    "implausible",
]

DEFAULT_MIN_COVERAGE = 0.3
DEFAULT_MAX_ASPECT_RATIO = 1.25
DEFAULT_FOV_RANGE_DEG = (5.0, 150.0)
GRID_CELLS = (16, 12)


@dataclass
class Coverage:
    """Board coverage of one camera's images (fractions in [0, 1])."""

    area: float
    cells: float
    per_view: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"area": self.area, "cells": self.cells, "per_view": self.per_view,
                "per_view_min": min(self.per_view, default=0.0), "per_view_max": max(self.per_view, default=0.0)}  # fmt: skip


def board_coverage(
    detections: Sequence[BoardDetection], image_size: tuple[int, int], *, cells: tuple[int, int] = GRID_CELLS
) -> Coverage:
    """Coverage of ``detections`` (one camera) over an image of ``image_size = (width, height)``."""
    w, h = image_size
    scale = min(1.0, 512.0 / max(w, h))  # the union is rasterised at <= 512 px
    mw, mh = max(1, round(w * scale)), max(1, round(h * scale))
    mask = np.zeros((mh, mw), np.uint8)
    per_view = []
    for d in detections:
        pts = np.asarray(d.corners_px, dtype=np.float32).reshape(-1, 2)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) < 3:
            per_view.append(0.0)
            continue
        hull = cv2.convexHull(pts)
        per_view.append(float(cv2.contourArea(hull)) / float(w * h))
        cv2.fillConvexPoly(mask, np.round(hull.reshape(-1, 2) * scale).astype(np.int32), 1)
    pts_all = np.concatenate([d.corners_px for d in detections]) if detections else np.zeros((0, 2))
    grid, _, _ = np.histogram2d(pts_all[:, 1], pts_all[:, 0], bins=(cells[1], cells[0]), range=((0, h), (0, w)))
    return Coverage(area=float(mask.mean()), cells=float((grid > 0).mean()), per_view=per_view)


def implausible(
    camera: PinholeCamera | KannalaBrandtCamera | DoubleSphereCamera,
    *,
    max_aspect_ratio: float = DEFAULT_MAX_ASPECT_RATIO,
    fov_range_deg: tuple[float, float] = DEFAULT_FOV_RANGE_DEG,
) -> list[str]:
    """Why these intrinsics cannot be a real camera (empty when they can)."""
    w, h = camera.width, camera.height
    vals = camera.model_dump()
    bad = [k for k, v in vals.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        return [f"non-finite parameters: {', '.join(bad)}"]
    out = []
    fx, fy, cx, cy = camera.fx, camera.fy, camera.cx, camera.cy
    if not (0.0 <= cx <= w and 0.0 <= cy <= h):
        out.append(f"principal point ({cx:.1f}, {cy:.1f}) px is outside the {w}x{h} image")
    ratio = fy / fx
    if not (1.0 / max_aspect_ratio <= ratio <= max_aspect_ratio):
        out.append(
            f"implausible aspect ratio fy/fx = {ratio:.3f} (allowed {1 / max_aspect_ratio:.3f}..{max_aspect_ratio:.3f})"
        )
    lo_deg, hi_deg = fov_range_deg
    f_max = 0.5 * w / math.tan(math.radians(lo_deg) / 2.0)  # narrowest field of view allowed
    if isinstance(camera, PinholeCamera):
        f_min = 0.5 * w / math.tan(math.radians(hi_deg) / 2.0)
        what = f"a horizontal field of view of {lo_deg:g}..{hi_deg:g} deg"
    else:
        f_min = 0.05 * w
        what = f"0.05 x width .. a {lo_deg:g} deg field of view"
    for name, f in (("fx", fx), ("fy", fy)):
        if not (f_min <= f <= f_max):
            out.append(
                f"focal length {name} = {f:.1f} px is out of range for a {w} px wide image "
                f"({f_min:.0f}..{f_max:.0f} px: {what})"
            )
    return out
