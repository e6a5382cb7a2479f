"""``opencv.rig``: N OpenCV sources opened together and aligned in time.

Alignment (``align``):

* ``index`` (default when every view is a file or an image folder): view ``v``'s frame
  ``j`` happened at ``t_v(j) = j / fps_v + offset_v``. The slowest view is the reference;
  for its frame ``i`` (time ``t_ref``) every other view contributes its frame nearest to
  ``t_ref`` (``j = round((t_ref - offset_v) * fps_v)``), frames in between are skipped.
* ``host`` (live sources): each ``read`` grabs every view back to back, then decodes them;
  a view's capture time is its device timestamp when *every* view has one on the same
  clock (``timestamps: device``), else the host time of its grab. The reference time is
  the median of the views' capture times.

All frames of one read carry the same ``t_sensor_ns`` (the reference time), so the
synchronizer downstream groups them into one frameset whatever its tolerance; each
frame also carries its own capture time (``t_capture_ns``) and the set's spread
(``sync_spread_ns`` = max - min capture time). :meth:`RigDriver.summary` gives the median,
p95 and max spread and the number of sets over ``tolerance_ms`` (logged at ``close``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

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
from sensorfusion.schema import CeilingMount, split_stream_name

from ._calib import find_camera, load_calibration_file
from ._ceiling import mount_on_ceiling, require_calibration
from ._drivers import SizeMismatch, camera_for_size, to_color_order
from ._source import CaptureSource, FolderSource, RawFrame, Source, SourceInfo, SourceKind, guess_kind

__all__ = ["RigDriver", "RigParams", "ViewParams"]


class ViewParams(BaseModel):
    """One view of the rig (a bare string or int in ``views`` is its ``source``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | int = Field(description="camera index, /dev/videoN, video file, image folder or URL")
    kind: Literal["auto", "device", "file", "url", "folder"] = "auto"
    fps: float | None = Field(
        default=None, gt=0, description="override the frame rate (folders: required unless the rig's fps is set)"
    )
    offset_ns: int = Field(default=0, description="added to this view's frame times before aligning (start offset)")
    width: int | None = Field(default=None, gt=0, description="requested of a camera")
    height: int | None = Field(default=None, gt=0)
    fourcc: str | None = Field(default=None, min_length=4, max_length=4)
    pattern: str | None = Field(default=None, description="glob for image folders")
    calibration_name: str | None = Field(
        default=None, description="name in the calibration file (default: the view name)"
    )
    ceiling: CeilingMount | None = Field(default=None, description="a ceiling camera looking down: its mounting")


class RigParams(BaseModel):
    """Parameters of ``opencv.rig``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    views: dict[str, ViewParams] = Field(description="view name (the stream's sensor) -> source")
    calibration: str | None = Field(default=None, description="calibration file for the views (.toml, .json, .yaml)")
    size_mismatch: SizeMismatch = "error"
    align: Literal["auto", "index", "host"] = "auto"
    timestamps: Literal["auto", "device", "host"] = Field(
        default="auto", description="live views: device timestamps when every view has them (auto), or host"
    )
    fps: float = Field(default=30.0, gt=0, description="frame rate of image folders without their own fps")
    color_order: Literal["rgb", "bgr"] = "rgb"
    tolerance_ms: float = Field(
        default=10.0, gt=0, description="sets with a larger spread are counted (out_of_tolerance)"
    )
    max_frames: int | None = Field(default=None, gt=0, description="stop after this many sets")

    @field_validator("views", mode="before")
    @classmethod
    def _bare_sources(cls, v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: ({"source": x} if isinstance(x, (str, int)) else x) for k, x in v.items()}
        return v

    @field_validator("views")
    @classmethod
    def _names(cls, v: dict[str, ViewParams]) -> dict[str, ViewParams]:
        if not v:
            raise ValueError("a rig needs at least one view")
        for name in v:
            try:
                split_stream_name(f"{name}/image")
            except ValueError:
                raise ValueError(f"view name {name!r} is not a valid sensor name (letters, digits, _ . -)") from None
        return v


class RigDriver(Driver):
    """Several OpenCV sources as one time-aligned multi-view rig (see the module docstring)."""

    name = "opencv.rig"
    Params = RigParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, RigParams)
        self.p = params
        self.names = list(params.views)
        self.sources: dict[str, Source] = {n: self._make_source(n, v) for n, v in params.views.items()}
        self.kinds: dict[str, SourceKind] = {n: s.kind for n, s in self.sources.items()}
        finite = all(k in ("file", "folder") for k in self.kinds.values())
        self.align = ("index" if finite else "host") if params.align == "auto" else params.align
        if self.align == "index" and not finite:
            live = sorted(n for n, k in self.kinds.items() if k not in ("file", "folder"))
            raise ConfigError(
                f"align: index needs files or image folders; live views: {live}",
                field_path=f"sensors[{context.sensor_id}].params.align", value="index", choices=["host", "auto"],
            )  # fmt: skip
        self._infos: dict[str, SourceInfo] = {}
        self._calibration: RigCalibration | None = None
        self._ref_index = 0  # next reference frame (index mode)
        self._pos: dict[str, int] = {}  # next unread frame index per view (index mode)
        self._seq = 0
        self._anchor_ns: int | None = None
        self._anchor_t = 0
        self.spreads_ns: list[int] = []
        self.skipped: dict[str, int] = dict.fromkeys(self.names, 0)
        self.bad_frames = 0

    def _make_source(self, name: str, v: ViewParams) -> Source:
        kind = guess_kind(v.source) if v.kind == "auto" else v.kind
        if kind == "folder":
            return FolderSource(str(v.source), pattern=v.pattern, fps=v.fps or self.p.fps)
        return CaptureSource(kind, v.source, width=v.width, height=v.height, fps=v.fps, fourcc=v.fourcc,
                             api="ffmpeg" if kind == "url" else "any", buffer_size=1 if kind == "device" else None)  # fmt: skip

    def _probe(self, name: str) -> SourceInfo:
        if name not in self._infos:
            v = self.p.views[name]
            if self.kinds[name] == "device" and v.width and v.height:
                self._infos[name] = SourceInfo(v.width, v.height, v.fps or 0.0, None, True, "device")
            else:
                info = self.sources[name].open(0)
                self.sources[name].close()
                self._infos[name] = info
        return self._infos[name]

    def fps_of(self, name: str) -> float:
        v = self.p.views[name]
        fps = v.fps or self._probe(name).fps or (self.p.fps if self.kinds[name] == "folder" else 0.0)
        if self.align == "index" and not fps:
            raise ConfigError("the source does not say its frame rate; set fps",
                              field_path=f"sensors[{self.context.sensor_id}].params.views.{name}.fps")  # fmt: skip
        return fps

    @property
    def reference(self) -> str:
        """The slowest view (first by name order on ties): one set per reference frame."""
        return min(self.names, key=lambda n: (self.fps_of(n), self.names.index(n)))

    def streams(self) -> list[StreamSpec]:
        self.calibration()  # a calibration that does not fit is a ConfigError before anything runs
        out = []
        for name in self.names:
            info = self._probe(name)
            out.append(
                StreamSpec(
                    name=f"{name}/image",
                    kind=FrameKind.IMAGE,
                    fields={
                        "image": FieldSpec(dtype="uint8", shape=(info.height, info.width, 3)),
                        "t_capture_ns": FieldSpec(dtype="int64"),
                        "sync_spread_ns": FieldSpec(dtype="int64"),
                    },
                    rate_hz=float(self.fps_of(self.reference) if self.align == "index" else self.fps_of(name)),
                    queue_size=8,
                    queue_policy="block" if self.align == "index" else "drop_oldest",
                    attrs={
                        "color_order": self.p.color_order,
                        "driver": self.name,
                        "align": self.align,
                        "source": str(self.p.views[name].source),
                        "rig": self.context.sensor_id,
                    },
                )
            )
        return out

    def calibration(self) -> RigCalibration | None:
        for name in self.names:
            if self.p.views[name].ceiling is not None:
                require_calibration(
                    self.p.calibration, field_path=f"sensors[{self.context.sensor_id}].params.calibration"
                )
        if self.p.calibration is None:
            return None
        if self._calibration is None:
            base = f"sensors[{self.context.sensor_id}].params"
            cal = load_calibration_file(self.p.calibration, field_path=f"{base}.calibration")
            sensors = {}
            for name in self.names:
                v = self.p.views[name]
                _, entry = find_camera(
                    cal, v.calibration_name or name, field_path=f"{base}.views.{name}.calibration_name"
                )
                info = self._probe(name)
                sensors[name] = camera_for_size(entry, info.width, info.height, self.p.size_mismatch,
                                                field_path=f"{base}.views.{name}", log=self.context.log)  # fmt: skip
                if v.ceiling is not None:
                    sensors[name] = mount_on_ceiling(
                        sensors[name], v.ceiling, field_path=f"{base}.views.{name}.calibration_name"
                    )
            self._calibration = RigCalibration(sensors=sensors)
        return self._calibration

    # -- running -------------------------------------------------------------------------------
    def open(self) -> None:
        for name in self.names:
            self._probe(name)  # before opening: probing opens and closes a source
        opened: list[str] = []
        try:
            for name in self.names:
                start = self._pos.get(name, 0) if self.align == "index" else 0
                info = self.sources[name].open(start)
                opened.append(name)
                want = self._probe(name)
                if (info.width, info.height) != (want.width, want.height):
                    raise DriverError(
                        f"view {name}: delivers {info.width}x{info.height}, declared {want.width}x{want.height}"
                    )
                self._pos.setdefault(name, 0)
        except BaseException:
            for name in opened:
                self.sources[name].close()
            raise
        self._anchor_ns = time.monotonic_ns()
        self._anchor_t = self._ref_time_ns(self._ref_index) if self.align == "index" else 0

    def _ref_time_ns(self, i: int) -> int:
        ref = self.reference
        return round(i * 1e9 / self.fps_of(ref)) + self.p.views[ref].offset_ns

    def read(self) -> Sequence[Frame]:
        if self.p.max_frames is not None and self._seq >= self.p.max_frames:
            raise EndOfStream(f"opencv.rig: max_frames={self.p.max_frames} reached")
        raws = self._read_index() if self.align == "index" else self._read_host()
        if raws is None:
            return []
        t_ref, per_view = raws
        caps = [t for _, t in per_view.values()]
        spread = int(max(caps) - min(caps))
        self.spreads_ns.append(spread)
        frames = []
        for name in self.names:
            raw, t_cap = per_view[name]
            want = self._probe(name)
            if raw.image is None or raw.image.shape[:2] != (want.height, want.width):
                self.bad_frames += 1
                self.context.log.warning("view %s: frame %d undecodable or of the wrong size; skipped", name, raw.index)
                continue
            data = {
                "image": to_color_order(raw.image, self.p.color_order),
                "t_capture_ns": np.array(t_cap, dtype=np.int64),
                "sync_spread_ns": np.array(spread, dtype=np.int64),
            }
            seq = raw.index if self.align == "index" else self._seq
            frames.append(Frame(f"{name}/image", int(t_ref), int(raw.t_host_ns), int(seq), data))
        self._seq += 1
        return frames

    def _read_index(self) -> tuple[int, dict[str, tuple[RawFrame, int]]] | None:
        i = self._ref_index
        t_ref = self._ref_time_ns(i)
        out: dict[str, tuple[RawFrame, int]] = {}
        for name in self.names:
            v, fps = self.p.views[name], self.fps_of(name)
            j = max(round((t_ref - v.offset_ns) * fps / 1e9), 0)
            src = self.sources[name]
            raw = None
            while self._pos[name] <= j:
                if not src.grab():
                    raise EndOfStream(f"opencv.rig: view {name} ended after {self._pos[name]} frames")
                self._pos[name] += 1
                if self._pos[name] <= j:
                    self.skipped[name] += 1
                else:
                    raw = src.retrieve()
            if raw is None:  # the view is ahead (negative offset): it has no frame this early
                raise DriverError(f"opencv.rig: view {name} cannot go back to frame {j}")
            out[name] = (raw, round(j * 1e9 / fps) + v.offset_ns)
        self._ref_index = i + 1
        if self.context.realtime and self._anchor_ns is not None:
            wait_s = (self._anchor_ns + (t_ref - self._anchor_t) - time.monotonic_ns()) * 1e-9
            if wait_s > 0 and self.context.stop.wait(wait_s):
                return None
        return t_ref, out

    def _read_host(self) -> tuple[int, dict[str, tuple[RawFrame, int]]] | None:
        grabbed = []
        for name in self.names:  # grab all first: exposures as close together as possible
            if not self.sources[name].grab():
                raise EndOfStream(f"opencv.rig: view {name} ended")
            grabbed.append(name)
        raws = {name: self.sources[name].retrieve() for name in grabbed}
        use_device = self.p.timestamps == "device" or (
            self.p.timestamps == "auto"
            and all(r.t_backend_ns for r in raws.values())
            and all(k == "device" for k in self.kinds.values())
        )
        if self.p.timestamps == "device" and not all(r.t_backend_ns for r in raws.values()):
            raise DriverError("opencv.rig: timestamps: device, but a view gives no device timestamp")
        per_view = {
            n: (r, int(r.t_backend_ns if use_device and r.t_backend_ns else r.t_host_ns)) for n, r in raws.items()
        }
        t_ref = int(np.median([t for _, t in per_view.values()]))
        return t_ref, per_view

    def close(self) -> None:
        for src in self.sources.values():
            src.close()
        if self.spreads_ns:
            self.context.log.info("opencv.rig %s sync: %s", self.context.sensor_id, self.summary())

    def summary(self) -> dict[str, Any]:
        """Sync quality: sets read, median/p95/max inter-view spread (ms), sets over tolerance, skipped frames."""
        s = np.asarray(self.spreads_ns, dtype=np.float64) * 1e-6
        return {
            "align": self.align,
            "sets": int(s.size),
            "spread_median_ms": round(float(np.median(s)), 3) if s.size else None,
            "spread_p95_ms": round(float(np.percentile(s, 95)), 3) if s.size else None,
            "spread_max_ms": round(float(s.max()), 3) if s.size else None,
            "out_of_tolerance": int((s > self.p.tolerance_ms).sum()),
            "skipped_frames": dict(self.skipped),
            "bad_frames": self.bad_frames,
        }
