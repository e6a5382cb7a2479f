"""``overhead.onnx``: rotation-aware person detectors exported to ONNX (RAPiD-style and LOAF-style outputs).

No model is shipped or downloaded: ``model_path`` points at your export. Two output layouts:

* ``format: rapid`` — one tensor ``(1, N, 6)`` (or ``(1, 6, N)``): ``cx, cy, w, h, angle, score``
  in input pixels, the angle in degrees clockwise on the screen (RAPiD's own export decodes its
  anchors inside the graph and emits exactly this);
* ``format: loaf`` — one tensor ``(1, N, 5)`` (or ``(1, 5, N)``): radius-aligned polar boxes
  ``R, angle, w, h, score`` about the centre of the model's input (LOAF's ``[R, θ, w, h]``, ``h``
  along the radius, θ clockwise on the screen from ``+x``).

Pre-processing (each default follows the format's own code; override with the params):
letterbox — resize keeping the aspect ratio so the longer side fills the input, pad to the
input size (``letterbox: centre`` as RAPiD and LOAF, or ``top_left``) with ``pad_value`` (RAPiD
pads with 0); RGB (``channel_order``); ``(pixel - mean) / std`` per channel on 0-255 values
(RAPiD: mean 0, std 255, i.e. ``/ 255``; LOAF: ImageNet statistics). Post-processing: boxes
scored below ``score_threshold`` are dropped, the rest are un-letterboxed to image pixels
(``pixel_origin: corner``: the model's coordinates put the image's top-left *corner* at 0, so
half a pixel is removed to reach the SDK's pixel centres), merged by exact rotated NMS
(``nms_iou``) and capped at ``max_people``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, MissingDependencyError, StageContext, StreamSpec

from ._rbox import normalize_angle_deg, polar_to_rbox, rotated_nms
from ._streams import empty_rboxes, rboxes_spec

__all__ = ["FORMATS", "Letterbox", "OnnxRotatedDetector", "OnnxRotatedParams", "decode_rotated", "letterbox_image"]

FORMATS = ("rapid", "loaf")
INSTALL = 'pip install "onnxruntime>=1.17"'
_IMAGENET_MEAN = (123.675, 116.28, 103.53)
_IMAGENET_STD = (58.395, 57.12, 57.375)
_DEFAULTS: dict[str, dict[str, Any]] = {
    "rapid": {"mean": (0.0, 0.0, 0.0), "std": (255.0, 255.0, 255.0), "pad_value": 0},
    "loaf": {"mean": _IMAGENET_MEAN, "std": _IMAGENET_STD, "pad_value": 0},
}


class OnnxRotatedParams(BaseModel):
    """Parameters of ``overhead.onnx``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: str = Field(description="the .onnx file (relative to the working directory; $VARS and ~ expanded)")
    format: Literal["rapid", "loaf"] = Field(
        description="output layout: rapid (cx, cy, w, h, angle, score) or loaf (R, angle, w, h, score)"
    )
    angle_unit: Literal["deg", "rad"] = Field(default="deg", description="unit of the model's angles")
    mean: tuple[float, float, float] | None = Field(default=None, description="per-channel mean on 0-255 values")
    std: tuple[float, float, float] | None = Field(default=None, description="per-channel std on 0-255 values")
    channel_order: Literal["rgb", "bgr"] = Field(
        default="rgb", description="what the model expects (images arrive RGB)"
    )
    letterbox: Literal["centre", "top_left"] = Field(
        default="centre", description="where the resized image sits in the input"
    )
    pad_value: int | None = Field(default=None, ge=0, le=255, description="letterbox padding (default: the format's)")
    pixel_origin: Literal["corner", "center"] = Field(
        default="corner",
        description="corner: the model's 0 is the image's top-left corner; center: the first pixel's centre",
    )
    score_threshold: float = Field(default=0.3, ge=0, le=1, description="boxes below this score are dropped")
    nms_iou: float = Field(
        default=0.45, gt=0, le=1, description="rotated IoU above which the lower-scored box is dropped"
    )
    max_people: int = Field(default=100, ge=1, description="people per image at most")
    threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads (0: its default)")


@dataclass(frozen=True)
class Letterbox:
    """How an image was placed in the model's input: ``input_x = image_x * scale_x + pad_x`` (and y), in
    corner coordinates (the per-axis scales differ slightly when the resized size is rounded)."""

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int


def letterbox_image(
    image: np.ndarray, input_wh: tuple[int, int], *, centre: bool, pad_value: int
) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio so that the image fits ``input_wh``, and pad."""
    import cv2

    W, H = input_wh
    h, w = image.shape[:2]
    r = min(W / w, H / h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image
    out = np.full((H, W, 3), pad_value, dtype=np.uint8)
    px, py = ((W - nw) // 2, (H - nh) // 2) if centre else (0, 0)
    out[py : py + nh, px : px + nw] = resized
    return out, Letterbox(nw / w, nh / h, px, py)


def decode_rotated(
    raw: np.ndarray,
    fmt: str,
    lb: Letterbox,
    input_wh: tuple[int, int],
    *,
    angle_unit: str = "deg",
    score_threshold: float = 0.3,
    pixel_origin: str = "corner",
) -> tuple[np.ndarray, np.ndarray]:
    """Model rows ``(N, 6 | 5)`` -> image-pixel RAPiD boxes ``(M, 5)`` and scores ``(M,)`` (before NMS)."""
    rows = np.asarray(raw, dtype=np.float64)
    score = rows[:, -1]
    keep = np.isfinite(rows).all(axis=1) & (score >= score_threshold)
    rows, score = rows[keep], score[keep]
    if fmt == "rapid":
        boxes = rows[:, :5].copy()
    else:
        polar = rows[:, :4].copy()
        if angle_unit == "rad":
            polar[:, 1] = np.degrees(polar[:, 1])
        boxes = polar_to_rbox(polar, (input_wh[0] / 2.0, input_wh[1] / 2.0))
    if fmt == "rapid" and angle_unit == "rad":
        boxes[:, 4] = np.degrees(boxes[:, 4])
    shift = 0.5 if pixel_origin == "corner" else 0.0
    out = boxes.copy()
    out[:, 0] = (boxes[:, 0] - lb.pad_x) / lb.scale_x - shift
    out[:, 1] = (boxes[:, 1] - lb.pad_y) / lb.scale_y - shift
    out[:, 2:4] = boxes[:, 2:4] / (0.5 * (lb.scale_x + lb.scale_y))
    out[:, 4] = normalize_angle_deg(boxes[:, 4])
    ok = (out[:, 2] > 0) & (out[:, 3] > 0)
    return out[ok], score[ok]


class OnnxRotatedDetector(Estimator):
    """Rotated person boxes from a rotation-aware ONNX model on every ``IMAGE`` input.

    Output per ``<cam>/image``: ``<cam>/rboxes`` (:func:`~sensorfusion_overhead.rboxes_spec`;
    ``feet_px`` NaN, ``person_id`` -1). The model's input must be ``(1, 3, H, W)`` with static
    ``H, W``; the outputs must match ``format`` (both checked when the rig is built:
    ``ConfigError`` naming ``model_path`` or ``format``).
    """

    name = "overhead.onnx"
    Params = OnnxRotatedParams
    input_kinds = (FrameKind.IMAGE,)
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, OnnxRotatedParams)
        self.p = params
        try:
            import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise MissingDependencyError("overhead.onnx", install=INSTALL) from None
        d = _DEFAULTS[params.format]
        self.mean = np.asarray(params.mean or d["mean"], dtype=np.float32)
        self.std = np.asarray(params.std or d["std"], dtype=np.float32)
        self.pad_value = int(params.pad_value if params.pad_value is not None else d["pad_value"])
        path = Path(os.path.expandvars(params.model_path)).expanduser()
        if not path.is_file():
            raise ConfigError(
                "ONNX model file not found (relative paths are relative to the working directory)",
                field_path=context.param_path("model_path"),
                value=params.model_path,
            )
        so = ort.SessionOptions()
        so.log_severity_level = 3
        if params.threads:
            so.intra_op_num_threads = params.threads
        try:
            self.session = ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ConfigError(
                f"onnxruntime cannot load the model: {exc}",
                field_path=context.param_path("model_path"),
                value=params.model_path,
            ) from None
        self._check_layout(context)
        self.images = context.inputs_of_kind(FrameKind.IMAGE)
        if not self.images:
            raise ConfigError(
                "overhead.onnx needs at least one image input",
                field_path=f"{context.config_path or context.stage_id}.inputs",
            )
        for spec in self.images:
            img = spec.fields.get("image")
            if img is None or img.dtype != "uint8" or len(img.shape) != 3 or img.shape[2] != 3:
                raise ConfigError(
                    f"overhead.onnx needs uint8 RGB 'image' fields (H, W, 3); {spec.name} has another layout",
                    field_path=f"{context.config_path or context.stage_id}.inputs",
                    value=spec.name,
                )
        self.counts = {"images": 0, "people": 0, "below_threshold_or_invalid": 0, "suppressed": 0}

    def _check_layout(self, context: StageContext) -> None:
        inp = self.session.get_inputs()
        outs = self.session.get_outputs()
        shape = list(inp[0].shape) if len(inp) == 1 else []
        ok = len(shape) == 4 and shape[1] == 3 and isinstance(shape[2], int) and isinstance(shape[3], int)
        ok = ok and (not isinstance(shape[0], int) or shape[0] == 1)
        if not ok:
            raise ConfigError(
                "overhead.onnx expects one image input of shape (1, 3, H, W) with static H, W; the model has "
                f"{[(i.name, tuple(i.shape)) for i in inp]}",
                field_path=context.param_path("model_path"),
                value=self.p.model_path,
            )
        self.input_name = inp[0].name
        self.H, self.W = int(shape[2]), int(shape[3])
        width = 6 if self.p.format == "rapid" else 5
        o = list(outs[0].shape) if len(outs) == 1 else []
        # rows of `width` values, or their transpose when the last axis cannot itself be a row (5 or 6)
        fits = len(o) == 3 and (o[2] == width or (o[1] == width and o[2] not in (5, 6)))
        self.transposed = bool(fits and o[2] != width)
        if not fits:
            expected = (
                "(1, N, 6) cx, cy, w, h, angle, score"
                if self.p.format == "rapid"
                else "(1, N, 5) R, angle, w, h, score"
            )
            raise ConfigError(
                f"format {self.p.format} expects one output {expected} (or its transpose); the model has "
                f"{[(x.name, tuple(x.shape)) for x in outs]}",
                field_path=context.param_path("format"),
                value=self.p.format,
                choices=list(FORMATS),
            )
        self.width = width

    def outputs(self) -> list[StreamSpec]:
        return [rboxes_spec(f"{s.sensor}/rboxes", s.rate_hz, detector=f"onnx:{self.p.format}") for s in self.images]

    def detect(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Rotated boxes of one RGB image ``(H, W, 3)`` uint8."""
        inp, lb = letterbox_image(
            image, (self.W, self.H), centre=self.p.letterbox == "centre", pad_value=self.pad_value
        )
        x = inp[..., ::-1] if self.p.channel_order == "bgr" else inp
        x = (x.astype(np.float32) - self.mean) / self.std
        tensor = np.ascontiguousarray(x.transpose(2, 0, 1)[None])
        (raw,) = self.session.run(None, {self.input_name: tensor})[:1]
        raw = np.asarray(raw)[0]
        if self.transposed:
            raw = raw.T
        boxes, scores = decode_rotated(
            raw, self.p.format, lb, (self.W, self.H), angle_unit=self.p.angle_unit,
            score_threshold=self.p.score_threshold, pixel_origin=self.p.pixel_origin,
        )  # fmt: skip
        self.counts["images"] += 1
        self.counts["below_threshold_or_invalid"] += len(raw) - len(boxes)
        if not len(boxes):
            return empty_rboxes()
        keep = rotated_nms(boxes, scores, self.p.nms_iou)[: self.p.max_people]
        self.counts["suppressed"] += len(boxes) - len(keep)
        self.counts["people"] += len(keep)
        return {
            "rbox": boxes[keep].astype(np.float32),
            "score": scores[keep].astype(np.float32),
            "feet_px": np.full((len(keep), 2), np.nan, np.float32),
            "person_id": np.full(len(keep), -1, np.int64),
        }

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        out: dict[str, Mapping[str, np.ndarray]] = {}
        for spec in self.images:
            f = frameset.get(spec.name)
            if f is not None:
                out[f"{spec.sensor}/rboxes"] = self.detect(np.asarray(f["image"]))
        return out

    def warmup(self) -> None:
        """One model call on a blank input and the rotated-IoU kernel (counters untouched)."""
        self.session.run(None, {self.input_name: np.zeros((1, 3, self.H, self.W), np.float32)})
        rotated_nms(np.array([[10.0, 10.0, 4.0, 10.0, 0.0], [11.0, 10.0, 4.0, 10.0, 5.0]]), np.array([0.9, 0.8]), 0.5)

    def summary(self) -> dict[str, Any]:
        return dict(self.counts)
