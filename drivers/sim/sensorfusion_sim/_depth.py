"""Simulated RGB-D cameras: colour and depth rendered from the same viewpoint, with a depth error model.

Each depth camera ``depth{i}`` is an RGB-D unit like a RealSense with depth aligned to
colour: one pinhole model (``depth{i}`` in the calibration) for both ``depth{i}/image``
(uint8 RGB) and ``depth{i}/depth`` (uint16 millimetres, ``depth_scale_m = 0.001`` — the
z16 convention of real depth cameras; 0 = no measurement). The units are placed like the
colour ring (:func:`make_rig`: evenly spaced in angle, the first toward the ``(-x, -y)``
corner) but at ``height_m`` (default 1.8 m), looking at ``(0, 0, 1 m)``.

Depth error model, applied to the renderer's exact z-buffer (:meth:`CameraRenderer.render_buffers`),
in this order:

1. **Range**: z outside ``[min_range_m, max_range_m]`` (and the far-away/undefined
   background) reads 0.
2. **Noise**: Gaussian with ``sigma(z) = noise_m_per_m2 * z**2`` (stereo depth error grows
   with the square of the distance; 0.004 m/m² is about a D435 at full resolution:
   4 mm at 1 m, 16 mm at 2 m, 36 mm at 3 m), plus a per-frame per-camera offset
   ``bias_m_per_m2 * z**2 * u`` with ``u ~ U(-1, 1)`` (a slowly varying calibration error).
3. **Quantisation** to whole millimetres.
4. **Holes**: pixels next to a depth discontinuity larger than ``edge_jump_m`` (silhouette
   edges, where stereo matching fails and flying pixels appear) read 0 with probability
   ``edge_dropout_prob``; any pixel reads 0 with ``invalid_prob`` (specular, dark or
   untextured spots).

The randomness of camera ``c`` at frame ``index`` comes from
``SeedSequence(seed, spawn_key=(0xD3, crc32(c), index))``, so depth frames, like the rest
of the simulator, are a pure function of the seed and the frame index. Ground truth is
untouched.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import FieldSpec, Frame, FrameKind, RigCalibration, StreamSpec
from sensorfusion.schema import PinholeCamera

from ._render import CameraRenderer
from ._rig import make_rig

__all__ = ["DEPTH_SCALE_M", "DepthCameraParams", "DepthCameras", "depth_camera_ids", "simulate_depth_mm"]

DEPTH_SCALE_M = 0.001
_DOMAIN = 0xD3


class DepthCameraParams(BaseModel):
    """The ``depth:`` block of ``sim.rig``: placement and error model of the RGB-D cameras."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    height_m: float = Field(default=1.8, gt=0, lt=3.0, description="mounting height")
    fov_deg: float = Field(default=87.0, gt=1, lt=179, description="horizontal field of view (D435 depth: 87)")
    width: int | None = Field(default=None, gt=0, description="image width (default: the rig's)")
    height: int | None = Field(default=None, gt=0, description="image height (default: the rig's)")
    min_range_m: float = Field(default=0.2, ge=0)
    max_range_m: float = Field(default=10.0, gt=0)
    noise_m_per_m2: float = Field(default=0.004, ge=0, description="sigma of the depth noise per z^2")
    bias_m_per_m2: float = Field(default=0.001, ge=0, description="per-frame depth offset bound per z^2")
    edge_jump_m: float = Field(default=0.1, gt=0, description="a neighbour this much farther/nearer makes an edge")
    edge_dropout_prob: float = Field(default=0.6, ge=0, le=1, description="edge pixels that read 0")
    invalid_prob: float = Field(default=0.005, ge=0, le=1, description="any pixel reads 0")
    noise: bool = Field(default=True, description="false: exact depth (quantised to mm, range limits only)")


def depth_camera_ids(n: int) -> list[str]:
    return [f"depth{i}" for i in range(n)]


def simulate_depth_mm(depth_m: np.ndarray, params: DepthCameraParams, rng: np.random.Generator | None) -> np.ndarray:
    """Exact z-buffer ``(H, W)`` float metres -> a depth camera's uint16 millimetres (0 = hole).

    With ``rng`` None (or ``params.noise`` false) only the range limits and the quantisation apply.
    """
    z = np.asarray(depth_m, dtype=np.float64)
    valid = np.isfinite(z) & (z >= params.min_range_m) & (z <= params.max_range_m)
    zc = np.where(valid, z, 0.0)
    if rng is not None and params.noise:
        bias = params.bias_m_per_m2 * rng.uniform(-1.0, 1.0)
        zc = zc + (params.noise_m_per_m2 * rng.standard_normal(zc.shape) + bias) * zc**2
        # discontinuities of the true depth (4-neighbourhood, either side)
        zf = np.where(np.isfinite(z), z, 1e3)
        edge = np.zeros(z.shape, dtype=bool)
        dx = np.abs(np.diff(zf, axis=1)) > params.edge_jump_m
        dy = np.abs(np.diff(zf, axis=0)) > params.edge_jump_m
        edge[:, 1:] |= dx
        edge[:, :-1] |= dx
        edge[1:, :] |= dy
        edge[:-1, :] |= dy
        drop = (edge & (rng.random(z.shape) < params.edge_dropout_prob)) | (rng.random(z.shape) < params.invalid_prob)
        valid &= ~drop
    mm = np.rint(zc / DEPTH_SCALE_M)
    mm = np.where(valid & (mm > 0), np.minimum(mm, 65535), 0)
    return mm.astype(np.uint16)


class DepthCameras:
    """The RGB-D units of a simulated rig: streams, calibration and frames (pure in the frame index)."""

    def __init__(
        self,
        n: int,
        params: DepthCameraParams,
        *,
        seed: int,
        width: int,
        height: int,
        fps: float,
        room_m: tuple[float, float],
    ) -> None:
        self.p = params
        self.seed = seed
        self.fps = fps
        self.ids = depth_camera_ids(n)
        self.width, self.height = params.width or width, params.height or height
        self.room_m = room_m
        rig = make_rig(n, width=self.width, height=self.height, hfov_rad=math.radians(params.fov_deg),
                       camera_height_m=params.height_m, room_m=room_m) if n else RigCalibration()  # fmt: skip
        self.rig = RigCalibration(sensors=dict(zip(self.ids, rig.sensors.values(), strict=True)))
        self._renderers: list[CameraRenderer] | None = None

    def streams(self) -> list[StreamSpec]:
        out: list[StreamSpec] = []
        for sid in self.ids:
            out.append(StreamSpec(name=f"{sid}/image", kind=FrameKind.IMAGE, rate_hz=self.fps, queue_size=8,
                                  fields={"image": FieldSpec(dtype="uint8", shape=(self.height, self.width, 3))},
                                  attrs={"color_order": "rgb", "simulated": True}))  # fmt: skip
            out.append(StreamSpec(name=f"{sid}/depth", kind=FrameKind.DEPTH, rate_hz=self.fps, queue_size=8,
                                  fields={"depth": FieldSpec(dtype="uint16", shape=(self.height, self.width))},
                                  attrs={"depth_scale_m": DEPTH_SCALE_M, "units": "z16", "aligned_to": "color",
                                         "simulated": True, "noise_m_per_m2": self.p.noise_m_per_m2 if self.p.noise else 0.0}))  # fmt: skip
        return out

    def renderers(self) -> list[CameraRenderer]:
        if self._renderers is None:
            out = []
            for sid in self.ids:
                cal = self.rig.sensors[sid]
                assert isinstance(cal.camera, PinholeCamera)
                out.append(CameraRenderer(cal.camera, cal.world_from_sensor, self.room_m))
            self._renderers = out
        return self._renderers

    def frames_at(
        self, index: int, t_ns: int, t_host_ns: int, joints: np.ndarray, ids: np.ndarray, heights_m: np.ndarray
    ) -> list[Frame]:
        frames = []
        for sid, renderer in zip(self.ids, self.renderers(), strict=True):
            buf = renderer.render_buffers(joints, ids, heights_m)
            rng = None
            if self.p.noise:
                ss = np.random.SeedSequence(self.seed, spawn_key=(_DOMAIN, zlib.crc32(sid.encode()), index))
                rng = np.random.default_rng(ss)
            depth = simulate_depth_mm(buf.depth_m, self.p, rng)
            frames.append(Frame(f"{sid}/image", t_ns, t_host_ns, index, {"image": buf.image}))
            frames.append(Frame(f"{sid}/depth", t_ns, t_host_ns, index, {"depth": depth}))
        return frames
