"""The ``rerun`` sink: a running rig in Rerun's viewer (spawned or connected) or an ``.rrd`` file."""

from __future__ import annotations

import os
from typing import Any, Literal

import rerun as rr
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, FrameSet, Sink, StageContext

from ._rrd import RerunLogger
from ._scene import plan_streams

__all__ = ["RerunSink", "RerunSinkParams"]


class RerunSinkParams(BaseModel):
    """The ``rerun`` sink's ``params`` (at least one of ``spawn``, ``connect``, ``save``, or a
    recording run: then ``<sink id>.rrd`` beside the session)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spawn: bool = Field(default=False, description="start a Rerun viewer on this machine and stream to it")
    port: int = Field(default=9876, ge=1, le=65535, description="the spawned viewer's port")
    connect: str | None = Field(
        default=None, description="stream to a running viewer or server at this URL (rerun+http://HOST:PORT/proxy)"
    )
    save: str | None = Field(default=None, description="write an .rrd file here")
    recording_name: str | None = Field(
        default=None, description="the recording's name in the viewer (default: the rig's sink id)"
    )
    jpeg_quality: int | None = Field(default=75, ge=1, le=100, description="JPEG quality of images; null: raw pixels")
    images: bool = Field(default=True, description="log images (false: only calibration, keypoints, skeletons, radar)")
    min_confidence: float = Field(
        default=0.0, ge=0.0, description="2D keypoints at or below this confidence are left out"
    )
    world_up: Literal["+z", "-z", "+y", "-y"] = Field(default="+z", description="the world axis that points up")
    timeline: str = Field(default="sensor_time", min_length=1, description="the name of the sensor-time timeline")


class RerunSink(Sink):
    """Logs every frameset to Rerun: camera frusta (``Pinhole`` + ``Transform3D``) from the rig
    calibration, images, 2D keypoints and 3D skeletons with their bones and person ids (one
    stable colour per id), radar points, tracks and clusters, device poses — on the sensor-time
    timeline at the frameset's reference time (``t_ref_ns``: a set's frames show together) and a
    ``frameset`` sequence timeline.

    Only the streams matched by the sink's ``inputs`` are drawn. Summary: ``frames_logged``,
    ``framesets``, ``drawn`` (stream -> entity), ``not_drawn``, ``save`` (the ``.rrd`` path).
    """

    name = "rerun"
    Params = RerunSinkParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, RerunSinkParams)
        self.p = params
        self.save_path = params.save
        if params.save is None and not params.spawn and params.connect is None:
            if context.out_dir is None:
                raise ConfigError(
                    "the rerun sink needs somewhere to send the recording: spawn: true, connect: URL or save: PATH",
                    field_path=context.param_path("save"),
                )
            self.save_path = os.path.join(context.out_dir, f"{context.stage_id}.rrd")
        if self.save_path is not None and not self.save_path.endswith(".rrd"):
            raise ConfigError(
                "a Rerun recording file ends in .rrd", field_path=context.param_path("save"), value=self.save_path
            )
        specs = [(s.name, s) for s in context.inputs]
        tree, drawn, self.not_drawn = plan_streams(specs, context.calibration, context.skeletons)
        if not params.images:
            drawn = [d for d in drawn if d.what != "image"]
        self.tree, self.drawn = tree, drawn
        self.rec: rr.RecordingStream | None = None
        self.logger: RerunLogger | None = None
        self.framesets = 0

    def _open(self) -> RerunLogger:
        rec = rr.RecordingStream("sensorfusion")
        sinks: list[Any] = []
        if self.p.spawn:
            rr.spawn(port=self.p.port, connect=False, recording=rec)
            sinks.append(rr.GrpcSink(f"rerun+http://127.0.0.1:{self.p.port}/proxy"))
        if self.p.connect is not None:
            sinks.append(rr.GrpcSink(self.p.connect))
        if self.save_path is not None:
            folder = os.path.dirname(os.path.abspath(self.save_path))
            os.makedirs(folder, exist_ok=True)
            sinks.append(rr.FileSink(self.save_path))
        logger = RerunLogger(
            rec,
            self.tree,
            self.drawn,
            timeline=self.p.timeline,
            jpeg_quality=self.p.jpeg_quality,
            min_confidence=self.p.min_confidence,
            world_up=self.p.world_up,
        )
        rec.set_sinks(*sinks, default_blueprint=logger.blueprint())
        rec.send_recording_name(self.p.recording_name or self.context.stage_id)
        logger.log_rig()
        self.rec, self.logger = rec, logger
        return logger

    def warmup(self) -> None:
        if self.logger is None:
            self._open()

    def write(self, frameset: FrameSet) -> None:
        logger = self.logger or self._open()
        logger.rec.set_time("frameset", sequence=frameset.index)
        for name in sorted(frameset.frames):
            logger.log_frame(frameset.frames[name], t_ns=frameset.t_ref_ns)
        self.framesets += 1

    def close(self) -> None:
        if self.rec is not None:
            self.rec.flush()
            self.rec.disconnect()

    def summary(self) -> dict[str, Any]:
        return {
            "frames_logged": self.logger.frames_logged if self.logger is not None else 0,
            "framesets": self.framesets,
            "drawn": {d.name: (self.logger.entity(d) if self.logger else None) for d in self.drawn},
            "not_drawn": self.not_drawn,
            "save": self.save_path,
        }
