"""Person detectors for top-down multi-person BlazePose, and the crops they give.

A detector returns *regions*: a centre and a side length in pixels of a square that should
hold one whole person, and a score. Two are offered (``detector:`` param):

* ``blazepose`` — MediaPipe's own BlazePose person detector (``pose_detection.tflite``,
  bundled in the wheel), run once on the whole image through its ``PoseDetectionCpu``
  graph, keeping *every* detection that survives its non-maximum suppression (the legacy
  ``Pose`` solution keeps only the first). Each detection carries the hip centre and a
  point on the circle enclosing the body; the region is that circle, enlarged by
  ``crop_scale``. Limits: it is a face-anchored detector trained for people facing or
  half-facing the camera at a few metres; people whose face is hidden, very small people
  (face under about 1/40 of the image's longer side, since the image is letterboxed to
  224x224) and heavily overlapping people (IoU > 0.3 after its NMS) are missed.
* ``hog`` — OpenCV's HOG + linear SVM pedestrian detector (Dalal–Triggs, its default
  people model), multi-scale. Limits: upright, whole-body people at least 64x128 pixels;
  it misses sitting, crouching or partly visible people and is slow on large images
  (``hog_max_side_px`` downscales first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ._mp import make_pose_detector, quiet

__all__ = ["BlazePoseRegions", "HogRegions", "Region", "crop_affine", "suppress_duplicates"]


@dataclass(frozen=True)
class Region:
    """A square image region holding one person: centre and side in pixels, detector score."""

    cx_px: float
    cy_px: float
    side_px: float
    score: float


class BlazePoseRegions:
    """Person regions from MediaPipe's BlazePose detector (see the module docstring)."""

    def __init__(self, *, min_score: float, crop_scale: float) -> None:
        self._det: Any = make_pose_detector(min_score=min_score)
        self.crop_scale = crop_scale

    def __call__(self, image: np.ndarray) -> list[Region]:
        h, w = image.shape[:2]
        with quiet():
            out = self._det.process(image)
        regions: list[Region] = []
        for det in out.detections or []:
            kps = det.location_data.relative_keypoints
            if len(kps) < 2:
                continue
            cx, cy = kps[0].x * w, kps[0].y * h  # hip centre
            r = float(np.hypot(kps[1].x * w - cx, kps[1].y * h - cy))  # body circle radius
            if not np.isfinite(r) or r <= 1.0:
                continue
            regions.append(Region(float(cx), float(cy), 2.0 * r * self.crop_scale, float(det.score[0])))
        return sorted(regions, key=lambda g: -g.score)

    def close(self) -> None:
        self._det.close()


class HogRegions:
    """Person regions from OpenCV's HOG people detector (see the module docstring)."""

    def __init__(self, *, min_score: float, crop_scale: float, max_side_px: int) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(np.asarray(cv2.HOGDescriptor.getDefaultPeopleDetector(), dtype=np.float32))
        self.min_score = min_score
        self.crop_scale = crop_scale
        self.max_side_px = max_side_px

    def __call__(self, image: np.ndarray) -> list[Region]:
        h, w = image.shape[:2]
        s = min(1.0, self.max_side_px / max(h, w))
        small = cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else image
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        rects, weights = self._hog.detectMultiScale(gray, winStride=(8, 8), padding=(8, 8), scale=1.05)
        regions: list[Region] = []
        for (x, y, rw, rh), score in zip(
            np.asarray(rects).reshape(-1, 4), np.asarray(weights).reshape(-1), strict=True
        ):
            if score < self.min_score:
                continue
            # the HOG window holds the person with a margin of about 1/8 of its height
            cx, cy = (x + rw / 2) / s, (y + rh / 2) / s
            regions.append(Region(float(cx), float(cy), float(rh / s * 0.8 * self.crop_scale), float(score)))
        boxes = [
            (g.cx_px - g.side_px / 2, g.cy_px - g.side_px / 2, g.cx_px + g.side_px / 2, g.cy_px + g.side_px / 2)
            for g in regions
        ]
        keep = suppress_duplicates(
            np.asarray(boxes, dtype=np.float64).reshape(-1, 4), np.array([g.score for g in regions]), 0.5
        )
        return [regions[i] for i in keep]

    def close(self) -> None:
        pass


def crop_affine(region: Region, size_px: int) -> np.ndarray:
    """The 2x3 affine ``crop_from_image`` mapping the region's square onto ``size_px`` pixels."""
    s = size_px / region.side_px
    return np.array(
        [[s, 0.0, size_px / 2 - s * region.cx_px], [0.0, s, size_px / 2 - s * region.cy_px]], dtype=np.float64
    )


def suppress_duplicates(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy NMS: indices of ``(N, 4)`` ``x0, y0, x1, y1`` boxes kept, best score first."""
    order = list(np.argsort(-np.asarray(scores), kind="stable"))
    keep: list[int] = []
    area = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    for i in order:
        ok = True
        for j in keep:
            ix = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = ix * iy
            union = area[i] + area[j] - inter
            if union > 0 and inter / union > iou_threshold:
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep
