"""Pieces every egocentric stage shares: device-pose inputs, skeleton output specs."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from sensorfusion import ConfigError, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import DEVICE_POSE_FIELD

from ._posetrack import PoseTrack

__all__ = ["DevicePoses", "ego_skeleton_spec"]

_MAX_EVENTS_PER_KIND = 10


class DevicePoses:
    """The ``device_pose`` inputs of a stage, one :class:`PoseTrack` per device.

    Every frameset, :meth:`update` feeds the poses it holds to their tracks; a pose going
    backwards in time, a broken pose or a gap is counted and recorded as an event
    (``device_pose_backwards`` / ``device_pose_invalid`` / ``device_pose_gap``, the first
    ten of each kind per stage, then counts only).
    """

    def __init__(
        self,
        context: StageContext,
        *,
        max_gap_ms: float,
        max_age_ms: float,
        required: bool = True,
        pose_streams: dict[str, str] | None = None,
    ) -> None:
        self.context = context
        specs = context.inputs_of_kind(FrameKind.DEVICE_POSE)
        for s in specs:
            if DEVICE_POSE_FIELD not in s.fields:
                raise ConfigError(
                    f"device pose stream {s.name} has no {DEVICE_POSE_FIELD!r} field",
                    field_path=f"{context.config_path or context.stage_id}.inputs",
                    value=s.name,
                )
        if required and not specs:
            raise ConfigError(
                "this stage needs a device_pose input (the headset's <device>/device_pose stream)",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                choices=sorted(s.name for s in context.inputs),
            )
        # device -> its pose stream: <device>/device_pose, or as ``pose_streams`` maps it
        renamed = {stream: device for device, stream in (pose_streams or {}).items()}
        for stream in renamed:
            if stream not in {s.name for s in specs}:
                raise ConfigError(
                    "pose_streams names a stream that is not a device_pose input of this stage",
                    field_path=context.param_path("pose_streams"),
                    value=stream,
                    choices=sorted(s.name for s in specs),
                )
        self.streams = {renamed.get(s.name, s.sensor): s.name for s in specs}
        self.tracks = {
            dev: PoseTrack(max_gap_ns=int(max_gap_ms * 1e6), max_age_ns=int(max_age_ms * 1e6)) for dev in self.streams
        }
        self._events: Counter[str] = Counter()
        self.lookups: Counter[str] = Counter()

    def spec_of(self, device: str) -> StreamSpec:
        return next(s for s in self.context.inputs if s.name == self.streams[device])

    def device_of(self, stream: str) -> str:
        return next(d for d, s in self.streams.items() if s == stream)

    def update(self, frameset: FrameSet) -> None:
        for dev, name in self.streams.items():
            f = frameset.get(name)
            if f is None:
                continue
            issue = self.tracks[dev].push(f.t_sensor_ns, f[DEVICE_POSE_FIELD])
            if issue is not None:
                key = f"device_pose_{issue}"
                self._events[key] += 1
                if self._events[key] <= _MAX_EVENTS_PER_KIND:
                    last = self.tracks[dev].latest_ns
                    self.context.event(
                        key,
                        f"{name}: pose at {f.t_sensor_ns} ns "
                        + {
                            "backwards": f"is not after the previous one ({last} ns); dropped",
                            "invalid": "is not a finite rigid transform; dropped",
                            "gap": "follows a gap; nothing is interpolated across it",
                        }[issue],
                        stream=name,
                        t_sensor_ns=int(f.t_sensor_ns),
                    )

    def at(self, device: str, t_ns: int) -> np.ndarray | None:
        m, how = self.tracks[device].at(t_ns)
        self.lookups[how] += 1
        return m

    def summary(self) -> dict[str, Any]:
        return {
            dev: {**dict(tr.counts), "lookups": dict(self.lookups)} if len(self.tracks) == 1 else dict(tr.counts)
            for dev, tr in self.tracks.items()
        }


def ego_skeleton_spec(name: str, skeleton: str, num_joints: int, *, attrs: dict[str, Any] | None = None) -> StreamSpec:
    """A wearer's 3D skeleton: ``joints (J, 3)`` metres, ``person_id``, per-joint ``confidence``
    (0..1) and ``sigma_m`` (the estimator's 1-sigma position uncertainty, NaN when unknown)."""
    return StreamSpec(
        name=name,
        kind=FrameKind.SKELETON3D,
        ragged=True,
        skeleton=skeleton,
        fields={
            "joints": FieldSpec(dtype="float32", shape=(num_joints, 3)),
            "person_id": FieldSpec(dtype="int64"),
            "confidence": FieldSpec(dtype="float32", shape=(num_joints,)),
            "sigma_m": FieldSpec(dtype="float32", shape=(num_joints,)),
        },
        attrs={"frame": "world", "units": "m", **(attrs or {})},
    )
