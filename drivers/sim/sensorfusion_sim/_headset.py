"""Simulated headsets: any simulated person can wear one (``sim.rig`` param ``headsets``).

A headset has two downward-looking fisheye cameras at the forehead (configurable camera model,
field of view about 180°, baseline about 10 cm), reports its own 6-DoF pose the way headset
tracking does (with drift and jitter), and makes its wearer look around (head yaw and pitch), so
the wearer's own body moves through the fisheye images and the legs often leave them.

Streams of headset ``<id>``:

* ``<id>_left/image``, ``<id>_right/image`` — the fisheye views (``render: true``);
* ``<id>/device_pose`` — the reported ``world_from_device`` (drift + jitter); attrs
  ``person_id`` (the wearer's id) and ``headset`` (the cameras);
* ``gt_<id>/device_pose`` — the true pose (ground truth, for training and scoring).

Calibration: ``<id>_left`` and ``<id>_right`` mounted on device ``<id>``
(:class:`~sensorfusion.schema.DeviceMount`). Everything is a pure function of the rig seed, the
headset's index and the frame index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import FieldSpec, Frame, FrameKind, StreamSpec, Transform
from sensorfusion.schema import DeviceMount, SensorCalibration, device_pose_spec

from ._fisheye_render import FisheyeRenderer
from ._headset_geometry import HeadMotion, PoseNoise, device_from_cameras, headset_camera, world_from_head

__all__ = ["HeadsetParams", "Headsets", "gt_pose_stream"]


class HeadsetParams(BaseModel):
    """One simulated headset (an entry of ``sim.rig``'s ``headsets``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.\-]+$", description="device id (default hmd<i>)")
    person: int = Field(default=0, ge=0, description="index of the simulated person wearing it")
    person_id: int | None = Field(
        default=None, description="id the wearer is reported under (default: the person index)"
    )
    model: Literal["kannala_brandt", "double_sphere", "scaramuzza", "fisheye624"] = Field(
        default="kannala_brandt", description="camera model of both fisheye cameras"
    )
    distortion: list[float] = Field(default_factory=list, description="model distortion terms beyond equidistant")
    width: int = Field(default=256, ge=16, description="image width (px)")
    height: int = Field(default=256, ge=16, description="image height (px)")
    fov_deg: float = Field(default=180.0, gt=60, le=220, description="field of view of the lens (the image circle)")
    baseline_m: float = Field(default=0.10, gt=0, description="distance between the two cameras")
    forward_m: float = Field(default=0.12, description="device origin in front of the head centre (ear midpoint)")
    up_m: float = Field(default=0.03, description="device origin above the head centre (at the forehead)")
    pitch_down_deg: float = Field(default=60.0, ge=0, le=90, description="optical axes below the device's forward axis")
    render: bool = Field(default=True, description="produce the fisheye images")
    look_yaw_deg: float = Field(default=30.0, ge=0, description="peak head yaw (looking left and right)")
    look_pitch_deg: float = Field(default=20.0, ge=0, description="peak head pitch around look_pitch_bias_deg")
    look_pitch_bias_deg: float = Field(default=-10.0, description="mean head pitch (negative: looking down)")
    drift_m_per_min: float = Field(default=0.03, ge=0, description="tracking drift of the reported position")
    drift_deg_per_min: float = Field(default=0.5, ge=0, description="tracking drift of the reported heading")
    jitter_m: float = Field(default=0.001, ge=0, description="per-frame position jitter (1 sigma)")
    jitter_deg: float = Field(default=0.1, ge=0, description="per-frame orientation jitter (1 sigma)")


def gt_pose_stream(device: str) -> str:
    """Name of a simulated headset's ground-truth pose stream."""
    return f"gt_{device}/device_pose"


class _Headset:
    def __init__(self, index: int, p: HeadsetParams, seed: int, room_m: tuple[float, float]) -> None:
        self.index = index
        self.p = p
        self.id = p.id or f"hmd{index}"
        self.person_id = p.person if p.person_id is None else p.person_id
        self.fov_rad = math.radians(p.fov_deg)
        self.camera = headset_camera(p.model, p.width, p.height, self.fov_rad, tuple(p.distortion))
        self.device_from_left, self.device_from_right = device_from_cameras(
            p.baseline_m, math.radians(p.pitch_down_deg)
        )
        self.cameras = (f"{self.id}_left", f"{self.id}_right")
        self.motion = HeadMotion(
            seed, index, yaw_deg=p.look_yaw_deg, pitch_deg=p.look_pitch_deg, pitch_bias_deg=p.look_pitch_bias_deg
        )
        self.noise = PoseNoise(
            seed, index, drift_m_per_min=p.drift_m_per_min, drift_deg_per_min=p.drift_deg_per_min,
            jitter_m=p.jitter_m, jitter_deg=p.jitter_deg,
        )  # fmt: skip
        self.room_m = room_m
        self._renderers: list[FisheyeRenderer] | None = None

    def renderers(self) -> list[FisheyeRenderer]:
        if self._renderers is None:
            self._renderers = [FisheyeRenderer(self.camera, self.fov_rad, self.room_m) for _ in self.cameras]
        return self._renderers

    def attrs(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id,
            "headset": {"cameras": list(self.cameras), "fov_deg": self.p.fov_deg, "simulated": True},
        }


class Headsets:
    """Every headset of a ``sim.rig`` (see the module docstring)."""

    def __init__(
        self, params: Sequence[HeadsetParams], *, seed: int, people: int, fps: float, room_m: tuple[float, float]
    ) -> None:
        self.items: list[_Headset] = []
        seen: set[str] = set()
        wearers: set[int] = set()
        for i, hp in enumerate(params):
            if hp.person >= people:
                raise ValueError(f"headsets[{i}].person: {hp.person} is not one of the {people} simulated people")
            if hp.person in wearers:
                raise ValueError(f"headsets[{i}].person: person {hp.person} already wears a headset")
            h = _Headset(i, hp, seed, room_m)
            if h.id in seen:
                raise ValueError(f"headsets[{i}].id: duplicate headset id {h.id!r}")
            seen.add(h.id)
            wearers.add(hp.person)
            self.items.append(h)
        self.fps = fps

    def __bool__(self) -> bool:
        return bool(self.items)

    def streams(self) -> list[StreamSpec]:
        out: list[StreamSpec] = []
        for h in self.items:
            if h.p.render:
                out += [
                    StreamSpec(
                        name=f"{cam}/image",
                        kind=FrameKind.IMAGE,
                        fields={"image": FieldSpec(dtype="uint8", shape=(h.p.height, h.p.width, 3))},
                        rate_hz=self.fps,
                        queue_size=8,
                        attrs={"color_order": "rgb", "simulated": True, "device": h.id, "fov_deg": h.p.fov_deg},
                    )
                    for cam in h.cameras
                ]
            out.append(device_pose_spec(h.id, rate_hz=self.fps, attrs={**h.attrs(), "source": "simulated tracking"}))
            gt = device_pose_spec(
                f"gt_{h.id}",
                rate_hz=self.fps,
                attrs={**h.attrs(), "ground_truth": True, "device": h.id, "wearer": h.p.person},
            )
            out.append(gt)
        return out

    def calibration(self) -> dict[str, SensorCalibration]:
        out = {}
        for h in self.items:
            for cam, m in zip(h.cameras, (h.device_from_left, h.device_from_right), strict=True):
                out[cam] = SensorCalibration(
                    camera=h.camera, mount=DeviceMount(device=h.id, device_from_sensor=Transform.from_matrix(m))
                )
        return out

    def move_heads(self, joints_m: np.ndarray, t_s: float) -> np.ndarray:
        """Every person's joints with the wearers' faces turned where they look at ``t_s``."""
        if not self.items:
            return joints_m
        out = np.array(joints_m, dtype=np.float64)
        for h in self.items:
            out[h.p.person] = h.motion.apply(out[h.p.person], t_s)
        return out

    def true_poses(self, joints_m: np.ndarray) -> list[np.ndarray]:
        """``world_from_device`` of every headset on its wearer (joints already with head motion)."""
        return [
            world_from_head(joints_m[h.p.person][None], forward_m=h.p.forward_m, up_m=h.p.up_m)[0] for h in self.items
        ]

    def frames_at(
        self,
        index: int,
        t_ns: int,
        t_host_ns: int,
        joints_m: np.ndarray,
        person_ids: np.ndarray,
        heights_m: np.ndarray,
    ) -> list[Frame]:
        frames: list[Frame] = []
        t_s = t_ns * 1e-9
        for h, pose in zip(self.items, self.true_poses(joints_m), strict=True):
            if h.p.render:
                for cam, dev_from_cam, renderer in zip(
                    h.cameras, (h.device_from_left, h.device_from_right), h.renderers(), strict=True
                ):
                    image = renderer.render(pose @ dev_from_cam, joints_m, person_ids, heights_m)
                    frames.append(Frame(f"{cam}/image", t_ns, t_host_ns, index, {"image": image}))
            reported = h.noise.report(pose, t_s, index)
            frames.append(Frame(f"{h.id}/device_pose", t_ns, t_host_ns, index, {"world_from_device": reported}))
            frames.append(Frame(gt_pose_stream(h.id), t_ns, t_host_ns, index, {"world_from_device": pose.copy()}))
        return frames
