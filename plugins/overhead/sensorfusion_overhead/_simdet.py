"""``overhead.sim``: a rotated-box person detector for simulated ceiling cameras that errs like a real one.

It never looks at pixels: it reads the simulator's ground truth per ceiling camera
(``<cam>/gt_rboxes``: the radius-aligned box of each person's whole body, the visible
fraction of it, the mid-ankle and head pixels) and applies an error model, per person:

1. **Not reported**: people with less than ``min_visible_fraction`` of their body visible
   (hidden behind others) or a box shorter than ``min_box_px``; of the rest each is missed
   with ``miss_prob``, more often when partly hidden (``+ occluded_miss_prob * (1 - visible)``).
2. **Box noise**: centre Gaussian ``centre_sigma_rel`` x the box length along each axis, sides
   log-normal ``size_sigma_rel``, angle Gaussian ``angle_sigma_deg`` — widened up to
   ``under_camera_angle_sigma_deg`` when the box nears the image of the nadir, where a person
   seen from above has no clear orientation.
3. **Score**: ``0.55 + 0.4 * visible`` (± 0.05), less for small boxes.
4. **Feet** (``keypoints: true``): the mid-ankle pixel with ``keypoint_sigma_px`` noise when
   an ankle is visible, NaN otherwise.
5. **False positives**: Poisson with mean ``false_positives_per_frame`` per camera, radius-aligned
   boxes of person size at random places inside the image circle, scores 0.3-0.6.

Randomness of camera ``c`` at time ``t``: ``SeedSequence(seed, spawn_key=(0x0E4D, crc32(c),
t_hi, t_lo))``, so any frameset gives the same bytes however often it is processed.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, StageContext, StreamSpec

from ._rbox import normalize_angle_deg
from ._streams import empty_rboxes, rboxes_spec

__all__ = ["SimOverheadDetector", "SimOverheadParams", "simulate_detections"]

_DOMAIN = 0x0E4D


class SimOverheadParams(BaseModel):
    """Parameters of ``overhead.sim``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_visible_fraction: float = Field(default=0.3, ge=0, le=1, description="less visible people are not reported")
    min_box_px: float = Field(default=10.0, ge=0, description="boxes shorter than this are not reported")
    miss_prob: float = Field(default=0.02, ge=0, le=1, description="a visible person is missed")
    occluded_miss_prob: float = Field(default=0.3, ge=0, le=1, description="added miss probability x hidden fraction")
    centre_sigma_rel: float = Field(default=0.04, ge=0, description="centre noise per box length")
    size_sigma_rel: float = Field(default=0.06, ge=0, description="log-normal noise of the sides")
    angle_sigma_deg: float = Field(default=3.0, ge=0, description="angle noise")
    under_camera_angle_sigma_deg: float = Field(default=25.0, ge=0, description="angle noise right under the camera")
    keypoints: bool = Field(default=True, description="report the mid-ankle pixel when an ankle is visible")
    keypoint_sigma_px: float = Field(default=2.5, ge=0, description="noise of the mid-ankle pixel")
    false_positives_per_frame: float = Field(
        default=0.03, ge=0, description="mean false detections per camera and frame"
    )
    identities: bool = Field(default=False, description="report the simulator's person ids (an oracle)")
    oracle: bool = Field(default=False, description="exact ground-truth boxes of every visible person, no errors")


def simulate_detections(
    gt: Mapping[str, np.ndarray],
    p: SimOverheadParams,
    rng: np.random.Generator,
    *,
    image_size: tuple[int, int] | None = None,
    nadir_px: tuple[float, float] | None = None,
    counts: dict[str, int] | None = None,
) -> dict[str, np.ndarray]:
    """Detections of one camera's ground truth (a ``<cam>/gt_rboxes`` frame's fields)."""
    c = counts if counts is not None else {}
    boxes = np.asarray(gt["rbox"], dtype=np.float64).reshape(-1, 5)
    n = len(boxes)
    vis = np.asarray(gt["visible_fraction"], dtype=np.float64).reshape(-1)
    feet = np.asarray(gt["feet_px"], dtype=np.float64).reshape(-1, 2)
    feet_vis = np.asarray(gt["feet_visible"]).reshape(-1).astype(bool)
    pids = np.asarray(gt["person_id"], dtype=np.int64).reshape(-1)
    nadir = np.asarray(nadir_px if nadir_px is not None else (np.nan, np.nan), dtype=np.float64)
    # draw everything up front, always the same amount per person (stable under parameter changes)
    u = rng.random((n, 2))
    z = rng.standard_normal((n, 7))
    out_box, out_score, out_feet, out_id = [], [], [], []
    for k in range(n):
        c["people_in_view"] = c.get("people_in_view", 0) + 1
        b = boxes[k].copy()
        if not p.oracle:
            if vis[k] < p.min_visible_fraction or b[3] < p.min_box_px:
                c["people_hidden"] = c.get("people_hidden", 0) + 1
                continue
            if u[k, 0] < p.miss_prob + p.occluded_miss_prob * (1.0 - vis[k]):
                c["people_missed"] = c.get("people_missed", 0) + 1
                continue
            length = max(b[2], b[3])
            a = math.radians(b[4])
            ex, ey = np.array([math.cos(a), math.sin(a)]), np.array([math.sin(a), -math.cos(a)])
            b[:2] += p.centre_sigma_rel * length * (z[k, 0] * ex + z[k, 1] * ey)
            b[2] *= math.exp(p.size_sigma_rel * z[k, 2])
            b[3] *= math.exp(p.size_sigma_rel * z[k, 3])
            r = float(np.hypot(*(boxes[k, :2] - nadir))) if np.all(np.isfinite(nadir)) else math.inf
            near = max(0.0, 1.0 - r / max(length, 1.0))
            sigma_a = p.angle_sigma_deg + near * (p.under_camera_angle_sigma_deg - p.angle_sigma_deg)
            b[4] = float(normalize_angle_deg(b[4] + sigma_a * z[k, 4]))
        small = min(1.0, boxes[k, 3] / 40.0)
        score = (
            1.0 if p.oracle else float(np.clip(0.55 + 0.4 * vis[k] * (0.7 + 0.3 * small) + 0.05 * z[k, 5], 0.05, 1.0))
        )
        fp = np.full(2, np.nan)
        if p.keypoints and feet_vis[k] and np.all(np.isfinite(feet[k])):
            sigma = 0.0 if p.oracle else p.keypoint_sigma_px
            fp = feet[k] + sigma * np.array([z[k, 6], z[k, 5]])
        out_box.append(b)
        out_score.append(score)
        out_feet.append(fp)
        out_id.append(int(pids[k]) if p.identities else -1)
        c["people_reported"] = c.get("people_reported", 0) + 1
    if not p.oracle and p.false_positives_per_frame > 0 and image_size is not None and np.all(np.isfinite(nadir)):
        w, h = image_size
        radius = 0.48 * min(w, h)
        for _ in range(int(rng.poisson(p.false_positives_per_frame))):
            rr = radius * math.sqrt(float(rng.random()))
            az = float(rng.uniform(-math.pi, math.pi))
            length = float(rng.uniform(0.06, 0.16)) * min(w, h)
            out_box.append(np.array([nadir[0] + rr * math.cos(az), nadir[1] + rr * math.sin(az), 0.4 * length, length,
                                     float(normalize_angle_deg(np.asarray(math.degrees(az) + 90.0)))]))  # fmt: skip
            out_score.append(float(rng.uniform(0.3, 0.6)))
            out_feet.append(np.full(2, np.nan))
            out_id.append(-1)
            c["false_positives"] = c.get("false_positives", 0) + 1
    if not out_box:
        return empty_rboxes()
    return {
        "rbox": np.asarray(out_box, dtype=np.float32),
        "score": np.asarray(out_score, dtype=np.float32),
        "feet_px": np.asarray(out_feet, dtype=np.float32),
        "person_id": np.asarray(out_id, dtype=np.int64),
    }


class SimOverheadDetector(Estimator):
    """Simulated rotated-box detector for ``sim.rig``'s ceiling cameras (see the module doc).

    Inputs: the ceiling cameras' ground-truth streams ``<cam>/gt_rboxes``. Outputs
    ``<cam>/rboxes`` (:func:`sensorfusion_overhead.rboxes_spec`).
    """

    name = "overhead.sim"
    Params = SimOverheadParams
    input_kinds = (FrameKind.BOXES, FrameKind.IMAGE)
    deterministic = True

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, SimOverheadParams)
        self.p = params
        self.gts = [s for s in context.inputs if s.kind == FrameKind.BOXES and s.channel == "gt_rboxes"]
        if not self.gts:
            raise ConfigError(
                "overhead.sim needs the simulator's <cam>/gt_rboxes ground truth among its inputs (sim.rig ceiling_cameras)",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=[s.name for s in context.inputs],
            )
        self._geometry: dict[str, tuple[tuple[int, int] | None, tuple[float, float] | None, int]] = {}
        for spec in self.gts:
            cal = context.calibration.sensors.get(spec.sensor)
            size: tuple[int, int] | None = None
            nadir: tuple[float, float] | None = None
            if cal is not None and cal.camera is not None:
                from ._camera import OverheadCamera

                cam = OverheadCamera.from_calibration(context.calibration, spec.sensor)
                size = (cal.camera.width, cal.camera.height)
                nd = cam.nadir_px
                nadir = (float(nd[0]), float(nd[1]))
            self._geometry[spec.name] = (size, nadir, zlib.crc32(spec.sensor.encode()))
        self.counts: dict[str, int] = {}

    def outputs(self) -> list[StreamSpec]:
        return [rboxes_spec(f"{s.sensor}/rboxes", s.rate_hz, simulated=True) for s in self.gts]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        out: dict[str, Mapping[str, np.ndarray]] = {}
        seed = int(self.context.seed) & 0xFFFF_FFFF_FFFF_FFFF
        for spec in self.gts:
            frame = frameset.get(spec.name)
            if frame is None:
                continue
            size, nadir, key = self._geometry[spec.name]
            t = int(frame.t_sensor_ns) & 0xFFFF_FFFF_FFFF_FFFF
            rng = np.random.default_rng(
                np.random.SeedSequence(seed, spawn_key=(_DOMAIN, key, t >> 32, t & 0xFFFF_FFFF))
            )
            out[f"{spec.sensor}/rboxes"] = simulate_detections(
                frame.data, self.p, rng, image_size=size, nadir_px=nadir, counts=self.counts
            )
        return out

    def summary(self) -> dict[str, Any]:
        return dict(self.counts)
