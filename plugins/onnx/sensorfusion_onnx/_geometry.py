"""Pre- and post-processing geometry: RTMPose's top-down affine crops, letterboxing, NMS, SimCC decoding."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "RTMPOSE_MEAN",
    "RTMPOSE_STD",
    "Letterbox",
    "apply_affine",
    "box_to_center_scale",
    "decode_simcc",
    "letterbox",
    "nms",
    "topdown_affine",
]

# RTMPose's data preprocessor (ImageNet statistics on 0-255 RGB)
RTMPOSE_MEAN = (123.675, 116.28, 103.53)
RTMPOSE_STD = (58.395, 57.12, 57.375)


def box_to_center_scale(
    box_xyxy: np.ndarray, *, aspect_w_over_h: float, padding: float
) -> tuple[np.ndarray, np.ndarray]:
    """RTMPose's box handling: centre, and ``(w, h)`` enlarged by ``padding`` then widened or
    heightened to the model input's aspect ratio (never shrunk)."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    w, h = (x1 - x0) * padding, (y1 - y0) * padding
    if w > h * aspect_w_over_h:
        h = w / aspect_w_over_h
    else:
        w = h * aspect_w_over_h
    return center, np.array([w, h])


def topdown_affine(center: np.ndarray, scale_wh: np.ndarray, input_wh: tuple[int, int]) -> np.ndarray:
    """The 2x3 ``crop_from_image`` affine mapping the ``scale_wh`` box around ``center`` onto the
    model input (no rotation): the box's corners go to the input's corners."""
    W, H = input_wh
    sx, sy = W / scale_wh[0], H / scale_wh[1]
    return np.array([[sx, 0.0, W / 2 - sx * center[0]], [0.0, sy, H / 2 - sy * center[1]]], dtype=np.float64)


def apply_affine(A: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine to ``(*, 2)`` points."""
    out: np.ndarray = xy @ A[:, :2].T + A[:, 2]
    return out


class Letterbox:
    """A letterbox: ``input = image * ratio + (pad_x, pad_y)``."""

    def __init__(self, ratio: float, pad_x: float, pad_y: float) -> None:
        self.ratio, self.pad_x, self.pad_y = ratio, pad_x, pad_y

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Input-pixel ``(*, 2)`` points back to image pixels."""
        out: np.ndarray = (xy - np.array([self.pad_x, self.pad_y])) / self.ratio
        return out


def letterbox(
    image: np.ndarray, input_wh: tuple[int, int], *, center: bool, pad_value: int = 114
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio into ``input_wh`` and pad with ``pad_value``:
    centred (YOLO / Ultralytics) or at the top-left (RTMO / rtmlib)."""
    W, H = input_wh
    h, w = image.shape[:2]
    r = min(W / w, H / h)
    nw, nh = round(w * r), round(h * r)
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    out = np.full((H, W, 3), pad_value, dtype=np.uint8)
    px, py = ((W - nw) // 2, (H - nh) // 2) if center else (0, 0)
    out[py : py + nh, px : px + nw] = resized
    return out, Letterbox(r, px, py)


def nms(boxes_xyxy: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; indices kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = boxes_xyxy.T
    area = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        ih = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = iw * ih
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, split_ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """SimCC decoding as RTMPose does: per keypoint the argmax of each 1-D code divided by the
    split ratio (input pixels), and the score the smaller of the two maxima.

    Args:
        simcc_x: ``(N, K, W * split)``; simcc_y: ``(N, K, H * split)``.
    Returns:
        ``(N, K, 2)`` input-pixel locations (NaN where the score is not positive or the codes
        are not finite) and ``(N, K)`` scores.
    """
    x_idx = np.argmax(simcc_x, axis=-1)
    y_idx = np.argmax(simcc_y, axis=-1)
    mx = np.max(simcc_x, axis=-1)
    my = np.max(simcc_y, axis=-1)
    score = np.minimum(mx, my)
    locs = np.stack([x_idx, y_idx], axis=-1).astype(np.float64) / split_ratio
    bad = ~(np.isfinite(score) & (score > 0))
    locs[bad] = np.nan
    return locs, np.where(np.isfinite(score), score, 0.0)
