"""The rig configuration (``rig.yaml``) and its validation.

Every error raised here is a :class:`~sensorfusion.ConfigError` that names the field path
(``sensors[1].driver``), the bad value and, where there is a closed set, the valid choices.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._errors import ConfigError
from ._streams import QueuePolicy
from ._volume import CaptureVolumeConfig

__all__ = [
    "CalibrationConfig",
    "CaptureVolumeConfig",
    "QueueConfig",
    "RecordConfig",
    "RestartConfig",
    "RigConfig",
    "SensorConfig",
    "SinkConfig",
    "StageConfig",
    "SyncConfig",
    "format_loc",
    "load_rig",
    "match_streams",
    "safe_load_yaml",
    "validate_params",
]

_ID = r"^[A-Za-z0-9_.\-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RestartConfig(_Strict):
    """Backoff for restarting a failed driver: ``initial_s * 2**k`` capped at ``max_s``."""

    initial_s: float = Field(default=0.2, gt=0)
    max_s: float = Field(default=5.0, gt=0)
    max_restarts: int | None = Field(default=None, ge=0, description="None: restart forever")


class SensorConfig(_Strict):
    """One source. ``driver`` names a registered driver; ``params`` is validated by its ``Params``."""

    id: str = Field(pattern=_ID)
    driver: str
    params: dict[str, Any] = Field(default_factory=dict)
    restart: RestartConfig = Field(default_factory=RestartConfig)


class QueueConfig(_Strict):
    """The bounded queue of framesets in front of a stage or sink."""

    size: int = Field(default=16, ge=1)
    policy: QueuePolicy = "block"


class StageConfig(_Strict):
    """An estimator stage: which estimator, on which streams (glob patterns), with what params."""

    id: str = Field(pattern=_ID)
    estimator: str
    inputs: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    on_error: Literal["stop", "skip"] = Field(
        default="stop", description="stop: an exception ends the run (exit 1); skip: count it, record an event, go on"
    )


class SinkConfig(_Strict):
    """A sink: which sink, on which streams, with what params."""

    id: str = Field(pattern=_ID)
    sink: str
    inputs: list[str] = Field(default_factory=lambda: ["*/*"])
    params: dict[str, Any] = Field(default_factory=dict)
    queue: QueueConfig = Field(default_factory=QueueConfig)
    on_error: Literal["stop", "skip"] = "stop"


class SyncConfig(_Strict):
    """How source streams are grouped into framesets.

    Attributes:
        streams: patterns of the streams to group (default: every source stream).
        reference: the stream whose frames define the sets (default: the lowest-rate
            grouped stream, ties broken by name).
        tolerance_ms: a frame joins a set when within this of the reference frame.
        max_lateness_ms: how far back in sensor time a stream's frames may arrive out of order.
        timeout_ms: wall time after which a set is emitted without a stream that has gone silent.
        offsets_ns: per-stream offsets added to sensor time (on top of the calibration's
            per-sensor ``time_offset_ns``).
        rate_watermarks: trust each stream's declared ``rate_hz`` to emit sets with lower latency.
    """

    streams: list[str] = Field(default_factory=lambda: ["*/*"])
    reference: str | None = None
    tolerance_ms: float = Field(default=10.0, ge=0)
    max_lateness_ms: float = Field(default=0.0, ge=0)
    timeout_ms: float = Field(default=1000.0, gt=0)
    offsets_ns: dict[str, int] = Field(default_factory=dict)
    rate_watermarks: bool = Field(
        default=False,
        description="streams with a declared rate promise frames at least half a period apart: sets go out "
        "as soon as their frames are in instead of one reference period later",
    )


class RecordConfig(_Strict):
    """How a session is written.

    Attributes:
        compression: chunk codec for frame data.
        level: codec level (zstd: 1-22; ignored by lz4/none).
        commit_interval_s: the longest a recorded frame waits to be committed; after a crash
            of the writer at most about this much (plus one frame period) is lost.
        streams: patterns of source streams to record (estimates are always recorded).
        writer: ``process`` (its own interpreter), ``thread`` or ``auto`` (process for live runs).
    """

    compression: Literal["zstd", "lz4", "none"] = "zstd"
    level: int = Field(default=1, ge=1, le=22)
    commit_interval_s: float = Field(default=0.5, gt=0, le=10)
    streams: list[str] = Field(default_factory=lambda: ["*/*"])
    writer: Literal["auto", "process", "thread"] = Field(
        default="auto",
        description="where the session writer runs: its own process (a live run's threads cannot starve it, and a "
        "killed run loses only frames in flight), a thread of the run, or auto: process for live runs",
    )


class CalibrationConfig(_Strict):
    """Rig calibration: a file, inline sensors, or both (inline entries override the file's).

    The file is read by :func:`sensorfusion.load_calibration` in any installed format: the
    SDK's own JSON/YAML of :class:`RigCalibration`, and - with plugins such as
    ``sensorfusion-calibration`` - the peers' formats (Pose2Sim, aniposelib, Qualisys, OpenCV,
    ...), sniffed from the file or named by ``format``.
    """

    file: str | None = None
    format: str | None = None
    sensors: dict[str, Any] = Field(default_factory=dict)


class RigConfig(_Strict):
    """A whole rig: sensors, calibration, synchronisation, stages, sinks, recording."""

    name: str = Field(default="rig", max_length=256)
    seed: int = 0
    duration_s: float | None = Field(default=None, gt=0)
    sensors: list[SensorConfig] = Field(min_length=1)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    stages: list[StageConfig] = Field(default_factory=list)
    sinks: list[SinkConfig] = Field(default_factory=list)
    record: RecordConfig = Field(default_factory=RecordConfig)
    capture_volume: CaptureVolumeConfig | None = Field(
        default=None, description="where people are expected (default: where >= 2 cameras' views overlap)"
    )

    @field_validator("sensors")
    @classmethod
    def _unique_sensors(cls, v: list[SensorConfig]) -> list[SensorConfig]:
        _unique([s.id for s in v], "sensors", "sensor id")
        return v

    @model_validator(mode="after")
    def _unique_stage_ids(self) -> RigConfig:
        ids = [s.id for s in self.stages] + [s.id for s in self.sinks]
        _unique(ids, "stages", "stage or sink id")
        clash = sorted(set(ids) & {s.id for s in self.sensors})
        if clash:
            idx = next(i for i, s in enumerate(self.stages + self.sinks) if s.id in clash)  # type: ignore[operator]
            raise ConfigError(
                "a stage id may not equal a sensor id (both name streams)",
                field_path=f"stages[{idx}].id",
                value=clash[0],
            )
        return self


def _unique(ids: Sequence[str], path: str, what: str) -> None:
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if x in seen:
            raise ConfigError(
                f"duplicate {what} (first used at {path}[{seen[x]}])", field_path=f"{path}[{i}].id", value=x
            )
        seen[x] = i


def format_loc(loc: Iterable[int | str], prefix: str = "") -> str:
    """``("sensors", 1, "driver")`` -> ``"sensors[1].driver"``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _config_error_from_validation(exc: ValidationError, *, prefix: str = "", source: str | None = None) -> ConfigError:
    """One :class:`ConfigError` for every problem pydantic found (``errors`` lists them all)."""
    return ConfigError.combine([_one_error(e, prefix) for e in exc.errors(include_url=False)], source=source)


def _one_error(err: Any, prefix: str) -> ConfigError:
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    ctx = err.get("ctx") or {}
    # A ConfigError raised inside a validator keeps its own path.
    inner = ctx.get("error")
    if isinstance(inner, ConfigError):
        return ConfigError(
            inner.reason,
            field_path=format_loc([], prefix + ("." if prefix and inner.field_path else "") + inner.field_path)
            if prefix
            else inner.field_path,
            value=inner.value,
            choices=inner.choices,
        )
    choices: list[str] | None = None
    expected = ctx.get("expected")
    if isinstance(expected, str) and err["type"] in {"literal_error", "enum"}:
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        choices = None
    value = err.get("input") if err["type"] != "missing" else None
    if isinstance(value, dict) and err["type"] != "extra_forbidden":
        value = None
    return ConfigError(msg, field_path=format_loc(loc, prefix), value=value, choices=choices)


def validate_params(
    model: type[BaseModel], params: Mapping[str, Any], *, field_path: str, source: str | None = None
) -> BaseModel:
    """Validate a component's ``params`` block; errors name ``field_path`` + the inner path."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise _config_error_from_validation(exc, prefix=field_path, source=source) from None


def load_rig(path: str | os.PathLike[str] | None = None, *, text: str | None = None) -> RigConfig:
    """Parse and validate a rig file (structure only; components are checked when the rig is built)."""
    source = str(path) if path is not None else "<rig>"
    if text is None:
        if path is None:
            raise ConfigError("no rig file given")
        p = Path(path)
        if p.is_dir():
            raise ConfigError("is a folder, not a rig file", value=str(path))
        if not p.is_file():
            raise ConfigError("rig file not found", value=str(path))
        data = p.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} (save the rig file as UTF-8)",
                source=source,
            ) from None
    raw = safe_load_yaml(text, source=source)
    if not isinstance(raw, dict):
        raise ConfigError("a rig file must be a mapping at the top level", value=type(raw).__name__, source=source)
    try:
        return RigConfig.model_validate(raw)
    except ValidationError as exc:
        raise _config_error_from_validation(exc, source=source) from None
    except ConfigError as exc:
        raise ConfigError.combine([exc], source=source) from None


_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_YAML_NODES = 1_000_000
"""Values a YAML document may expand to (aliases counted every time they are used)."""
MAX_YAML_CHARS = 64 << 20
"""Characters of strings a YAML document may expand to."""


def safe_load_yaml(text: str, *, source: str | None = None, field_path: str = "") -> Any:
    """``yaml.safe_load`` with the expansion of aliases bounded: a document whose values,
    counted with every alias use, exceed :data:`MAX_YAML_NODES` values or
    :data:`MAX_YAML_CHARS` characters (an "alias bomb") is a :class:`ConfigError`."""
    try:
        raw = yaml.load(text, Loader=_SAFE_LOADER)  # a safe loader (libyaml's when present)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else field_path
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {str(problem)[:300]}", field_path=where, source=source) from None
    nodes, chars = _expanded_size(raw)
    if nodes > MAX_YAML_NODES or chars > MAX_YAML_CHARS:
        raise ConfigError(
            f"YAML aliases expand to {nodes:.3g} values / {chars:.3g} characters, over the limit of "
            f"{MAX_YAML_NODES:,} values / {MAX_YAML_CHARS >> 20} MiB (an alias bomb?)",
            field_path=field_path,
            source=source,
        )
    return raw


def _expanded_size(root: Any) -> tuple[int, int]:
    """(values, string characters) of ``root`` with shared sub-structures counted once per
    use, computed once per distinct object (linear in the document, not in its expansion)."""
    memo: dict[int, tuple[int, int]] = {}
    visiting: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        obj, children_done = stack.pop()
        if id(obj) in memo or (not children_done and id(obj) in visiting):
            continue
        if isinstance(obj, dict):
            kids = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set)):
            kids = list(obj)
        else:
            memo[id(obj)] = (1, len(obj) if isinstance(obj, (str, bytes)) else 0)
            continue
        if not children_done:
            if any(id(k) in visiting or k is obj for k in kids):
                return 1 << 62, 1 << 62  # a structure that contains itself never ends
            visiting.add(id(obj))
            stack.append((obj, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
            continue
        visiting.discard(id(obj))
        n, c = 1, 0
        for k in kids:
            kn, kc = memo[id(k)]
            n, c = n + kn, c + kc
        memo[id(obj)] = (min(n, 1 << 62), min(c, 1 << 62))
    return memo[id(root)]


def match_streams(patterns: Sequence[str], names: Iterable[str]) -> list[str]:
    """Stream names matching any of the glob ``patterns``, sorted."""
    names = list(names)
    return sorted({n for n in names for p in patterns if fnmatch.fnmatchcase(n, p)})
