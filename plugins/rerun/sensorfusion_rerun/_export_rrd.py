"""A recorded session as a Rerun recording (``.rrd``): ``sensorfusion export SESSION --to rrd``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import rerun as rr

from sensorfusion import ExportOptions, ExportResult
from sensorfusion.store import Session

from ._rrd import RerunLogger
from ._session import as_quality, check_people, parse_extra, select_streams, session_frames

__all__ = ["RRD_OPTIONS", "export_rrd", "write_rrd"]

RRD_OPTIONS: dict[str, Any] = {"jpeg_quality": 75, "min_confidence": 0.0, "world_up": "+z", "timeline": "sensor_time"}
"""``--option`` keys of the ``rrd`` exporter and their defaults."""


def _world_up(value: Any) -> str:
    s = str(value).strip()
    if s not in ("+z", "-z", "+y", "-y"):
        raise ValueError("expected +z, -z, +y or -y")
    return s


_PARSERS: dict[str, Callable[[Any], Any]] = {
    "jpeg_quality": as_quality,
    "min_confidence": float,
    "world_up": _world_up,
    "timeline": str,
}


def write_rrd(
    session: Session | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    streams: Sequence[str] = (),
    options: ExportOptions | None = None,
    jpeg_quality: int | None = 75,
    min_confidence: float = 0.0,
    world_up: str = "+z",
    timeline: str = "sensor_time",
) -> ExportResult:
    """Write ``session`` (or the session at that path) to the Rerun recording ``out``.

    Args:
        streams: stream keys to draw (default: every stream a viewer draws); ``options.streams``
            when ``options`` is given.
        options: people, time range and progress (the exporter hook's options).
        jpeg_quality: JPEG quality of colour images (``None``: raw pixels, larger files).
        min_confidence: 2D keypoints at or below this confidence are left out.
        world_up: the world's up axis.
        timeline: the name of the sensor-time timeline.

    Returns:
        the result: ``frames`` logged, the stream keys drawn, ``details`` with the entity paths,
        the streams not drawn and the time range.
    """
    options = options or ExportOptions(streams=tuple(streams))
    sess = session if isinstance(session, Session) else Session.open(session)
    if True:
        selection = select_streams(sess, options.streams)
        check_people(sess, selection, options.person_ids)
        out = Path(out)
        name = Path(str(sess.path)).name
        # one id per session (its name and creation time): exporting it twice gives the same
        # recording, two sessions that share a folder name stay two recordings in the viewer
        rec = rr.RecordingStream("sensorfusion", recording_id=f"sensorfusion:{name}:{sess.created or ''}")
        try:
            logger = RerunLogger(
                rec,
                selection.tree,
                selection.drawn,
                timeline=timeline,
                jpeg_quality=jpeg_quality,
                min_confidence=min_confidence,
                world_up=world_up,
            )
            rec.save(str(out), default_blueprint=logger.blueprint())
            rec.send_recording_name(name)
            logger.log_rig()
            t_first: int | None = None
            t_last: int | None = None
            people: set[int] = set()
            for d, frame, t_ns in session_frames(sess, selection, options):
                logger.log_frame(frame, t_ns=t_ns)
                t_first = t_ns if t_first is None else t_first
                t_last = t_ns
                if d.what == "skeleton3d" and "person_id" in frame.data:
                    people.update(int(p) for p in frame.data["person_id"] if p >= 0)
            rec.flush()
        finally:
            rec.disconnect()
        return ExportResult(
            "rrd",
            (out,),
            frames=logger.frames_logged,
            streams=tuple(d.key for d in selection.drawn),
            person_ids=tuple(sorted(people)),
            details={
                "entities": {d.key: logger.entity(d) for d in selection.drawn},
                "not_drawn": selection.skipped,
                "timeline": timeline,
                "t_first_ns": t_first,
                "t_last_ns": t_last,
            },
        )


def export_rrd(session: Session, out: Path, options: ExportOptions) -> ExportResult:
    """The ``rrd`` exporter (``sensorfusion export SESSION --to rrd``). ``--option`` keys:
    ``jpeg_quality`` (1-100, or ``raw``; default 75), ``min_confidence`` (default 0),
    ``world_up`` (``+z``), ``timeline`` (``sensor_time``)."""
    opts = parse_extra(options.extra, _PARSERS, RRD_OPTIONS)
    return write_rrd(session, out, options=options, **opts)
