"""Simulated ceiling fisheye cameras: placement, lens models, rendering and ground truth.

``sim.rig`` with ``ceiling_cameras: N`` adds N cameras ``ceil0 .. ceil{N-1}`` on the ceiling,
looking down (:class:`sensorfusion.schema.CeilingMount`), each with a fisheye-family lens:

* ``kannala_brandt`` — equidistant (``r = f θ``) with optional ``k1..k4``;
* ``double_sphere`` — ``xi``, ``alpha`` (defaults -0.2, 0.6: a 195°-class lens);
* ``scaramuzza`` — OCamCalib polynomial fitted to the equidistant mapping
  (``poly`` only: projection inverts it by Newton, so project and unproject agree exactly);
* ``fisheye624`` — Project Aria's model, its radial terms from ``k`` (``k0..k3``).

``f`` is chosen so that the rim of the field of view (``fov_deg``, up to ~200°) falls on the
image circle (``circle_fill`` x the half of the shorter image side). Everything outside the
field of view renders black. Cameras sit at ``height_m`` (2.5-4 m; the room's ceiling is
raised to the highest camera), by default spread evenly along the room's longer axis.

Per frame and camera the driver emits the image (:class:`RayCastRenderer`) and the ground
truth of every person the lens sees, ``<cam>/gt_rboxes``: the radius-aligned rotated box
(RAPiD convention ``[cx, cy, w, h, angle_deg]``, top toward the head, i.e. away from the
image of the nadir) enclosing the projection of the whole body (occluded parts included),
the fraction of it that is visible, and the mid-ankle and head-top pixels with a flag
telling whether an ankle is seen. ``gt/floor`` carries every person's floor position: the
mid-point of the two ankles on the floor (metres).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, SensorCalibration, StreamSpec
from sensorfusion.geometry import Camera, project
from sensorfusion.schema import (
    CeilingMount,
    DoubleSphereCamera,
    Fisheye624Camera,
    KannalaBrandtCamera,
    OmnidirectionalCamera,
)

from ._people import body_capsules
from ._raycast_render import RayCastRenderer, capsule_surface_points

__all__ = [
    "CeilingCameraParams",
    "CeilingCameras",
    "ceiling_camera_ids",
    "fisheye_camera",
    "floor_positions",
    "gt_rboxes",
]

FLOOR_STREAM = "gt/floor"
_COCO = {"left_ankle": 15, "right_ankle": 16, "left_ear": 3, "right_ear": 4, "left_shoulder": 5, "right_shoulder": 6}


class CeilingCameraParams(BaseModel):
    """The ``ceiling:`` block of ``sim.rig``: lenses and placement of the ceiling cameras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: Literal["kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"] = Field(
        default="kannala_brandt", description="lens model of every ceiling camera"
    )
    fov_deg: float = Field(default=185.0, gt=60, le=220, description="field of view of the lens (degrees)")
    width: int = Field(default=512, gt=0, description="image width in pixels")
    height: int = Field(default=512, gt=0, description="image height in pixels")
    circle_fill: float = Field(default=0.98, gt=0.2, le=1.5, description="image-circle radius / half the shorter side")
    height_m: float = Field(default=3.0, ge=2.0, le=5.0, description="mounting height above the floor")
    positions_m: list[tuple[float, float]] | None = Field(
        default=None, description="(x, y) of each camera; default: spread along the room's longer axis"
    )
    yaw_deg: float = Field(default=0.0, description="rotation of every image about the vertical")
    tilt_deg: float = Field(default=0.0, ge=0, lt=45, description="tilt of the optical axis from the nadir")
    k: tuple[float, float, float, float] = Field(default=(0.0, 0.0, 0.0, 0.0), description="kannala_brandt k1..k4")
    xi: float = Field(default=-0.2, description="double_sphere xi")
    alpha: float = Field(default=0.6, ge=0, le=1, description="double_sphere alpha")

    @model_validator(mode="after")
    def _lens_fits(self) -> CeilingCameraParams:
        if self.model == "double_sphere":
            # the model images rays with z > -w2 |p| only: the field of view must stay inside that cone
            a, xi = self.alpha, self.xi
            w1 = a / (1 - a) if a <= 0.5 else (1 - a) / a
            w2 = (w1 + xi) / math.sqrt(2 * w1 * xi + xi * xi + 1)
            widest = 2.0 * math.degrees(math.acos(max(-1.0, min(1.0, -w2))))
            if self.fov_deg >= widest:
                raise ValueError(
                    f"a double-sphere lens with xi={xi}, alpha={a} sees less than {widest:.0f} degrees; fov_deg={self.fov_deg}"
                )
        return self


def ceiling_camera_ids(n: int) -> list[str]:
    """Sensor ids of the ceiling cameras: ``ceil0 .. ceil{n-1}``."""
    return [f"ceil{i}" for i in range(n)]


def fisheye_camera(p: CeilingCameraParams) -> Camera:
    """The lens of a ceiling camera: its rim (``fov_deg / 2`` from the axis) on the image circle."""
    w, h = p.width, p.height
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    radius = p.circle_fill * min(w, h) / 2.0
    half = math.radians(p.fov_deg) / 2.0
    if p.model == "kannala_brandt":
        k1, k2, k3, k4 = p.k
        thd = half * (1 + k1 * half**2 + k2 * half**4 + k3 * half**6 + k4 * half**8)
        f = radius / thd
        return KannalaBrandtCamera(width=w, height=h, fx=f, fy=f, cx=cx, cy=cy, k1=k1, k2=k2, k3=k3, k4=k4)
    if p.model == "fisheye624":
        # Project Aria's model; its radial part is Kannala-Brandt's with six terms (k's here: k0..k3)
        k0, k1, k2, k3 = p.k
        thd = half * (1 + k0 * half**2 + k1 * half**4 + k2 * half**6 + k3 * half**8)
        return Fisheye624Camera(width=w, height=h, f=radius / thd, cu=cx, cv=cy, k0=k0, k1=k1, k2=k2, k3=k3)
    if p.model == "double_sphere":
        unit = DoubleSphereCamera(width=w, height=h, fx=1.0, fy=1.0, cx=0.0, cy=0.0, xi=p.xi, alpha=p.alpha)
        rim = project(unit, np.array([[math.sin(half), 0.0, math.cos(half)]]), tier="numpy")[0, 0]
        f = radius / float(rim)
        return DoubleSphereCamera(width=w, height=h, fx=f, fy=f, cx=cx, cy=cy, xi=p.xi, alpha=p.alpha)
    # scaramuzza: cam2world polynomial of the equidistant lens r = f θ, i.e. z_o(ρ) = -ρ / tan(ρ / f)
    f = radius / half
    rho = np.linspace(0.0, radius * 1.04, 400)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(rho > 0, -rho / np.tan(rho / f), -f)
    basis = np.stack([rho**k for k in (0, 2, 3, 4, 5, 6)], axis=1)
    coef, *_ = np.linalg.lstsq(
        basis / np.array([1, radius**2, radius**3, radius**4, radius**5, radius**6]), z, rcond=None
    )
    coef = coef / np.array([1, radius**2, radius**3, radius**4, radius**5, radius**6])
    poly = (float(coef[0]), 0.0, *(float(c) for c in coef[1:]))
    return OmnidirectionalCamera(width=w, height=h, poly=poly, inv_poly=(), cx=cx, cy=cy)


def _positions(n: int, p: CeilingCameraParams, room_m: tuple[float, float]) -> list[tuple[float, float]]:
    if p.positions_m is not None:
        if len(p.positions_m) != n:
            raise ValueError(f"ceiling.positions_m has {len(p.positions_m)} entries for {n} ceiling cameras")
        return [(float(x), float(y)) for x, y in p.positions_m]
    lx, ly = room_m
    along_x = lx >= ly
    span = lx if along_x else ly
    out = []
    for i in range(n):
        s = ((i + 0.5) / n - 0.5) * span
        out.append((s, 0.0) if along_x else (0.0, s))
    return out


def floor_positions(joints_m: np.ndarray) -> np.ndarray:
    """Ground-truth floor position ``(P, 2)``: the mid-point of the two ankles, on the floor."""
    j = np.asarray(joints_m, dtype=np.float64)
    out: np.ndarray = 0.5 * (j[:, _COCO["left_ankle"], :2] + j[:, _COCO["right_ankle"], :2])
    return out


def gt_rboxes(
    renderer: RayCastRenderer,
    joints_m: np.ndarray,
    heights_m: np.ndarray | None,
    nadir_px: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person: the radius-aligned box ``(P, 5)`` of the whole body's projection (NaN when
    none of it is imaged), the mid-ankle pixel ``(P, 2)`` and the head-top pixel ``(P, 2)``."""
    j = np.asarray(joints_m, dtype=np.float64)
    n = len(j)
    boxes = np.full((n, 5), np.nan)
    if n == 0:
        return boxes, np.zeros((0, 2)), np.zeros((0, 2))
    a, b, radius = body_capsules(j, heights_m)
    pts = capsule_surface_points(a, b, radius, samples=5).reshape(n, -1, 3)
    px = renderer.project(pts)
    ankles = 0.5 * (j[:, _COCO["left_ankle"]] + j[:, _COCO["right_ankle"]])
    head_top = b[:, 0] + radius[:, 0:1] * _up(j)  # the head capsule's top end, plus its radius
    feet_px = renderer.project(ankles)
    head_px = renderer.project(head_top)
    valid_px = renderer.valid
    hh, ww = valid_px.shape
    for k in range(n):
        q = px[k][np.all(np.isfinite(px[k]), axis=1)]
        if len(q) == 0:
            continue
        iu = np.clip(np.rint(q[:, 0]).astype(int), 0, ww - 1)
        iv = np.clip(np.rint(q[:, 1]).astype(int), 0, hh - 1)
        inside = (
            (q[:, 0] >= -0.5) & (q[:, 0] <= ww - 0.5) & (q[:, 1] >= -0.5) & (q[:, 1] <= hh - 0.5) & valid_px[iv, iu]
        )
        q = q[inside]
        if len(q) < 3:
            continue
        boxes[k] = _radial_box(q, nadir_px)
    return boxes, feet_px, head_px


def _up(joints: np.ndarray) -> np.ndarray:
    neck = 0.5 * (joints[:, _COCO["left_shoulder"]] + joints[:, _COCO["right_shoulder"]])
    pelvis = 0.5 * (joints[:, 11] + joints[:, 12])
    up = neck - pelvis
    out: np.ndarray = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    return out


def _radial_box(points_px: np.ndarray, centre_px: np.ndarray) -> np.ndarray:
    """Radius-aligned box enclosing the points, top pointing away from ``centre_px`` (RAPiD angle)."""
    c = np.asarray(centre_px, dtype=np.float64)
    m = points_px.mean(axis=0) - c
    az = math.atan2(float(m[1]), float(m[0])) if float(np.hypot(*m)) > 1e-9 else 0.0
    er = np.array([math.cos(az), math.sin(az)])
    et = np.array([-er[1], er[0]])
    d = points_px - c
    r, t = d @ er, d @ et
    centre = c + 0.5 * (r.min() + r.max()) * er + 0.5 * (t.min() + t.max()) * et
    angle = (math.degrees(az) + 90.0 + 180.0) % 360.0 - 180.0
    return np.array([centre[0], centre[1], t.max() - t.min(), r.max() - r.min(), angle])


class CeilingCameras:
    """The ceiling cameras of a simulated rig: streams, calibration and frames (pure in the frame index)."""

    def __init__(self, n: int, params: CeilingCameraParams, *, fps: float, room_m: tuple[float, float]) -> None:
        self.p = params
        self.fps = fps
        self.room_m = room_m
        self.ids = ceiling_camera_ids(n)
        self.camera = fisheye_camera(params) if n else None
        self.room_height_m = max(3.0, params.height_m + 0.05)
        sensors: dict[str, SensorCalibration] = {}
        for sid, (x, y) in zip(self.ids, _positions(n, params, room_m), strict=True):
            mount = CeilingMount(
                height_m=params.height_m,
                position_m=(x, y),
                yaw_rad=math.radians(params.yaw_deg),
                tilt_rad=math.radians(params.tilt_deg),
                tilt_azimuth_rad=math.atan2(-y, -x) if (x or y) else 0.0,
            )
            sensors[sid] = SensorCalibration(camera=self.camera, world_from_sensor=mount.world_from_sensor())
        self.rig = RigCalibration(sensors=sensors)
        self._renderers: list[RayCastRenderer] | None = None
        self._nadirs: list[np.ndarray] = []

    def streams(self, *, render: bool = True) -> list[StreamSpec]:
        if not self.ids:
            return []
        p = self.p
        out: list[StreamSpec] = []
        for sid in self.ids if render else []:
            out.append(StreamSpec(name=f"{sid}/image", kind=FrameKind.IMAGE, rate_hz=self.fps, queue_size=8,
                                  fields={"image": FieldSpec(dtype="uint8", shape=(p.height, p.width, 3))},
                                  attrs={"color_order": "rgb", "simulated": True, "lens": p.model, "fov_deg": p.fov_deg}))  # fmt: skip
        for sid in self.ids:
            out.append(
                StreamSpec(
                    name=f"{sid}/gt_rboxes",
                    kind=FrameKind.BOXES,
                    ragged=True,
                    rate_hz=self.fps,
                    fields={
                        "rbox": FieldSpec(dtype="float32", shape=(5,)),
                        "person_id": FieldSpec(dtype="int64"),
                        "visible_fraction": FieldSpec(dtype="float32"),
                        "feet_px": FieldSpec(dtype="float32", shape=(2,)),
                        "feet_visible": FieldSpec(dtype="uint8"),
                        "head_px": FieldSpec(dtype="float32", shape=(2,)),
                    },
                    attrs={"ground_truth": True, "format": "rapid", "units": {"rbox": "px, px, px, px, deg"}},
                )
            )
        out.append(
            StreamSpec(
                name=FLOOR_STREAM,
                kind=FrameKind.POINT_CLOUD,
                ragged=True,
                rate_hz=self.fps,
                fields={"position_m": FieldSpec(dtype="float32", shape=(2,)), "person_id": FieldSpec(dtype="int64")},
                attrs={"frame": "world", "units": "m", "ground_truth": True, "definition": "mid-point of the ankles"},
            )
        )
        return out

    def renderers(self) -> list[RayCastRenderer]:
        if self._renderers is None:
            out = []
            for sid in self.ids:
                cal = self.rig.sensors[sid]
                assert cal.camera is not None
                r = RayCastRenderer(cal.camera, cal.world_from_sensor, self.room_m, room_height_m=self.room_height_m,
                                    fov_rad=math.radians(self.p.fov_deg))  # fmt: skip
                out.append(r)
                origin = cal.world_from_sensor.matrix[:3, 3]
                self._nadirs.append(r.project(origin - np.array([0.0, 0.0, 1.0])))
            self._renderers = out
        return self._renderers

    def frames_at(
        self,
        index: int,
        t_ns: int,
        t_host_ns: int,
        joints: np.ndarray,
        ids: np.ndarray,
        heights_m: np.ndarray,
        *,
        render: bool = True,
    ) -> list[Frame]:
        if not self.ids:
            return []
        frames = []
        for sid, renderer, nadir in zip(self.ids, self.renderers(), self._nadirs, strict=True):
            boxes, feet_px, head_px = gt_rboxes(renderer, joints, heights_m, nadir)
            seen = np.all(np.isfinite(boxes), axis=1)
            if render or seen.any():
                buf = renderer.render_buffers(joints, ids, heights_m)
                vis = buf.visible_fraction
                ankles = 0.5 * (joints[:, _COCO["left_ankle"]] + joints[:, _COCO["right_ankle"]])
                expected = np.linalg.norm(ankles - renderer.world_from_camera.matrix[:3, 3], axis=-1)
                feet_visible = _seen_at(buf.distance_m, feet_px, expected, tolerance_m=0.15)
                if render:
                    frames.append(Frame(f"{sid}/image", t_ns, t_host_ns, index, {"image": buf.image}))
            else:
                vis = np.zeros(len(ids))
                feet_visible = np.zeros(len(ids), dtype=bool)
            gt: dict[str, np.ndarray] = {
                "rbox": boxes[seen].astype(np.float32),
                "person_id": ids[seen].astype(np.int64),
                "visible_fraction": vis[seen].astype(np.float32),
                "feet_px": feet_px[seen].astype(np.float32),
                "feet_visible": feet_visible[seen].astype(np.uint8),
                "head_px": head_px[seen].astype(np.float32),
            }
            frames.append(Frame(f"{sid}/gt_rboxes", t_ns, t_host_ns, index, gt))
        floor: dict[str, np.ndarray] = {
            "position_m": floor_positions(joints).astype(np.float32),
            "person_id": ids.astype(np.int64),
        }
        frames.append(Frame(FLOOR_STREAM, t_ns, t_host_ns, index, floor))
        return frames


def _seen_at(distance_m: np.ndarray, px: np.ndarray, expected_m: np.ndarray, *, tolerance_m: float) -> np.ndarray:
    """Per point: the first surface along the ray of pixel ``px`` is within ``tolerance_m`` of the point
    (nothing - another person or the body itself - is in front of it)."""
    h, w = distance_m.shape
    out = np.zeros(len(expected_m), dtype=bool)
    for k, (u, v) in enumerate(np.asarray(px, dtype=np.float64).reshape(-1, 2)):
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        iu, iv = round(u), round(v)
        if 0 <= iu < w and 0 <= iv < h:
            out[k] = bool(distance_m[iv, iu] >= expected_m[k] - tolerance_m)
    return out
