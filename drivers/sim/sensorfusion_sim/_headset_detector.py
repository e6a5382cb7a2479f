"""``sim.headset_keypoints2d``: the simulated 2D detector in a headset's fisheye views.

The error model of ``sim.keypoints2d`` (noise, occlusion, misses, swaps, outliers, seeded per
view, time and person), applied to the wearer's own body as each fisheye camera of a simulated
headset sees it: joints projected through the camera's model from its pose on the moving head
(the headset's *true* pose), outside the lens's image circle counted as out of view, hidden by
any body (the wearer's own chest, arms and legs, or a bystander) counted as occluded. Only the
wearer is reported — an egocentric detector looks for its wearer — under the headset's
``person_id``. Never looks at pixels: runs with or without the rendered images.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec, Transform
from sensorfusion.geometry import transform_points, world_to_pixels

from ._detector import SimKeypointDetector, SimKeypointParams
from ._people import CAPSULE_NAMES, body_capsules

__all__ = ["SimHeadsetKeypointDetector", "SimHeadsetKeypointParams"]

_HEAD = CAPSULE_NAMES.index("head")


class SimHeadsetKeypointParams(SimKeypointParams):
    """``sim.keypoints2d``'s error model with defaults for a headset's view of its wearer."""

    min_visible_fraction: float = Field(
        default=0.2, ge=0, le=1, description="fewer joints inside the image circle: not reported"
    )


class _View:
    def __init__(self, camera: str, device: str, cam: Any, device_from_camera: np.ndarray, fov_rad: float) -> None:
        self.camera = camera
        self.device = device
        self.cam = cam
        self.device_from_camera = device_from_camera
        self.cos_half_fov = math.cos(fov_rad / 2.0)
        self.key = zlib.crc32(camera.encode())
        self.output = f"{camera}/keypoints2d"


class SimHeadsetKeypointDetector(SimKeypointDetector):
    """Simulated 2D keypoints of each headset's wearer in the headset's two fisheye views.

    Inputs: the COCO-17 ground truth (``gt/skeleton3d``) and each headset's true pose
    (``gt_<id>/device_pose`` of ``sim.rig``); image streams may be listed and are ignored.
    Outputs ``<id>_left/keypoints2d`` and ``<id>_right/keypoints2d`` as ``sim.keypoints2d``'s.
    """

    name = "sim.headset_keypoints2d"
    Params = SimHeadsetKeypointParams
    input_kinds = (FrameKind.SKELETON3D, FrameKind.DEVICE_POSE, FrameKind.IMAGE)  # type: ignore[assignment]

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        Estimator.__init__(self, params, context)
        assert isinstance(params, SimHeadsetKeypointParams)
        self.p = params
        where = f"{context.config_path or context.stage_id}.inputs"
        gts = context.inputs_of_kind(FrameKind.SKELETON3D)
        if len(gts) != 1 or gts[0].skeleton not in (None, "coco17"):
            raise ConfigError(
                "sim.headset_keypoints2d needs exactly one coco17 skeleton3d ground-truth input",
                field_path=where,
                value=[s.name for s in gts],
            )
        self.gt_stream = gts[0].name
        self.headsets: list[tuple[str, int, int, list[_View]]] = []  # pose stream, wearer, reported id, views
        for spec in context.inputs_of_kind(FrameKind.DEVICE_POSE):
            if not spec.attrs.get("ground_truth") or "headset" not in spec.attrs:
                raise ConfigError(
                    "sim.headset_keypoints2d needs the headsets' true poses (gt_<id>/device_pose of sim.rig)",
                    field_path=where,
                    value=spec.name,
                )
            device = str(spec.attrs["device"])
            fov = math.radians(float(spec.attrs["headset"]["fov_deg"]))
            views = []
            for camera in spec.attrs["headset"]["cameras"]:
                cal = context.calibration.sensors.get(camera)
                if cal is None or cal.camera is None or cal.mount is None or cal.mount.device != device:
                    raise ConfigError(
                        f"no calibration of headset camera {camera} mounted on {device}",
                        field_path=f"calibration.sensors.{camera}",
                    )
                views.append(_View(camera, device, cal.camera, cal.mount.device_from_sensor.matrix, fov))
            self.headsets.append((spec.name, int(spec.attrs["wearer"]), int(spec.attrs["person_id"]), views))
        if not self.headsets:
            raise ConfigError("sim.headset_keypoints2d needs at least one gt_<id>/device_pose input", field_path=where)
        self._cos_half_fov = 0.0
        self._counts = dict.fromkeys(
            ("views", "people_in_view", "people_reported", "people_missed", "joints_reported", "joints_occluded",
             "joints_missed", "swaps", "outliers"),
            0,
        )  # fmt: skip

    def outputs(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=view.output,
                kind=FrameKind.KEYPOINTS2D,
                fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
                ragged=True,
                rate_hz=next(s.rate_hz for s in self.context.inputs if s.name == pose),
                skeleton="coco17",
                attrs={"simulated": True, "person_id": "headset", "device": view.device},
            )
            for pose, _, _, views in self.headsets
            for view in views
        ]

    def _project(self, joints_m: np.ndarray, cam: Any, world_from_camera: Transform) -> tuple[np.ndarray, np.ndarray]:
        m = world_from_camera.matrix
        pc = transform_points(np.linalg.inv(m), joints_m)
        dist = np.linalg.norm(pc, axis=-1)
        uv = world_to_pixels(cam, m, joints_m, tier="numpy")
        with np.errstate(invalid="ignore", divide="ignore"):
            outside = ~(pc[..., 2] / dist >= self._cos_half_fov)
        uv[outside] = np.nan
        return uv, dist  # distance, not z: a fisheye images points beside it

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        gt = frameset.get(self.gt_stream)
        if gt is None:
            return {}
        joints = np.asarray(gt["joints"], dtype=np.float64)
        ids = np.asarray(gt["person_id"], dtype=np.int64)
        result: dict[str, Mapping[str, np.ndarray]] = {}
        for pose_stream, wearer, reported, views in self.headsets:
            pose = frameset.get(pose_stream)
            if pose is None or wearer not in set(ids.tolist()):
                continue
            a, b, radius = body_capsules(joints)
            radius = radius.copy()
            radius[ids == wearer, _HEAD] = 0.0  # the cameras sit on the wearer's face: the head is behind them
            world_from_device = np.asarray(pose["world_from_device"], dtype=np.float64)
            for view in views:
                self._cos_half_fov = view.cos_half_fov
                world_from_camera = Transform.from_matrix(world_from_device @ view.device_from_camera)
                det = self.detect(
                    joints, ids, view.cam, world_from_camera, view.key, pose.t_sensor_ns,
                    capsules=(a, b, radius), report_ids={wearer},
                )  # fmt: skip
                if len(det["person_id"]):
                    det = {**det, "person_id": np.full(len(det["person_id"]), reported, dtype=np.int64)}
                result[view.output] = det
        return result

    def summary(self) -> dict[str, Any]:
        return dict(self._counts)
