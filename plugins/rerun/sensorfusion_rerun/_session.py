"""Reading what an export needs from a recorded session: the streams asked for (checked), their
frames merged in sensor-time order, people and time range filtered, and the export options."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sensorfusion import ConfigError, ExportOptions, Frame, StreamSpec
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
from sensorfusion.store import Session

from ._scene import Drawn, FrameTree, plan_streams

__all__ = [
    "Selection",
    "as_bool",
    "as_quality",
    "check_people",
    "parse_extra",
    "reference_offsets_ns",
    "select_streams",
    "session_frames",
    "skeleton_registry",
]


def skeleton_registry() -> SkeletonRegistry:
    """The skeletons of the installed plugins (the built-ins when the plugin host cannot load)."""
    try:
        from sensorfusion.plugins import get_plugin_host

        return get_plugin_host().skeletons
    except Exception:
        return SkeletonRegistry(builtin_skeletons())


@dataclass(frozen=True)
class Selection:
    """The streams an export draws, in its frame tree; ``skipped``: asked-for-by-default streams
    it cannot draw (their kind has no picture)."""

    tree: FrameTree
    drawn: list[Drawn]
    skipped: list[str]
    counts: dict[str, int]


def _all_specs(session: Session) -> dict[str, tuple[StreamSpec, int]]:
    out: dict[str, tuple[StreamSpec, int]] = {}
    for key, info in {**session.streams(), **session.estimates()}.items():
        out[key] = (info.spec, info.count)
    return out


def select_streams(session: Session, streams: Sequence[str] = ()) -> Selection:
    """Plan the session's drawable streams, or only ``streams`` (keys as ``inspect`` lists them,
    or an estimate's bare ``sensor/channel`` when only one stage produced it).

    Raises:
        ConfigError: (``--stream``) a key the session does not have, or one no viewer draws.
    """
    specs = _all_specs(session)
    tree, drawn, skipped = plan_streams(
        ((k, s) for k, (s, _) in specs.items()), session.calibration, skeleton_registry()
    )
    by_key = {d.key: d for d in drawn}
    if streams:
        chosen: list[Drawn] = []
        for want in streams:
            key = want
            if key not in specs:
                bare = [k for k in specs if k.split(":", 1)[-1] == want]
                key = bare[0] if len(bare) == 1 else want
            if key not in specs:
                raise ConfigError(
                    "the session has no such stream", field_path="--stream", value=want, choices=sorted(by_key)
                )
            if key not in by_key:
                raise ConfigError(
                    f"stream {key} ({specs[key][0].kind}) has nothing a viewer draws",
                    field_path="--stream",
                    value=want,
                    choices=sorted(by_key),
                )
            if by_key[key] not in chosen:
                chosen.append(by_key[key])
        drawn, skipped = chosen, []
    names = [d.name for d in drawn]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(
            f"several stages produced {', '.join(dup)}; pick one with --stream",
            field_path="--stream",
            choices=sorted(d.key for d in drawn if d.name in dup),
        )
    return Selection(tree, drawn, skipped, {d.key: specs[d.key][1] for d in drawn})


def _filter_people(frame: Frame, keep: set[int]) -> Frame:
    if "person_id" not in frame.data:
        return frame
    mask = np.isin(np.asarray(frame.data["person_id"]), list(keep))
    return Frame(
        frame.stream, frame.t_sensor_ns, frame.t_host_ns, frame.seq, {k: v[mask] for k, v in frame.data.items()}
    )


def reference_offsets_ns(session: Session, selection: Selection) -> dict[str, int]:
    """Per drawn stream, what puts its frames on the rig's reference clock (the synchronizer's
    offsets): a source stream's sensor ``time_offset_ns`` plus the rig's ``sync.offsets_ns`` for
    it; 0 for an estimate (stamped with its frameset's reference time already)."""
    sync = session.rig.get("sync") or {}
    extra = sync.get("offsets_ns") or {} if isinstance(sync, dict) else {}
    out: dict[str, int] = {}
    for d in selection.drawn:
        if ":" in d.key:
            out[d.key] = 0
            continue
        cal = session.calibration.sensors.get(d.spec.sensor)
        out[d.key] = (cal.time_offset_ns if cal is not None else 0) + int(extra.get(d.name, 0))
    return out


def session_frames(
    session: Session, selection: Selection, options: ExportOptions
) -> Iterator[tuple[Drawn, Frame, int]]:
    """``(stream, frame, t_ns)``: the selected streams' frames merged in time order (ties: stream
    key), ``t_ns`` on the rig's reference clock (:func:`reference_offsets_ns`), inside the
    options' time range; skeleton and keypoint streams reduced to ``options.person_ids``;
    ``options.progress`` is told every 64 frames read."""
    keep = set(int(p) for p in options.person_ids)
    offsets = reference_offsets_ns(session, selection)
    total = sum(selection.counts.values())
    done = 0

    def stream(i: int, d: Drawn) -> Iterator[tuple[int, int, Frame]]:
        off = offsets[d.key]
        for f in session.read(d.key):
            yield f.t_sensor_ns + off, i, f

    merged = heapq.merge(*(stream(i, d) for i, d in enumerate(selection.drawn)), key=lambda x: (x[0], x[1]))
    for t_ns, i, frame in merged:
        done += 1
        if options.progress is not None and (done % 64 == 0 or done == total):
            options.progress(done, total)
        if not options.in_range(t_ns):
            continue
        d = selection.drawn[i]
        if keep and d.what in ("skeleton3d", "keypoints2d"):
            frame = _filter_people(frame, keep)
        yield d, frame, t_ns


def check_people(session: Session, selection: Selection, person_ids: Sequence[int]) -> None:
    """Raise :class:`ConfigError` (``--person``) for a person id no selected stream has."""
    if not person_ids:
        return
    seen: set[int] = set()
    for d in selection.drawn:
        if d.what in ("skeleton3d", "keypoints2d") and "person_id" in d.spec.fields:
            for f in session.read(d.key):
                seen.update(int(p) for p in np.asarray(f.data["person_id"]))
    missing = [p for p in person_ids if p not in seen]
    if missing:
        raise ConfigError(
            "no such person in the exported streams",
            field_path="--person",
            value=missing[0],
            choices=[str(p) for p in sorted(seen) if p >= 0],
        )


def parse_extra(
    extra: Mapping[str, Any], known: Mapping[str, Callable[[Any], Any]], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """Format options (``--option KEY=VALUE``, values usually strings) parsed by ``known``'s
    converters over ``defaults``; an unknown key or a bad value is a ``ConfigError`` (``--option``)."""
    out = dict(defaults)
    for key, value in extra.items():
        if key not in known:
            raise ConfigError("unknown option", field_path="--option", value=key, choices=sorted(known))
        try:
            out[key] = known[key](value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad value for {key}: {exc}", field_path="--option", value=f"{key}={value}") from None
    return out


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in ("1", "true", "yes", "on"):
        return True
    if s in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def as_quality(value: Any) -> int | None:
    if value is None or str(value).strip().lower() in ("none", "raw", "off", ""):
        return None
    q = int(value)
    if not 1 <= q <= 100:
        raise ValueError("expected 1..100 or 'raw'")
    return q
