"""``aria.recording``: a Project Aria recording played through the pipeline.

One sensor provides several streams, all on the device capture clock:

* ``<label>/image`` for each camera in ``cameras`` (frames of the ``.vrs`` file);
* ``<device>/device_pose`` from an MPS trajectory CSV (``world_from_device``, plus ``quality``);
* ``<skeleton_sensor>/skeleton3d`` from an ADT ``Skeleton_*.json`` (the wearer's OptiTrack
  skeleton, spec ``adt51``, world frame, ground truth).

Frames come out merged in time order; paced by their sensor-time gaps when the run is live,
as fast as the pipeline takes them with ``--fast``. The calibration (cameras as Fisheye624
mounted on ``<device>``) comes from ``calibration`` (JSON / MPS JSONL) or the ``.vrs`` file.
Problems in the trajectory (rows going backwards in time or with a broken pose: dropped; gaps
longer than ``max_pose_gap_s``) are counted in the summary and recorded as events.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    Driver,
    DriverContext,
    DriverError,
    EndOfStream,
    FieldSpec,
    Frame,
    FrameKind,
    RigCalibration,
    StreamSpec,
)
from sensorfusion.schema import device_pose_spec

from ._calibration import load_aria_calibration, rig_calibration
from ._skeleton import ADT51, AdtSkeleton, read_adt_skeleton
from ._trajectory import TrajectoryRead, read_mps_trajectory
from ._vrs import VrsRecording

__all__ = ["AriaRecordingDriver", "AriaRecordingParams"]

_MAX_ISSUE_EVENTS = 20


class AriaRecordingParams(BaseModel):
    """Parameters of ``aria.recording`` (paths are relative to the rig file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vrs: str | None = Field(
        default=None, description="the .vrs recording (camera frames; calibration when none is given)"
    )
    cameras: list[str] = Field(
        default_factory=lambda: ["camera-slam-left", "camera-slam-right"],
        description="labels of the .vrs cameras to stream as <label>/image",
    )
    calibration: str | None = Field(default=None, description="Aria calibration JSON or MPS online_calibration.jsonl")
    calibration_record: int = Field(
        default=0, description="which line of a JSONL calibration to use (negative: from the end)"
    )
    trajectory: str | None = Field(
        default=None, description="MPS / ADT trajectory CSV, streamed as <device>/device_pose"
    )
    device: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_.\-]+$", description="sensor id of the device (default: this sensor's id)"
    )
    max_pose_gap_s: float = Field(
        default=0.1, gt=0, description="trajectory gaps longer than this are counted and recorded"
    )
    pose_rate_hz: float | None = Field(
        default=None, gt=0, description="keep at most this many trajectory poses per second (MPS writes 1 kHz)"
    )
    skeleton: str | None = Field(
        default=None, description="ADT Skeleton_*.json, streamed as <skeleton_sensor>/skeleton3d"
    )
    skeleton_sensor: str = Field(
        default="gt", pattern=r"^[A-Za-z0-9_.\-]+$", description="sensor part of the skeleton stream's name"
    )
    skeleton_time_domain: Literal["auto", "device", "optitrack"] = Field(
        default="auto", description="clock of the skeleton's timestamps (auto: from the sequence's metadata.json)"
    )
    person_id: int = Field(default=0, description="person_id of the wearer's skeleton")


class AriaRecordingDriver(Driver):
    """Plays a Project Aria recording (VRS frames, MPS trajectory, ADT skeleton) in time order."""

    name = "aria.recording"
    Params = AriaRecordingParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, AriaRecordingParams)
        self.p = params
        self.device = params.device or context.sensor_id
        if not (params.vrs or params.trajectory or params.skeleton):
            raise ConfigError(
                "aria.recording needs at least one of vrs, trajectory, skeleton", field_path=context.param_path("vrs")
            )
        self._vrs: VrsRecording | None = None
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._times: dict[str, np.ndarray] = {}
        if params.vrs:
            self._vrs = VrsRecording(context.resolve(params.vrs), field_path=context.param_path("vrs"))
            have = self._vrs.labels()
            for label in params.cameras:
                if label not in have:
                    raise ConfigError(
                        "no camera stream with this label in the .vrs file",
                        field_path=context.param_path("cameras"),
                        value=label,
                        choices=have,
                    )
                self._shapes[label] = self._vrs.frame_shape(label)
                self._times[label] = self._vrs.timestamps_ns(label)
        elif params.cameras and params.cameras != AriaRecordingParams().cameras:
            raise ConfigError("cameras need a .vrs file", field_path=context.param_path("vrs"))
        self.trajectory: TrajectoryRead | None = None
        if params.trajectory:
            self.trajectory = read_mps_trajectory(
                context.resolve(params.trajectory),
                max_gap_s=params.max_pose_gap_s,
                min_period_s=1.0 / params.pose_rate_hz if params.pose_rate_hz else 0.0,
                field_path=context.param_path("trajectory"),
            )
        self.skeleton: AdtSkeleton | None = None
        if params.skeleton:
            self.skeleton = read_adt_skeleton(
                context.resolve(params.skeleton),
                time_domain=params.skeleton_time_domain,
                field_path=context.param_path("skeleton"),
            )
        self._calibration = self._load_calibration()
        self._iter: Iterator[tuple[int, int, str, int]] | None = None
        self._pending: tuple[int, int, str, int] | None = None
        self._emitted = 0
        self._anchor: tuple[int, int] | None = None
        self._issues_reported = False

    # -- calibration -----------------------------------------------------------------------

    def _load_calibration(self) -> RigCalibration | None:
        cams = [c for c in self.p.cameras if self._vrs is not None]
        if self.p.calibration:
            cal = load_aria_calibration(
                self.context.resolve(self.p.calibration), record=self.p.calibration_record, device=self.device
            )
        elif self._vrs is not None:
            cal = rig_calibration(self._vrs.cameras(), device=self.device)
        else:
            return None
        for label in cams:
            sc = cal.sensors.get(label)
            if sc is None or sc.camera is None:
                raise ConfigError(
                    "no calibration for a streamed camera",
                    field_path=self.context.param_path("calibration"),
                    value=label,
                    choices=sorted(cal.sensors),
                )
            h, w = self._shapes[label][:2]
            if (sc.camera.width, sc.camera.height) != (w, h):
                raise ConfigError(
                    f"camera {label}: the calibration is for {sc.camera.width}x{sc.camera.height} images, the recording has {w}x{h}",
                    field_path=self.context.param_path("calibration"),
                    value=self.p.calibration,
                )
        return cal

    def calibration(self) -> RigCalibration | None:
        return self._calibration

    # -- streams ---------------------------------------------------------------------------

    def streams(self) -> list[StreamSpec]:
        out: list[StreamSpec] = []
        for label, shape in self._shapes.items():
            rate = _rate(self._times[label])
            out.append(
                StreamSpec(
                    name=f"{label}/image",
                    kind=FrameKind.IMAGE,
                    fields={"image": FieldSpec(dtype="uint8", shape=shape)},
                    rate_hz=rate,
                    queue_size=8,
                    attrs={"color_order": "gray" if len(shape) == 2 else "rgb", "driver": self.name, "label": label},
                )
            )
        if self.trajectory is not None:
            out.append(
                device_pose_spec(
                    self.device,
                    rate_hz=_rate(self.trajectory.t_ns),
                    extra_fields={"quality": FieldSpec(dtype="float32")},
                    attrs={"source": "mps", "driver": self.name},
                )
            )
        if self.skeleton is not None:
            sk = self.skeleton
            out.append(
                StreamSpec(
                    name=f"{self.p.skeleton_sensor}/skeleton3d",
                    kind=FrameKind.SKELETON3D,
                    fields={
                        "joints": FieldSpec(dtype="float32", shape=(ADT51.num_joints, 3)),
                        "person_id": FieldSpec(dtype="int64"),
                    },
                    ragged=True,
                    rate_hz=_rate(sk.t_ns),
                    skeleton=ADT51.name,
                    attrs={
                        "frame": "world",
                        "units": "m",
                        "ground_truth": True,
                        "source": f"adt:{sk.name}",
                        "dt_optitrack_minus_device_ns": sk.dt_optitrack_minus_device_ns,
                        "time_domain": sk.time_domain,
                    },
                )
            )
        return out

    # -- reading ---------------------------------------------------------------------------

    def _schedule(self) -> Iterator[tuple[int, int, str, int]]:
        """(t_ns, source order, kind, index) of every frame, merged in time order."""
        lists: list[list[tuple[int, int, str, int]]] = []
        for k, label in enumerate(self._shapes):
            lists.append([(int(t), k, label, i) for i, t in enumerate(self._times[label])])
        if self.trajectory is not None:
            lists.append([(int(t), 100, "pose", i) for i, t in enumerate(self.trajectory.t_ns)])
        if self.skeleton is not None:
            lists.append([(int(t), 101, "skeleton", i) for i, t in enumerate(self.skeleton.t_ns)])
        return heapq.merge(*lists)

    def open(self) -> None:
        if self._iter is None:
            self._iter = self._schedule()
            for _ in range(self._emitted):  # resume after a restart
                next(self._iter, None)
        if not self._issues_reported and self.trajectory is not None:
            self._issues_reported = True
            for issue in self.trajectory.issues[:_MAX_ISSUE_EVENTS]:
                self.context.event(f"device_pose_{issue.kind}", issue.message, row=issue.row, t_ns=issue.t_ns)
            more = len(self.trajectory.issues) - _MAX_ISSUE_EVENTS
            if more > 0:
                self.context.event("device_pose_issues", f"{more} more trajectory issue(s) not listed", count=more)
        self._anchor = None

    def read(self) -> Sequence[Frame]:
        if self._iter is None:
            raise DriverError("aria.recording read before open()")
        item = self._pending if self._pending is not None else next(self._iter, None)
        self._pending = None
        if item is None:
            raise EndOfStream("aria recording: every frame played")
        t_ns, _, kind, index = item
        if self.context.realtime:
            if self._anchor is None:
                self._anchor = (time.monotonic_ns(), t_ns)
            wait_s = (self._anchor[0] + (t_ns - self._anchor[1]) - time.monotonic_ns()) * 1e-9
            if wait_s > 0 and self.context.stop.wait(wait_s):
                self._pending = item
                return []
        frame = self._frame(t_ns, kind, index)
        self._emitted += 1
        return [frame]

    def _frame(self, t_ns: int, kind: str, index: int) -> Frame:
        now = self.context.now_ns()
        if kind == "pose":
            assert self.trajectory is not None
            data = {
                "world_from_device": np.ascontiguousarray(self.trajectory.world_from_device[index]),
                "quality": np.asarray(self.trajectory.quality[index], dtype=np.float32),
            }
            return Frame(f"{self.device}/device_pose", t_ns, now, index, data)
        if kind == "skeleton":
            assert self.skeleton is not None
            joints = self.skeleton.joints_m[index][None].astype(np.float32)
            return Frame(f"{self.p.skeleton_sensor}/skeleton3d", t_ns, now, index,
                         {"joints": joints, "person_id": np.array([self.p.person_id], dtype=np.int64)})  # fmt: skip
        assert self._vrs is not None
        vf = self._vrs.frame(kind, index)
        return Frame(f"{kind}/image", vf.t_ns, now, index, {"image": vf.image})

    def close(self) -> None:
        pass

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"frames": self._emitted}
        if self.trajectory is not None:
            tr = self.trajectory
            out["trajectory"] = {
                "rows": tr.rows,
                "poses": len(tr.t_ns),
                "backwards_dropped": tr.count("backwards"),
                "bad_poses_dropped": tr.count("bad_pose"),
                "gaps": tr.count("gap"),
            }
        return out


def _rate(t_ns: np.ndarray) -> float:
    if len(t_ns) < 2:
        return 0.0
    return float(round(1e9 / float(np.median(np.diff(t_ns))), 3))
