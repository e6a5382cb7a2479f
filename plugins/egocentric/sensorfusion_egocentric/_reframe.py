"""``egocentric.reframe``: a 3D skeleton stream moved between the world and a device's frame."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, StageContext, StreamSpec

from ._common import DevicePoses

__all__ = ["ReframeParams", "SkeletonReframe"]


class ReframeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    to: Literal["device", "world"] = Field(
        description="express the skeleton in the device's frame or back in the world"
    )
    max_pose_age_ms: float = Field(default=50.0, gt=0, description="use the nearest pose when at most this far in time")
    max_pose_gap_ms: float = Field(default=200.0, gt=0, description="never interpolate between poses further apart")


class SkeletonReframe(Estimator):
    """Moves one ``SKELETON3D`` input between the world frame and a device's frame, with the
    device's pose at the skeleton frame's time (SLERP between the poses around it, else the
    nearest within ``max_pose_age_ms``; otherwise that frame is skipped and counted).

    Inputs: one skeleton stream and one ``<device>/device_pose``. Output ``<stage>/skeleton3d``
    with the input's fields (``joints`` transformed) and ``attrs.frame`` = ``device:<device>``
    or ``world``. The input's ``attrs.frame`` must be the other one.
    """

    name = "egocentric.reframe"
    Params = ReframeParams
    input_kinds = (FrameKind.SKELETON3D, FrameKind.DEVICE_POSE)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, ReframeParams)
        self.p = params
        where = f"{context.config_path or context.stage_id}.inputs"
        skels = context.inputs_of_kind(FrameKind.SKELETON3D)
        if len(skels) != 1:
            raise ConfigError(
                f"needs exactly one skeleton3d input, got {len(skels)}", field_path=where, value=[s.name for s in skels]
            )
        self.poses = DevicePoses(context, max_gap_ms=params.max_pose_gap_ms, max_age_ms=params.max_pose_age_ms)
        if len(self.poses.streams) != 1:
            raise ConfigError(
                "needs exactly one device_pose input", field_path=where, value=sorted(self.poses.streams.values())
            )
        self.device = next(iter(self.poses.streams))
        self.src = skels[0]
        have = str(self.src.attrs.get("frame", "world"))
        want = "world" if params.to == "device" else f"device:{self.device}"
        if have != want:
            raise ConfigError(
                f"{self.src.name} is in frame {have!r}; moving it to {params.to!r} needs it in {want!r}",
                field_path=context.param_path("to"),
                value=params.to,
            )
        self.out = self.src.model_copy(
            update={
                "name": f"{context.stage_id}/skeleton3d",
                "attrs": {**self.src.attrs, "frame": f"device:{self.device}" if params.to == "device" else "world"},
            }
        )
        self.frames = 0
        self.skipped = 0

    def outputs(self) -> list[StreamSpec]:
        return [self.out]

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        self.poses.update(frameset)
        f = frameset.get(self.src.name)
        if f is None:
            return {}
        world_from_device = self.poses.at(self.device, f.t_sensor_ns)
        if world_from_device is None:
            self.skipped += 1
            return {}
        m = world_from_device if self.p.to == "world" else np.linalg.inv(world_from_device)
        joints = np.asarray(f["joints"], dtype=np.float64)
        moved = joints @ m[:3, :3].T + m[:3, 3]
        self.frames += 1
        out = {k: np.asarray(v) for k, v in f.data.items()}
        out["joints"] = moved.astype(f["joints"].dtype)
        return {self.out.name: out}

    def summary(self) -> dict[str, Any]:
        return {"frames": self.frames, "skipped_no_pose": self.skipped, "device_pose": self.poses.summary()}
