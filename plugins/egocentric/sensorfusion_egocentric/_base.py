"""What every egocentric estimator shares: headsets from the inputs, the wearer's detections, the
device pose at the detections' time, and the world-frame output.

Inputs of a stage: the ``KEYPOINTS2D`` streams of headset cameras (sensors the calibration
mounts on a device) and each device's ``<device>/device_pose``. The stage may serve several
headsets at once; each gives one row of ``<stage>/skeleton3d`` (its wearer), under the
``person_id`` its pose stream declares (``attrs.person_id``), or the stage's ``person_ids``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FrameKind, FrameSet, StageContext, StreamSpec

from ._common import DevicePoses, ego_skeleton_spec
from ._headset import HeadsetGeometry, headset_geometry

__all__ = ["EgoParams", "EgoStage", "Headset"]


class EgoParams(BaseModel):
    """Parameters every egocentric estimator has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_confidence: float = Field(default=0.3, ge=0, le=1, description="2D keypoints at or below this are not used")
    max_pose_age_ms: float = Field(default=50.0, gt=0, description="use the nearest device pose when at most this far")
    max_pose_gap_ms: float = Field(
        default=200.0, gt=0, description="never interpolate between device poses further apart"
    )
    person_ids: dict[str, int] = Field(
        default_factory=dict,
        description="person_id of each device's wearer (default: the pose stream's attrs.person_id)",
    )
    pose_streams: dict[str, str] = Field(
        default_factory=dict,
        description="device -> the device_pose stream that places it, when not <device>/device_pose (e.g. a ground truth)",
    )


class Headset:
    """One headset served by a stage: geometry, its two keypoint streams, its wearer's id."""

    def __init__(self, geometry: HeadsetGeometry, streams: tuple[str, str], person_id: int) -> None:
        self.geometry = geometry
        self.streams = streams
        self.person_id = person_id
        self.counts: Counter[str] = Counter()

    @property
    def device(self) -> str:
        return self.geometry.device


class EgoStage(Estimator):
    """Base of the egocentric estimators (subclasses implement :meth:`estimate_device`)."""

    input_kinds: ClassVar[tuple[FrameKind, ...]] = (FrameKind.KEYPOINTS2D, FrameKind.DEVICE_POSE)
    output_attrs: ClassVar[dict[str, Any]] = {}

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, EgoParams)
        self.ep = params
        where = f"{context.config_path or context.stage_id}.inputs"
        kps = context.inputs_of_kind(FrameKind.KEYPOINTS2D)
        if not kps:
            raise ConfigError("needs the 2D keypoints of a headset's two cameras", field_path=where)
        skeletons = {s.skeleton for s in kps}
        if len(skeletons) != 1 or None in skeletons:
            raise ConfigError(
                "all keypoint inputs must declare the same skeleton",
                field_path=where,
                value=sorted(map(str, skeletons)),
            )
        self.skeleton = context.skeletons.get(str(next(iter(skeletons))), field_path=where)
        self.poses = DevicePoses(
            context,
            max_gap_ms=params.max_pose_gap_ms,
            max_age_ms=params.max_pose_age_ms,
            pose_streams=params.pose_streams,
        )
        by_device: dict[str, dict[str, str]] = {}
        for spec in kps:
            cal = context.calibration.sensors.get(spec.sensor)
            if cal is None or cal.mount is None:
                raise ConfigError(
                    f"{spec.name}: camera {spec.sensor} is not mounted on a device in the calibration "
                    "(egocentric estimators need headset cameras: calibration.sensors.<camera>.mount)",
                    field_path=where,
                    value=spec.name,
                )
            by_device.setdefault(cal.mount.device, {})[spec.sensor] = spec.name
        self.headsets: list[Headset] = []
        for device, streams in sorted(by_device.items()):
            geom = headset_geometry(context.calibration, device)
            missing = [c for c in geom.cameras if c not in streams]
            if missing:
                raise ConfigError(
                    f"headset {device!r}: no keypoint input for camera {missing[0]} (a stereo headset needs both views)",
                    field_path=where,
                    value=sorted(streams.values()),
                    choices=[f"{c}/keypoints2d" for c in geom.cameras],
                )
            if device not in self.poses.streams:
                raise ConfigError(
                    f"headset {device!r}: no {device}/device_pose input (the world pose of its wearer)",
                    field_path=where,
                    value=sorted(self.poses.streams.values()),
                )
            pid = params.person_ids.get(device, self.poses.spec_of(device).attrs.get("person_id", len(self.headsets)))
            self.headsets.append(Headset(geom, (streams[geom.cameras[0]], streams[geom.cameras[1]]), int(pid)))
        self.out_name = f"{context.stage_id}/skeleton3d"
        self.frames = 0

    def outputs(self) -> list[StreamSpec]:
        return [
            ego_skeleton_spec(
                self.out_name,
                self.skeleton.name,
                self.skeleton.num_joints,
                attrs={"estimator": self.name, "devices": [h.device for h in self.headsets], **self.output_attrs},
            )
        ]

    def wearer_keypoints(self, frameset: FrameSet, headset: Headset) -> tuple[np.ndarray, int] | None:
        """``((2, J, 3), t_ns)`` of the wearer in both views (NaN where a view has none), or None."""
        J = self.skeleton.num_joints
        kp = np.full((2, J, 3), np.nan)
        kp[..., 2] = 0.0
        t: int | None = None
        for v, name in enumerate(headset.streams):
            f = frameset.get(name)
            if f is None:
                continue
            t = f.t_sensor_ns if t is None else t
            rows = np.asarray(f["keypoints"], dtype=np.float64)
            if not len(rows):
                continue
            ids = np.asarray(f["person_id"])
            mine = np.nonzero(ids == headset.person_id)[0]
            pick = int(mine[0]) if len(mine) else int(np.argmax(np.nan_to_num(rows[..., 2]).sum(-1)))
            kp[v] = rows[pick, :J]
        if t is None or not np.isfinite(kp[..., :2]).any():
            return None
        return kp, t

    def estimate_device(
        self, index: int, keypoints: np.ndarray, t_ns: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(joints (J, 3) in the device frame, confidence (J,), sigma_m (J,))`` of headset ``index``."""
        raise NotImplementedError

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        self.poses.update(frameset)
        rows: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        for i, h in enumerate(self.headsets):
            got = self.wearer_keypoints(frameset, h)
            if got is None:
                h.counts["no_detections"] += 1
                continue
            kp, t_ns = got
            world_from_device = self.poses.at(h.device, t_ns)
            if world_from_device is None:
                h.counts["no_pose"] += 1
                continue
            x, conf, sigma = self.estimate_device(i, kp, t_ns)
            world = x @ world_from_device[:3, :3].T + world_from_device[:3, 3]
            rows.append((h.person_id, world, conf, sigma))
            h.counts["estimates"] += 1
        self.frames += 1
        if not rows:
            return {}
        return {
            self.out_name: {
                "joints": np.stack([r[1] for r in rows]).astype(np.float32),
                "person_id": np.array([r[0] for r in rows], dtype=np.int64),
                "confidence": np.stack([r[2] for r in rows]).astype(np.float32),
                "sigma_m": np.stack([r[3] for r in rows]).astype(np.float32),
            }
        }

    def summary(self) -> dict[str, Any]:
        return {
            "framesets": self.frames,
            "headsets": {h.device: dict(h.counts) for h in self.headsets},
            "device_pose": self.poses.summary(),
        }
