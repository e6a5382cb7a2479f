"""``sim.rig``: a hardware-synced multi-camera rig filming simulated people."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sensorfusion import (
    ConfigError,
    DriverContext,
    DriverError,
    EndOfStream,
    FieldSpec,
    Frame,
    FrameKind,
    RigCalibration,
    StreamSpec,
)
from sensorfusion import Driver as _Driver
from sensorfusion.schema import PinholeCamera

from ._ceiling import CeilingCameraParams, CeilingCameras
from ._depth import DepthCameraParams, DepthCameras
from ._headset import HeadsetParams, Headsets
from ._people import NUM_JOINTS, PeopleSim
from ._radar import SimRadar
from ._render import CameraRenderer
from ._rig import camera_ids, make_rig
from ._scenes import SceneParams, make_people, scene_state

__all__ = ["SimRigDriver", "SimRigParams"]

GT_STREAM = "gt/skeleton3d"


class SimRigParams(BaseModel):
    """Parameters of ``sim.rig`` (its ``params:`` block in ``rig.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: int = Field(default=4, ge=0, description="number of cameras cam0..cam{M-1}")
    width: int = Field(default=640, gt=0, description="image width in pixels")
    height: int = Field(default=480, gt=0, description="image height in pixels")
    fps: float = Field(default=30.0, gt=0, description="frame rate of every stream")
    people: int = Field(default=3, ge=0, description="number of simulated people")
    room_m: tuple[float, float] = Field(default=(6.0, 6.0), description="room size (x, y) in metres")
    render: bool = Field(default=True, description="produce the cam*/image streams (false: ground truth only)")
    fail_at_frames: list[int] = Field(
        default_factory=list, description="raise DriverError once at each of these frame indices"
    )
    duration_s: float | None = Field(default=None, gt=0, description="end of stream after this much sensor time")
    camera_height_m: float = Field(default=2.5, gt=0, description="height of the cameras above the floor")
    fov_deg: float = Field(default=80.0, gt=1, lt=179, description="horizontal field of view in degrees")
    k1: float = Field(default=0.0, description="Brown–Conrady radial distortion k1")
    k2: float = Field(default=0.0, description="Brown–Conrady radial distortion k2")
    crossing: bool = Field(default=True, description="people 0 and 1 start by crossing each other's path")
    radars: int = Field(default=0, ge=0, le=4, description="simulated FMCW radars radar0.. on the walls")
    radar_adc: bool = Field(default=True, description="produce radar{i}/adc ADC cubes [chirps, tx, rx, samples]")
    radar_points: bool = Field(default=True, description="produce radar{i}/points (an on-chip point cloud)")
    radar_noise_std: float = Field(default=0.002, ge=0, description="ADC noise (std per real component)")
    depth_cameras: int = Field(default=0, ge=0, description="simulated RGB-D cameras depth0.. (image + aligned depth)")
    depth: DepthCameraParams = Field(
        default_factory=DepthCameraParams, description="RGB-D placement and depth error model"
    )
    scene: SceneParams | None = Field(
        default=None, description="a scripted tracking scene: bystander, dropout, reentry or crossing (README)"
    )
    headsets: list[HeadsetParams] = Field(
        default_factory=list, description="simulated people wearing stereo fisheye headsets (see _headset.py)"
    )
    ceiling_cameras: int = Field(default=0, ge=0, description="simulated ceiling fisheye cameras ceil0.. looking down")
    ceiling: CeilingCameraParams = Field(
        default_factory=CeilingCameraParams,
        description="lens model, field of view and placement of the ceiling cameras",
    )

    @model_validator(mode="after")
    def _room_fits(self) -> SimRigParams:
        if min(self.room_m) < 2.0:
            raise ValueError(f"room_m must be at least 2 m on each side, got {self.room_m}")
        if self.camera_height_m >= 3.0:
            raise ValueError("camera_height_m must be below the 3 m ceiling")
        if self.cameras == 0 and not (self.ceiling_cameras or self.depth_cameras or self.radars or self.headsets):
            raise ValueError("the rig has no sensor: set cameras, ceiling_cameras, depth_cameras, radars or headsets")
        return self


class SimRigDriver(_Driver):
    """Simulated people filmed by a calibrated, hardware-synced camera rig.

    One instance provides *several* sensors: streams are named ``cam{i}/image`` and
    ``gt/skeleton3d`` whatever the sensor id in ``rig.yaml`` (which is used only for
    logging), and :meth:`calibration` describes ``cam0..cam{M-1}``. Frame ``i`` of every
    stream has ``t_sensor_ns = i * round(1e9 / fps)`` and ``seq = i``; its content is a pure
    function of the rig seed and ``i``, so a restart resumes exactly where it stopped.
    """

    name = "sim.rig"
    Params = SimRigParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, SimRigParams)
        self.p: SimRigParams = params
        self.period_ns = round(1e9 / params.fps)
        # frames 0 .. num_frames-1 (the sensor times in [0, duration_s)); None: endless
        self.num_frames = None if params.duration_s is None else math.ceil(params.duration_s * params.fps - 1e-6)
        self.rig = (
            RigCalibration()
            if params.cameras == 0
            else make_rig(
                params.cameras,
                width=params.width,
                height=params.height,
                hfov_rad=math.radians(params.fov_deg),
                camera_height_m=params.camera_height_m,
                room_m=params.room_m,
                k1=params.k1,
                k2=params.k2,
            )
        )
        self.people: PeopleSim = make_people(context.seed, params.people, params.room_m, crossing=params.crossing,
                                             scene=params.scene, rig=self.rig)  # fmt: skip
        self.camera_ids = camera_ids(params.cameras)
        self.radars = [
            SimRadar(i, context.seed, params.room_m, params.fps, params.radar_noise_std) for i in range(params.radars)
        ]
        self._renderers: list[CameraRenderer] | None = None
        self.depth_cameras = DepthCameras(params.depth_cameras, params.depth, seed=context.seed, width=params.width,
                                          height=params.height, fps=params.fps, room_m=params.room_m)  # fmt: skip
        self.ceiling = CeilingCameras(params.ceiling_cameras, params.ceiling, fps=params.fps, room_m=params.room_m)
        try:
            self.headsets = Headsets(
                params.headsets, seed=context.seed, people=params.people, fps=params.fps, room_m=params.room_m
            )
        except ValueError as exc:
            raise ConfigError(str(exc), field_path=context.param_path("headsets")) from None
        self._next_index = 0
        self._failed_at: set[int] = set()
        self._anchor_ns: int | None = None
        self._is_open = False

    # -- Driver interface ----------------------------------------------------------------------

    def streams(self) -> list[StreamSpec]:
        out: list[StreamSpec] = []
        if self.p.render:
            out += [
                StreamSpec(
                    name=f"{cid}/image",
                    kind=FrameKind.IMAGE,
                    fields={"image": FieldSpec(dtype="uint8", shape=(self.p.height, self.p.width, 3))},
                    rate_hz=self.p.fps,
                    queue_size=8,
                    attrs={"color_order": "rgb", "simulated": True},
                )
                for cid in self.camera_ids
            ]
        for radar in self.radars:
            out += radar.streams(adc=self.p.radar_adc, points=self.p.radar_points)
        out += self.depth_cameras.streams()
        out += self.headsets.streams()
        out += self.ceiling.streams(render=self.p.render)
        out.append(
            StreamSpec(
                name=GT_STREAM,
                kind=FrameKind.SKELETON3D,
                fields={
                    "joints": FieldSpec(dtype="float32", shape=(NUM_JOINTS, 3)),
                    "person_id": FieldSpec(dtype="int64"),
                    # a scene's joints that no camera sees (sim.keypoints2d reports them missed)
                    **({"hidden": FieldSpec(dtype="bool", shape=(NUM_JOINTS,))} if self.p.scene else {}),
                },
                ragged=True,
                rate_hz=self.p.fps,
                skeleton="coco17",
                attrs={
                    "frame": "world",
                    "units": "m",
                    "ground_truth": True,
                    "heights_m": [float(h) for h in self.people.heights_m],
                },
            )
        )
        return out

    def calibration(self) -> RigCalibration:
        if self.headsets or self.ceiling.ids:
            extra = {**(self.headsets.calibration() if self.headsets else {}), **self.ceiling.rig.sensors}
            return RigCalibration(sensors={**self._calibration().sensors, **extra})
        return self._calibration()

    def _calibration(self) -> RigCalibration:
        if self.depth_cameras.ids:
            radars = {r.sensor_id: r.calibration() for r in self.radars}
            return RigCalibration(sensors={**self.rig.sensors, **radars, **self.depth_cameras.rig.sensors})
        if self.radars:
            return RigCalibration(sensors={**self.rig.sensors, **{r.sensor_id: r.calibration() for r in self.radars}})
        return self.rig

    def open(self) -> None:
        if self.p.render:
            self._ensure_renderers()
            self.ceiling.renderers()
        # pace from here: frame `next_index` is due now (no burst after a restart)
        self._anchor_ns = time.monotonic_ns() - self._next_index * self.period_ns
        self._is_open = True
        self.context.log.debug("sim rig %s open at frame %d", self.context.sensor_id, self._next_index)

    def read(self) -> Sequence[Frame]:
        if not self._is_open:
            raise DriverError("sim rig read before open()")
        i = self._next_index
        t_ns = i * self.period_ns
        if self.num_frames is not None and i >= self.num_frames:
            raise EndOfStream(f"sim rig: duration of {self.p.duration_s} s reached")
        if i in self.p.fail_at_frames and i not in self._failed_at:
            self._failed_at.add(i)
            self.context.log.warning("sim rig %s: simulated disconnect at frame %d", self.context.sensor_id, i)
            raise DriverError("simulated disconnect")
        if self.context.realtime and self._anchor_ns is not None:
            wait_s = (self._anchor_ns + t_ns - time.monotonic_ns()) * 1e-9
            if wait_s > 0 and self.context.stop.wait(wait_s):
                return []
        frames = self.frames_at(i)
        self._next_index = i + 1
        return frames

    def close(self) -> None:
        self._is_open = False

    def warmup(self) -> None:
        """Simulate one frame without consuming it (frames are a pure function of their index):
        compiles the rasteriser and the radar and depth simulations before the live clock starts."""
        self.frames_at(self._next_index)

    # -- simulation ----------------------------------------------------------------------------

    def frames_at(self, index: int) -> list[Frame]:
        """Every stream's frame of frame index ``index`` (pure in ``index``; no state changes)."""
        t_ns = index * self.period_ns
        joints = self.headsets.move_heads(self.people.joints_at(t_ns * 1e-9), t_ns * 1e-9)
        ids = np.arange(self.people.num_people, dtype=np.int64)
        all_joints, all_ids = joints, ids  # headsets index their wearers among everyone
        present, hidden = scene_state(self.people, t_ns * 1e-9)  # a scene's people can be away
        joints, ids, heights = joints[present], ids[present], self.people.heights_m[present]
        images: list[tuple[str, np.ndarray]] = []
        if self.p.render:
            for cid, renderer in zip(self.camera_ids, self._ensure_renderers(), strict=True):
                images.append((f"{cid}/image", renderer.render(joints, ids, heights)))
        t_host_ns = self.context.now_ns()  # one exposure, delivered together
        frames = [Frame(name, t_ns, t_host_ns, index, {"image": image}) for name, image in images]
        gt: dict[str, np.ndarray] = {"joints": joints.astype(np.float32), "person_id": ids}
        if hidden is not None:
            gt["hidden"] = hidden[present]
        for radar in self.radars:
            frames += radar.frames(
                self.people, index, t_ns, t_host_ns, adc=self.p.radar_adc, points=self.p.radar_points
            )
        frames += self.depth_cameras.frames_at(index, t_ns, t_host_ns, joints, ids, heights)
        frames += self.headsets.frames_at(index, t_ns, t_host_ns, all_joints, all_ids, self.people.heights_m)
        frames += self.ceiling.frames_at(index, t_ns, t_host_ns, joints, ids, heights, render=self.p.render)
        frames.append(Frame(GT_STREAM, t_ns, t_host_ns, index, gt))
        return frames

    def _ensure_renderers(self) -> list[CameraRenderer]:
        if self._renderers is None:
            renderers = []
            for cid in self.camera_ids:
                cal = self.rig.sensors[cid]
                assert isinstance(cal.camera, PinholeCamera)
                renderers.append(CameraRenderer(cal.camera, cal.world_from_sensor, self.p.room_m))
            self._renderers = renderers
        return self._renderers
