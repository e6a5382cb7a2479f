"""``onnx.keypoints``: 2D keypoints from a user-supplied ONNX model on onnxruntime (CPU).

Families and the exact tensor layouts accepted (``N`` people / candidates, ``K`` keypoints of
the configured skeleton, ``H x W`` the model input):

* ``simcc`` — RTMPose and other SimCC top-down models. Input ``(B, 3, H, W)`` float32 (B may
  be dynamic: all crops of a frameset go in one batch; static 1: one call per crop).
  Outputs ``simcc_x (B, K, W * split)`` and ``simcc_y (B, K, H * split)`` (by name, else in
  that order). Pre: each person box -> centre and size x ``bbox_padding`` (1.25), widened to
  the input aspect ratio, affine-warped to ``W x H`` (bilinear, black border), ``(pixel -
  mean) / std`` per channel (RTMPose's ImageNet statistics on 0-255 RGB by default). Post:
  per keypoint argmax of each code / ``split``, score = the smaller of the two maxima,
  mapped back through the inverse warp.
* ``yolo_pose`` — YOLOv8/YOLO11-pose (Ultralytics export). Input ``(1, 3, H, W)``; output
  ``(1, 5 + 3K, N)`` (or ``(1, N, 5 + 3K)``): ``cx, cy, w, h`` (input pixels), person score,
  then ``x, y, visibility`` per keypoint. Pre: centred letterbox (grey 114), RGB, ``/ 255``.
  Post: score threshold, NMS (IoU ``nms_iou``), un-letterbox.
* ``rtmo`` — RTMO one-stage (rtmlib / mmdeploy end-to-end export). Input ``(1, 3, H, W)``;
  outputs ``dets (1, N, 5)`` = ``x0, y0, x1, y1, score`` and ``keypoints (1, N, K, 3)`` =
  ``x, y, score`` (input pixels). Pre: top-left letterbox (grey 114), raw 0-255 pixel values,
  BGR (as rtmlib feeds OpenCV images). Post: score threshold, NMS, un-letterbox.

Defaults per family (``mean``, ``std``, ``channel_order``) can be overridden when an
export differs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    Estimator,
    FieldSpec,
    FrameKind,
    FrameSet,
    MissingDependencyError,
    StageContext,
    StreamSpec,
)

from ._geometry import (
    RTMPOSE_MEAN,
    RTMPOSE_STD,
    apply_affine,
    box_to_center_scale,
    decode_simcc,
    letterbox,
    nms,
    topdown_affine,
)

__all__ = ["OnnxKeypoints", "OnnxKeypointsParams"]

INSTALL = "pip install onnxruntime"
Family = Literal["simcc", "yolo_pose", "rtmo"]
FAMILIES = ("simcc", "yolo_pose", "rtmo")

_DEFAULTS: dict[str, dict[str, Any]] = {
    "simcc": {"mean": RTMPOSE_MEAN, "std": RTMPOSE_STD, "channel_order": "rgb"},
    "yolo_pose": {"mean": (0.0, 0.0, 0.0), "std": (255.0, 255.0, 255.0), "channel_order": "rgb"},
    "rtmo": {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0), "channel_order": "bgr"},
}


class OnnxKeypointsParams(BaseModel):
    """Parameters of ``onnx.keypoints`` (every field is documented in the README)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: str = Field(
        description="the .onnx file; relative paths are relative to the working directory; $VARS expanded"
    )
    family: Family = Field(description="simcc (RTMPose, top-down), yolo_pose or rtmo (one-stage, multi-person)")
    skeleton: str = Field(default="coco17", description="skeleton spec of the model's keypoints (K must match)")
    mean: tuple[float, float, float] | None = Field(
        default=None, description="per-channel mean on 0-255 values (default per family)"
    )
    std: tuple[float, float, float] | None = Field(default=None, description="per-channel std (default per family)")
    channel_order: Literal["rgb", "bgr"] | None = Field(
        default=None, description="channel order the model expects (default per family)"
    )
    simcc_split_ratio: float = Field(default=2.0, gt=0, description="SimCC bins per input pixel")
    bbox_padding: float = Field(default=1.25, gt=0, description="simcc: person boxes are enlarged by this")
    boxes: Literal["full_image", "stream"] = Field(
        default="full_image", description="simcc: where person boxes come from"
    )
    boxes_channel: str = Field(
        default="boxes", description="boxes: stream -> <sensor>/<boxes_channel> (BOXES, boxes (n, 4) x0 y0 x1 y1 px)"
    )
    score_threshold: float = Field(default=0.3, ge=0, description="one-stage: person score threshold")
    nms_iou: float = Field(default=0.65, gt=0, le=1, description="one-stage: NMS IoU threshold")
    max_people: int = Field(default=20, ge=1, description="people reported per image at most")
    threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads (0: its default)")


@dataclass
class _View:
    image: str
    output: str
    boxes: str | None


class OnnxKeypoints(Estimator):
    """Keypoints from an ONNX model on every ``IMAGE`` input (uint8 RGB ``(H, W, 3)``).

    Output per ``<cam>/image``: ``<cam>/keypoints2d`` (ragged): ``keypoints (P, K, 3)`` float32 =
    x_px, y_px, confidence (the model's keypoint score clipped to [0, 1]), ``person_id`` (-1),
    ``score (P,)`` (person score; 1 for full-image boxes), ``boxes (P, 4)`` x0, y0, x1, y1 px.
    """

    name = "onnx.keypoints"
    Params = OnnxKeypointsParams
    input_kinds = (FrameKind.IMAGE, FrameKind.BOXES)
    requires_camera_calibration = False
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, OnnxKeypointsParams)
        self.p = params
        try:
            import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            raise MissingDependencyError("onnx.keypoints", install=INSTALL) from None
        d = _DEFAULTS[params.family]
        self.mean = np.asarray(params.mean or d["mean"], dtype=np.float32)
        self.std = np.asarray(params.std or d["std"], dtype=np.float32)
        self.bgr = (params.channel_order or d["channel_order"]) == "bgr"
        try:
            self.skeleton = context.skeletons.get(params.skeleton)
        except Exception as exc:
            raise ConfigError(
                f"unknown skeleton: {exc}", field_path=context.param_path("skeleton"), value=params.skeleton
            ) from None
        self.K = self.skeleton.num_joints
        path = Path(os.path.expandvars(params.model_path)).expanduser()
        if not path.is_file():
            raise ConfigError("ONNX model file not found (relative paths are relative to the working directory)",
                              field_path=context.param_path("model_path"), value=params.model_path)  # fmt: skip
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
        self.views: list[_View] = []
        by_name = {s.name: s for s in context.inputs}
        for spec in context.inputs_of_kind(FrameKind.IMAGE):
            img = spec.fields.get("image")
            if img is None or img.dtype != "uint8" or len(img.shape) != 3 or img.shape[2] != 3:
                raise ConfigError(f"onnx.keypoints needs uint8 RGB 'image' fields (H, W, 3); {spec.name} has another layout",
                                  field_path=f"{context.config_path or context.stage_id}.inputs", value=spec.name)  # fmt: skip
            boxes = None
            if params.family == "simcc" and params.boxes == "stream":
                boxes = f"{spec.sensor}/{params.boxes_channel}"
                if boxes not in by_name or by_name[boxes].kind != FrameKind.BOXES:
                    raise ConfigError(f"boxes: stream needs the BOXES stream {boxes} among the stage's inputs",
                                      field_path=f"{context.config_path or context.stage_id}.inputs",
                                      value=sorted(by_name), choices=[boxes])  # fmt: skip
            self.views.append(_View(spec.name, f"{spec.sensor}/keypoints2d", boxes))
        if not self.views:
            raise ConfigError(
                "onnx.keypoints needs at least one image input",
                field_path=f"{context.config_path or context.stage_id}.inputs",
            )
        self._rates = {s.name: s.rate_hz for s in context.inputs}
        self._stats = {"images": 0, "people": 0, "model_calls": 0}

    # -- model layout ---------------------------------------------------------------------------

    def _check_layout(self, context: StageContext) -> None:
        inp = self.session.get_inputs()
        outs = self.session.get_outputs()
        fam = self.p.family
        if len(inp) != 1:
            raise ConfigError(f"the model must have one image input, it has {len(inp)}: {[i.name for i in inp]}",
                              field_path=context.param_path("model_path"), value=self.p.model_path)  # fmt: skip
        shape = list(inp[0].shape)
        ok = len(shape) == 4 and shape[1] == 3 and isinstance(shape[2], int) and isinstance(shape[3], int)
        if ok and fam != "simcc" and isinstance(shape[0], int) and shape[0] != 1:
            ok = False
        if not ok:
            expected = "(B, 3, H, W) with static H, W" if fam == "simcc" else "(1, 3, H, W) with static H, W"
            raise ConfigError(f"family {fam} expects an input of shape {expected}; the model's input "
                              f"{inp[0].name!r} has shape {tuple(shape)}",
                              field_path=context.param_path("model_path"), value=self.p.model_path)  # fmt: skip
        self.input_name = inp[0].name
        self.H, self.W = int(shape[2]), int(shape[3])
        self.dynamic_batch = not isinstance(shape[0], int)
        oshapes = {o.name: list(o.shape) for o in outs}

        def bad(expected: str) -> ConfigError:
            return ConfigError(f"family {fam} expects outputs {expected}; the model has {oshapes}",
                               field_path=context.param_path("family"), value=fam, choices=list(FAMILIES))  # fmt: skip

        K = self.K
        if fam == "simcc":
            s = self.p.simcc_split_ratio
            want_x, want_y = round(self.W * s), round(self.H * s)
            expected = (
                f"simcc_x (B, {K}, {want_x}) and simcc_y (B, {K}, {want_y}) (K={K} for {self.skeleton.name}, split {s})"
            )
            if len(outs) != 2:
                raise bad(expected)
            names = [o.name for o in outs]
            ix = names.index("simcc_x") if "simcc_x" in names else 0
            iy = names.index("simcc_y") if "simcc_y" in names else 1
            sx, sy = oshapes[names[ix]], oshapes[names[iy]]
            if len(sx) != 3 or len(sy) != 3 or sx[1:] != [K, want_x] or sy[1:] != [K, want_y]:
                raise bad(expected)
            self.out_names = [names[ix], names[iy]]
        elif fam == "yolo_pose":
            C = 5 + 3 * K
            expected = f"(1, {C}, N) or (1, N, {C}) = 4 box + 1 score + {K}x3 keypoints"
            if len(outs) != 1 or len(oshapes[outs[0].name]) != 3:
                raise bad(expected)
            s3 = oshapes[outs[0].name]
            if s3[1] == C:
                self.yolo_transposed = False
            elif s3[2] == C:
                self.yolo_transposed = True
            else:
                raise bad(expected)
            self.out_names = [outs[0].name]
        else:
            expected = f"dets (1, N, 5) and keypoints (1, N, {K}, 3)"
            by_rank = {len(v): n for n, v in oshapes.items()}
            if len(outs) != 2 or 3 not in by_rank or 4 not in by_rank:
                raise bad(expected)
            sd, sk = oshapes[by_rank[3]], oshapes[by_rank[4]]
            if sd[2] != 5 or sk[2:] != [K, 3]:
                raise bad(expected)
            self.out_names = [by_rank[3], by_rank[4]]

    # -- outputs --------------------------------------------------------------------------------

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=v.output,
                kind=FrameKind.KEYPOINTS2D,
                ragged=True,
                rate_hz=self._rates.get(v.image, 0.0),
                skeleton=self.skeleton.name,
                fields={
                    "keypoints": FieldSpec(dtype="float32", shape=(self.K, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                    "score": FieldSpec(dtype="float32"),
                    "boxes": FieldSpec(dtype="float32", shape=(4,)),
                },
                attrs={"model": Path(self.p.model_path).name, "family": self.p.family},
            )
            for v in self.views
        ]

    # -- processing -----------------------------------------------------------------------------

    def _normalise(self, rgb: np.ndarray) -> np.ndarray:
        """``(B, H, W, 3)`` uint8 RGB -> ``(B, 3, H, W)`` float32 model input."""
        x = rgb[..., ::-1] if self.bgr else rgb
        x = (x.astype(np.float32) - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        self._stats["model_calls"] += 1
        return [np.asarray(o) for o in self.session.run(self.out_names, {self.input_name: batch})]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        present = [(v, frameset.get(v.image)) for v in self.views]
        work = [(v, f["image"]) for v, f in present if f is not None]
        self._stats["images"] += len(work)
        if self.p.family == "simcc":
            people = self._simcc(work, frameset)
        else:
            people = {v.output: self._one_stage(img) for v, img in work}
        result: dict[str, Mapping[str, np.ndarray]] = {}
        for v, _ in work:
            kps, scores, boxes = people[v.output]
            order = np.argsort(-scores, kind="stable")[: self.p.max_people]
            n = len(order)
            self._stats["people"] += n
            result[v.output] = {
                "keypoints": kps[order].astype(np.float32).reshape(n, self.K, 3),
                "person_id": np.full(n, -1, dtype=np.int64),
                "score": scores[order].astype(np.float32),
                "boxes": boxes[order].astype(np.float32).reshape(n, 4),
            }
        return result

    def _simcc(
        self, work: list[tuple[_View, np.ndarray]], frameset: FrameSet
    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        crops: list[np.ndarray] = []
        owners: list[tuple[str, np.ndarray, np.ndarray, float]] = []  # output, inverse affine, box, score
        for v, img in work:
            h, w = img.shape[:2]
            if v.boxes is None:
                boxes, scores = np.array([[0.0, 0.0, w, h]]), np.ones(1)
            else:
                bf = frameset.get(v.boxes)
                boxes = np.asarray(bf["boxes"], dtype=np.float64).reshape(-1, 4) if bf is not None else np.zeros((0, 4))
                scores = (
                    np.asarray(bf["score"], dtype=np.float64)
                    if bf is not None and "score" in bf.data
                    else np.ones(len(boxes))
                )
            for box, sc in zip(boxes, scores, strict=True):
                if not np.isfinite(box).all() or box[2] <= box[0] or box[3] <= box[1]:
                    continue
                center, scale = box_to_center_scale(box, aspect_w_over_h=self.W / self.H, padding=self.p.bbox_padding)
                A = topdown_affine(center, scale, (self.W, self.H))
                crops.append(
                    cv2.warpAffine(
                        img,
                        A,
                        (self.W, self.H),
                        flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_CONSTANT,
                        borderValue=(0, 0, 0),
                    )
                )
                owners.append((v.output, cv2.invertAffineTransform(A), box, float(sc)))
        out: dict[str, tuple[list[np.ndarray], list[float], list[np.ndarray]]] = {
            v.output: ([], [], []) for v, _ in work
        }
        if crops:
            x = self._normalise(np.stack(crops))
            if self.dynamic_batch:
                sx, sy = self._run(x)
            else:
                parts = [self._run(x[i : i + 1]) for i in range(len(x))]
                sx, sy = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            locs, kscore = decode_simcc(sx, sy, self.p.simcc_split_ratio)
            for i, (name, Ainv, box, person_score) in enumerate(owners):
                xy = apply_affine(Ainv, locs[i])
                kp = np.column_stack([xy, np.clip(kscore[i], 0.0, 1.0)])
                out[name][0].append(kp)
                out[name][1].append(person_score)
                out[name][2].append(box)
        return {k: _stack(a, b, c, self.K) for k, (a, b, c) in out.items()}

    def _one_stage(self, img: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fam = self.p.family
        lb_img, lb = letterbox(img, (self.W, self.H), center=(fam == "yolo_pose"))
        outs = self._run(self._normalise(lb_img[None]))
        K = self.K
        if fam == "yolo_pose":
            pred = outs[0][0]
            pred = pred if self.yolo_transposed else pred.T  # (N, 5 + 3K)
            cx, cy, bw, bh = pred[:, 0], pred[:, 1], pred[:, 2], pred[:, 3]
            scores = pred[:, 4].astype(np.float64)
            boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1).astype(np.float64)
            kps = pred[:, 5:].reshape(-1, K, 3).astype(np.float64)
        else:
            dets = outs[0][0].astype(np.float64)
            boxes, scores = dets[:, :4], dets[:, 4]
            kps = outs[1][0].astype(np.float64)
        keep = np.isfinite(scores) & (scores >= self.p.score_threshold) & np.isfinite(boxes).all(axis=1)
        boxes, scores, kps = boxes[keep], scores[keep], kps[keep]
        if len(scores):
            sel = nms(boxes, scores, self.p.nms_iou)
            boxes, scores, kps = boxes[sel], scores[sel], kps[sel]
        xy = lb.to_image(kps[..., :2])
        b = lb.to_image(boxes.reshape(-1, 2, 2)).reshape(-1, 4)
        conf = np.clip(np.nan_to_num(kps[..., 2]), 0.0, 1.0)
        return np.concatenate([xy, conf[..., None]], axis=-1).reshape(-1, K, 3), scores, b

    def summary(self) -> dict[str, Any]:
        return dict(self._stats)


def _stack(
    kps: list[np.ndarray], scores: list[float], boxes: list[np.ndarray], K: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not kps:
        return np.zeros((0, K, 3)), np.zeros(0), np.zeros((0, 4))
    return np.stack(kps), np.asarray(scores, dtype=np.float64), np.stack(boxes).astype(np.float64)
