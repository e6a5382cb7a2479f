"""``rgbd.lift``: 2D keypoints + aligned depth -> 3D joints per camera, fused across cameras and with triangulation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.geometry import undistort_pixels
from sensorfusion.kernels import get_kernel, resolve_tier
from sensorfusion.schema import PinholeCamera

from . import _sample  # noqa: F401 - registers the rgbd.sample_depth tiers
from ._sample import MAX_HALF_WINDOW

__all__ = ["LiftParams", "RgbdLift", "depth_in_metres", "fuse_joint_estimates"]


class LiftParams(BaseModel):
    """Parameters of ``rgbd.lift``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    depth: dict[str, str] = Field(
        default_factory=dict, description="keypoint sensor -> depth stream (default <sensor>/depth)"
    )
    half_window_px: int = Field(default=2, ge=0, le=MAX_HALF_WINDOW, description="depth window (2h+1)^2 around a joint")
    min_valid_px: int = Field(default=3, ge=1, description="valid depth pixels needed")
    foreground_m: float = Field(default=0.15, gt=0, description="depths kept around the window's nearest surface")
    min_confidence: float = Field(default=0.3, ge=0, le=1, description="2D joints at or below this are not lifted")
    surface_offset_m: dict[str, float] = Field(
        default_factory=dict,
        description="joint name ('*': every joint) -> metres from the seen surface to the joint centre, along the ray",
    )
    output: Literal["fused", "per_camera", "both"] = Field(default="both", description="which 3D outputs to produce")
    triangulation: str | None = Field(
        default=None, description="a SKELETON3D input (e.g. fusion/skeleton3d) to fuse with"
    )
    depth_sigma_m_per_m2: float = Field(default=0.004, ge=0, description="depth noise model sigma(z) = a z^2")
    pixel_sigma_px: float = Field(default=3.0, ge=0, description="2D keypoint noise (lateral error z * px / f)")
    triangulation_sigma_m: float = Field(default=0.02, gt=0, description="sigma given to triangulated joints")
    outlier_m: float = Field(
        default=0.15, gt=0, description="estimates farther than this from the robust centre are dropped"
    )
    tier: str = Field(default="auto", description="kernel tier: auto, numpy, cpu, cuda")


def depth_in_metres(depth: np.ndarray, scale_m: float) -> np.ndarray:
    """uint16 (z16) or float depth -> float32 metres; holes (0, NaN, inf) become 0."""
    d = depth.astype(np.float32) * np.float32(scale_m)
    d[~np.isfinite(d)] = 0.0
    return d


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    cw = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cw, 0.5 * cw[-1])])


def fuse_joint_estimates(
    points: np.ndarray,
    weights: np.ndarray,
    anchor: np.ndarray | None,
    anchor_weight: float,
    outlier_m: float,
    centre_weights: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Fuse estimates of one joint: ``points`` ``(K, 3)`` with ``weights`` ``(K,)`` and an optional
    ``anchor`` (a triangulated point). The robust centre is the anchor, else the coordinate-wise
    median weighted by ``centre_weights`` (default ``weights``); estimates farther than
    ``outlier_m`` from it are dropped; the result is the weighted mean of what is left
    (anchor included). Returns (point, used); ``(NaN * 3, 0)`` when nothing is left."""
    cw_all = weights if centre_weights is None else centre_weights
    ok = np.isfinite(points).all(axis=1) & (weights > 0)
    pts, w, cw = points[ok], weights[ok], cw_all[ok]
    has_anchor = anchor is not None and bool(np.isfinite(anchor).all())
    if not len(pts) and not has_anchor:
        return np.full(3, np.nan), 0
    if has_anchor:
        assert anchor is not None
        centre = anchor
    else:
        centre = np.array([_weighted_median(pts[:, k], cw) for k in range(3)])
    keep = np.linalg.norm(pts - centre, axis=1) <= outlier_m
    pts, w = pts[keep], w[keep]
    if has_anchor:
        assert anchor is not None
        pts = np.vstack([pts, anchor[None]])
        w = np.append(w, anchor_weight)
    if not len(pts):
        return np.full(3, np.nan), 0
    return (w[:, None] * pts).sum(axis=0) / w.sum(), len(pts)


class RgbdLift(Estimator):
    """Lift 2D keypoints to 3D with aligned depth; fuse cameras (and triangulation) per person.

    Inputs: ``<cam>/keypoints2d`` streams (one skeleton), the depth stream of each camera
    (``<cam>/depth`` or ``params.depth``), aligned to that camera (same size and camera
    model), and optionally the SKELETON3D stream named by ``params.triangulation``.
    Outputs: ``<cam>/skeleton3d`` per camera (``per_camera``/``both``) and
    ``<stage>/skeleton3d`` fused (``fused``/``both``). See the README for the method.
    """

    name = "rgbd.lift"
    Params = LiftParams
    input_kinds = (FrameKind.KEYPOINTS2D, FrameKind.DEPTH, FrameKind.SKELETON3D)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, LiftParams)
        self.p = params
        specs = {s.name: s for s in context.inputs}
        self.kp_streams = [s for s in context.inputs if s.kind == FrameKind.KEYPOINTS2D]
        if not self.kp_streams:
            raise ConfigError(
                "rgbd.lift needs KEYPOINTS2D inputs", field_path=f"{context.config_path or context.stage_id}.inputs"
            )
        skeletons = {s.skeleton for s in self.kp_streams}
        if len(skeletons) != 1 or None in skeletons:
            raise ConfigError("all keypoint inputs must declare the same skeleton", field_path=f"{context.config_path or context.stage_id}.inputs",
                              value=sorted(map(str, skeletons)))  # fmt: skip
        self.skeleton = context.skeletons.get(str(next(iter(skeletons))))
        J = self.skeleton.num_joints
        self.tier = resolve_tier(params.tier, field_path=context.param_path("tier"))
        self.kernel = get_kernel("rgbd.sample_depth", self.tier)
        self.cams: list[dict[str, Any]] = []
        for s in self.kp_streams:
            depth_name = params.depth.get(s.sensor, f"{s.sensor}/depth")
            dspec = specs.get(depth_name)
            if dspec is None or dspec.kind != FrameKind.DEPTH:
                raise ConfigError(f"no depth input for {s.name}", field_path=context.param_path(f"depth.{s.sensor}"), value=depth_name,
                                  choices=sorted(n for n, x in specs.items() if x.kind == FrameKind.DEPTH))  # fmt: skip
            cam = context.calibration.camera(s.sensor)
            if not isinstance(cam, PinholeCamera):
                raise ConfigError(f"rgbd.lift supports pinhole cameras; {s.sensor} is {cam.model}",
                                  field_path=f"calibration.sensors.{s.sensor}.camera.model", value=cam.model, choices=["pinhole"])  # fmt: skip
            (field_name,) = dspec.fields
            shape = dspec.fields[field_name].shape
            if tuple(shape) != (cam.height, cam.width):
                raise ConfigError(f"depth {depth_name} is {shape[1]}x{shape[0]}, the camera {cam.width}x{cam.height}: it must be aligned to the camera",
                                  field_path=context.param_path(f"depth.{s.sensor}"), value=depth_name)  # fmt: skip
            default_scale = 0.001 if np.dtype(dspec.fields[field_name].dtype).kind in "ui" else 1.0
            self.cams.append({
                "kp": s.name, "sensor": s.sensor, "depth": depth_name, "field": field_name, "camera": cam,
                "scale": float(dspec.attrs.get("depth_scale_m", default_scale)),
                "pose": context.calibration.sensors[s.sensor].world_from_sensor,
            })  # fmt: skip
        offsets = np.full(J, float(params.surface_offset_m.get("*", 0.0)))
        for joint, off in params.surface_offset_m.items():
            if joint == "*":
                continue
            if joint not in self.skeleton.joints:
                raise ConfigError("unknown joint", field_path=context.param_path(f"surface_offset_m.{joint}"), value=joint,
                                  choices=list(self.skeleton.joints))  # fmt: skip
            offsets[self.skeleton.joints.index(joint)] = off
        self.offsets = offsets
        self.tri: str | None = params.triangulation
        if self.tri is not None:
            tspec = specs.get(self.tri)
            if tspec is None or tspec.kind != FrameKind.SKELETON3D or tspec.skeleton != self.skeleton.name:
                raise ConfigError(f"not a {self.skeleton.name} SKELETON3D input", field_path=context.param_path("triangulation"), value=self.tri,
                                  choices=sorted(n for n, x in specs.items() if x.kind == FrameKind.SKELETON3D))  # fmt: skip
        self.fused_name = f"{context.stage_id}/skeleton3d"
        self._stats = {
            "framesets": 0,
            "joints_2d": 0,
            "joints_lifted": 0,
            "fused_joints": 0,
            "unassociated": 0,
            "outliers_dropped": 0,
        }

    def outputs(self) -> list[StreamSpec]:
        J = self.skeleton.num_joints
        out = []
        if self.p.output in ("per_camera", "both"):
            for c in self.cams:
                out.append(StreamSpec(name=f"{c['sensor']}/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton=self.skeleton.name,
                                      fields={"joints": FieldSpec(dtype="float32", shape=(J, 3)), "person_id": FieldSpec(dtype="int64"),
                                              "depth_m": FieldSpec(dtype="float32", shape=(J,)), "confidence": FieldSpec(dtype="float32", shape=(J,))},
                                      attrs={"frame": "world", "units": "m", "method": "rgbd.lift"}))  # fmt: skip
        if self.p.output in ("fused", "both"):
            out.append(StreamSpec(name=self.fused_name, kind=FrameKind.SKELETON3D, ragged=True, skeleton=self.skeleton.name,
                                  fields={"joints": FieldSpec(dtype="float32", shape=(J, 3)), "person_id": FieldSpec(dtype="int64"),
                                          "sources": FieldSpec(dtype="int8", shape=(J,))},
                                  attrs={"frame": "world", "units": "m", "method": "rgbd.lift fused", "triangulation": self.tri}))  # fmt: skip
        return out

    def lift_camera(
        self, cam: dict[str, Any], keypoints: np.ndarray, depth: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``keypoints`` ``(P, J, 3)`` + raw depth -> world joints ``(P, J, 3)``, surface depth ``(P, J)``, used confidence ``(P, J)``."""
        P, J = keypoints.shape[:2]
        uv = keypoints[..., :2].astype(np.float64).reshape(-1, 2)
        conf = np.nan_to_num(keypoints[..., 2].astype(np.float64)).reshape(-1)
        uv = np.where((conf > self.p.min_confidence)[:, None], uv, np.nan)
        z = np.empty(len(uv))
        n = np.empty(len(uv), dtype=np.int32)
        self.kernel(depth_in_metres(depth, cam["scale"]), np.ascontiguousarray(uv), self.p.half_window_px, self.p.min_valid_px,
                    self.p.foreground_m, z, n)  # fmt: skip
        c: PinholeCamera = cam["camera"]
        und = undistort_pixels(uv, c)
        ray = np.stack([(und[:, 0] - c.cx) / c.fx, (und[:, 1] - c.cy) / c.fy, np.ones(len(uv))], axis=1)
        off = np.tile(self.offsets, P)
        with np.errstate(invalid="ignore"):
            p_cam = ray * z[:, None] + off[:, None] * ray / np.linalg.norm(ray, axis=1, keepdims=True)
        world = cam["pose"].apply(p_cam).reshape(P, J, 3)
        ok = np.isfinite(world).all(axis=-1)
        self._stats["joints_2d"] += int(np.isfinite(uv).all(axis=1).sum())
        self._stats["joints_lifted"] += int(ok.sum())
        return world, z.reshape(P, J), np.where(ok, conf.reshape(P, J), 0.0)

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        J = self.skeleton.num_joints
        out: dict[str, dict[str, np.ndarray]] = {}
        per_person: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]] = {}
        for cam in self.cams:
            kf, df = frameset.get(cam["kp"]), frameset.get(cam["depth"])
            if kf is None or df is None:
                continue
            kps = np.asarray(kf["keypoints"])
            world, z, conf = self.lift_camera(cam, kps, np.asarray(df[cam["field"]]))
            if self.p.output in ("per_camera", "both"):
                out[f"{cam['sensor']}/skeleton3d"] = {"joints": world.astype(np.float32), "person_id": np.asarray(kf["person_id"], dtype=np.int64),
                                                      "depth_m": z.astype(np.float32), "confidence": conf.astype(np.float32)}  # fmt: skip
            fx = float(cam["camera"].fx)
            for p, pid in enumerate(np.asarray(kf["person_id"])):
                if pid < 0:
                    self._stats["unassociated"] += 1
                    continue
                per_person.setdefault(int(pid), []).append((world[p], z[p], conf[p], fx))
        if self.p.output in ("fused", "both"):
            tri = frameset.get(self.tri) if self.tri else None
            tri_by_id = (
                {int(i): j for i, j in zip(tri["person_id"], tri["joints"], strict=True)} if tri is not None else {}
            )
            ids = sorted(set(per_person) | set(tri_by_id))
            joints = np.full((len(ids), J, 3), np.nan)
            sources = np.zeros((len(ids), J), dtype=np.int8)
            w_tri = 1.0 / self.p.triangulation_sigma_m**2
            for k, pid in enumerate(ids):
                ests = per_person.get(pid, [])
                anchor_all = tri_by_id.get(pid)
                for j in range(J):
                    pts = np.array([e[0][j] for e in ests]).reshape(-1, 3)
                    zz = np.array([e[1][j] for e in ests])
                    cc = np.array([e[2][j] for e in ests])
                    ff = np.array([e[3] for e in ests])
                    with np.errstate(invalid="ignore"):
                        sigma = self.p.depth_sigma_m_per_m2 * zz**2 + self.p.pixel_sigma_px * zz / ff + 1e-3
                        w = np.where(np.isfinite(sigma), cc / sigma**2, 0.0)
                    anchor = None if anchor_all is None else np.asarray(anchor_all[j], dtype=np.float64)
                    # the centre: confidence-weighted (a near camera must not outvote the others)
                    x, used = fuse_joint_estimates(pts, w, anchor, w_tri, self.p.outlier_m, centre_weights=cc)
                    n_in = int((np.isfinite(pts).all(axis=1) & (w > 0)).sum()) + int(
                        anchor is not None and np.isfinite(anchor).all()
                    )
                    self._stats["outliers_dropped"] += max(n_in - used, 0)
                    joints[k, j], sources[k, j] = x, used
            self._stats["fused_joints"] += int((sources > 0).sum())
            out[self.fused_name] = {
                "joints": joints.astype(np.float32),
                "person_id": np.asarray(ids, dtype=np.int64),
                "sources": sources,
            }
        self._stats["framesets"] += 1
        return out

    def summary(self) -> dict[str, Any]:
        s: dict[str, Any] = dict(self._stats)
        s["lifted_fraction"] = round(s["joints_lifted"] / s["joints_2d"], 4) if s["joints_2d"] else None
        s["tier"] = self.tier
        return s
