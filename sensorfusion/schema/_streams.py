"""Streams, frame kinds, stream contracts and frames.

A *stream* is named ``sensor/channel`` (``cam0/image``, ``cam0/keypoints2d``,
``radar0/points``). Every stream declares its contract up front in a
:class:`StreamSpec`: its :class:`FrameKind` and the named array fields each frame
carries, with dtype and per-frame shape. A *ragged* stream has a variable leading
dimension per frame (people in a keypoint frame, points in a point cloud) shared by
all of its fields; it is stored as values + offsets.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._errors import SchemaError

__all__ = [
    "FieldSpec",
    "Frame",
    "FrameKind",
    "FrameSet",
    "QueuePolicy",
    "StreamSpec",
    "person_values_spec",
    "split_stream_name",
    "STREAM_NAME_RE",
]

STREAM_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+/[A-Za-z0-9_.\-]+$")

QueuePolicy = Literal["drop_oldest", "block"]


class FrameKind(enum.StrEnum):
    """What a stream carries.

    ``PERSON_VALUES`` is the open kind for per-person measurements no other kind describes (a
    head height, a walking speed, a fall score): a ragged stream with ``person_id`` (int64) and
    one field per value, its unit in its name (``height_m``, ``speed_m_s``); build one with
    :func:`person_values_spec`.
    """

    IMAGE = "image"
    DEPTH = "depth"
    POINT_CLOUD = "point_cloud"
    RADAR_ADC_CUBE = "radar_adc_cube"
    RADAR_TENSOR = "radar_tensor"
    KEYPOINTS2D = "keypoints2d"
    SKELETON3D = "skeleton3d"
    BOXES = "boxes"
    ORIENTATION = "orientation"
    DEVICE_POSE = "device_pose"
    PERSON_VALUES = "person_values"


def split_stream_name(name: str) -> tuple[str, str]:
    """``"cam0/image"`` -> ``("cam0", "image")``; raises :class:`SchemaError` otherwise."""
    if not STREAM_NAME_RE.match(name):
        raise SchemaError(f"stream name must be 'sensor/channel' (letters, digits, _ . -), got {name!r}")
    sensor, channel = name.split("/")
    return sensor, channel


class FieldSpec(BaseModel):
    """One array field of a frame: dtype and per-item shape.

    For a fixed stream ``shape`` is the whole per-frame shape; for a ragged stream it is the
    shape of one item (one person, one point) and each frame has ``(n, *shape)``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: str
    shape: tuple[int, ...] = ()

    @field_validator("dtype")
    @classmethod
    def _valid_dtype(cls, v: str) -> str:
        try:
            dt = np.dtype(v)
        except TypeError as exc:
            raise ValueError(f"not a numpy dtype: {v!r}") from exc
        if dt.kind not in "biufc":
            raise ValueError(f"only numeric dtypes are allowed, got {v!r}")
        return dt.str if dt.byteorder not in "=|" else dt.name

    @field_validator("shape")
    @classmethod
    def _valid_shape(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(d < 0 for d in v):
            raise ValueError(f"shape dimensions must be >= 0, got {v}")
        return v


class StreamSpec(BaseModel):
    """The contract of one stream, declared before the first frame.

    Attributes:
        name: ``sensor/channel``.
        kind: what the stream carries.
        fields: named arrays in every frame.
        ragged: if true, every field has a variable leading dimension shared by all fields.
        rate_hz: nominal rate (0 when unknown); used for defaults and statistics only.
        skeleton: the skeleton spec name for keypoint and skeleton streams.
        queue_size: frames buffered between the source thread and the pipeline.
        queue_policy: what happens when that buffer is full.
        attrs: small JSON-serialisable extras stored with the stream.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: FrameKind
    fields: dict[str, FieldSpec]
    ragged: bool = False
    rate_hz: float = 0.0
    skeleton: str | None = None
    queue_size: int = Field(default=64, ge=1)
    queue_policy: QueuePolicy = "drop_oldest"
    attrs: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        split_stream_name(v)
        return v

    @field_validator("fields")
    @classmethod
    def _some_fields(cls, v: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        if not v:
            raise ValueError("a stream needs at least one field")
        for key in v:
            if not re.match(r"^[a-z][a-z0-9_]*$", key) or key in {"offsets", "t_sensor_ns", "t_host_ns", "seq"}:
                raise ValueError(f"invalid field name {key!r}")
        return v

    @model_validator(mode="after")
    def _kind_contract(self) -> StreamSpec:
        if self.kind == FrameKind.PERSON_VALUES:
            pid = self.fields.get("person_id")
            if not self.ragged or pid is None or pid.dtype != "int64" or pid.shape != ():
                raise ValueError("a person_values stream is ragged (one item per person) with a person_id int64 field")
            if len(self.fields) < 2:
                raise ValueError("a person_values stream needs at least one value field besides person_id")
        return self

    @property
    def sensor(self) -> str:
        return self.name.split("/")[0]

    @property
    def channel(self) -> str:
        return self.name.split("/")[1]

    def validate_frame(self, frame: Frame) -> None:
        """Raise :class:`SchemaError` (expected vs actual) when ``frame`` breaks this contract."""
        if set(frame.data) != set(self.fields):
            raise SchemaError(f"stream {self.name}: expected fields {sorted(self.fields)}, got {sorted(frame.data)}")
        n: int | None = None
        for key, spec in self.fields.items():
            arr = frame.data[key]
            if not isinstance(arr, np.ndarray):
                raise SchemaError(f"stream {self.name}: field {key!r} must be a numpy array, got {type(arr).__name__}")
            if arr.dtype != np.dtype(spec.dtype):
                raise SchemaError(f"stream {self.name}: field {key!r} expected dtype {spec.dtype}, actual {arr.dtype}")
            expected = spec.shape
            actual = arr.shape[1:] if self.ragged else arr.shape
            if self.ragged and arr.ndim == 0:
                raise SchemaError(f"stream {self.name}: ragged field {key!r} needs a leading dimension")
            if tuple(actual) != tuple(expected):
                shown = ("n", *expected) if self.ragged else expected
                raise SchemaError(f"stream {self.name}: field {key!r} expected shape {shown}, actual {arr.shape}")
            if self.ragged:
                if n is None:
                    n = arr.shape[0]
                elif arr.shape[0] != n:
                    raise SchemaError(
                        f"stream {self.name}: ragged fields must share their leading dimension; "
                        f"{key!r} has {arr.shape[0]}, expected {n}"
                    )

    def empty(self) -> dict[str, np.ndarray]:
        """An empty frame body (ragged streams only): zero items in every field."""
        if not self.ragged:
            raise SchemaError(f"stream {self.name} is not ragged; it has no empty frame")
        return {k: np.zeros((0, *f.shape), dtype=f.dtype) for k, f in self.fields.items()}


@dataclass(frozen=True, slots=True)
class Frame:
    """One sample of one stream.

    Attributes:
        stream: ``sensor/channel``.
        t_sensor_ns: the sensor's own timestamp (int64 ns).
        t_host_ns: when the host received it (int64 ns, ``time.time_ns()`` clock).
        seq: per-stream sequence number, increasing by one per frame the sensor produced
            (a gap in ``seq`` is a frame lost before it reached the host).
        data: the named arrays declared in the stream's :class:`StreamSpec`.
    """

    stream: str
    t_sensor_ns: int
    t_host_ns: int
    seq: int
    data: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.data[key]

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.data.values()))


@dataclass(slots=True)
class FrameSet:
    """Frames of several streams grouped at one reference time by the synchronizer.

    Stages add their outputs to ``frames`` under their output stream names, all with the
    frameset's timestamps, so a stage sees everything produced upstream of it.

    Attributes:
        index: running number of the set (0, 1, ...), identical in live runs and replays.
        t_ref_ns: the reference time (sensor time of the reference frame plus its offset).
        t_host_ns: host arrival time of the reference frame.
        frames: stream name -> frame; streams that had no frame within tolerance are absent.
        expected: every stream the synchronizer groups; ``complete`` is true when all are present.
    """

    index: int
    t_ref_ns: int
    t_host_ns: int
    frames: dict[str, Frame]
    expected: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return all(s in self.frames for s in self.expected)

    @property
    def missing(self) -> list[str]:
        return [s for s in self.expected if s not in self.frames]

    def get(self, stream: str) -> Frame | None:
        return self.frames.get(stream)

    def add(self, stream: str, data: Mapping[str, np.ndarray]) -> Frame:
        """Attach a stage output to the set, stamped with the set's times."""
        frame = Frame(stream=stream, t_sensor_ns=self.t_ref_ns, t_host_ns=self.t_host_ns, seq=self.index, data=data)
        self.frames[stream] = frame
        return frame


def person_values_spec(name: str, values: Mapping[str, str | FieldSpec], *, rate_hz: float | None = None) -> StreamSpec:
    """A :attr:`FrameKind.PERSON_VALUES` stream: ``person_id`` plus the named ``values``
    (``{"height_m": "float32"}`` or :class:`FieldSpec` for non-scalar values), one item per person.

    Example: ``person_values_spec("head/height", {"height_m": "float32"})``.
    """
    fields: dict[str, FieldSpec] = {"person_id": FieldSpec(dtype="int64")}
    for key, v in values.items():
        fields[key] = v if isinstance(v, FieldSpec) else FieldSpec(dtype=v)
    extra: dict[str, Any] = {} if rate_hz is None else {"rate_hz": rate_hz}
    return StreamSpec(name=name, kind=FrameKind.PERSON_VALUES, ragged=True, fields=fields, **extra)
