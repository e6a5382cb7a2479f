"""People's 3D joints from a session's skeleton stream, on a uniform time grid: what every
exporter of this distribution writes from.

A ragged ``skeleton3d`` stream holds, per frame, ``joints (N, J, 3)`` world metres (NaN:
unknown) and ``person_id (N,)``. :func:`load_motion` picks the stream (``--stream``, else the
default below), keeps the people and the time range asked for, and places each frame on a grid
of the stream's own period (dropped frames become empty slots), so C3D, BVH and TRC - which
assume a constant rate - get one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sensorfusion import ConfigError, ExportOptions, SkeletonSpec
from sensorfusion.store import Session, StreamInfo

__all__ = ["Motion", "load_motion", "skeleton_streams"]


@dataclass(frozen=True)
class Motion:
    """One skeleton stream's people on a uniform grid.

    Attributes:
        stream: the stream key (``"fusion:fusion/skeleton3d"``).
        skeleton: its skeleton spec.
        rate_hz: the grid's rate (the stream's median frame rate).
        t_ns: ``(T,)`` int64 sensor time of each grid slot.
        person_ids: ``(P,)`` int64, sorted.
        joints_m: ``(T, P, J, 3)`` float64 world metres, NaN where unknown or absent.
        recorded: ``(T,)`` bool, whether a recorded frame fell on the slot.
    """

    stream: str
    skeleton: SkeletonSpec
    rate_hz: float
    t_ns: np.ndarray
    person_ids: np.ndarray
    joints_m: np.ndarray
    recorded: np.ndarray

    @property
    def frames(self) -> int:
        return len(self.t_ns)

    def present(self) -> np.ndarray:
        """``(T, P)``: the person has at least one known joint in the slot."""
        present: np.ndarray = np.isfinite(self.joints_m).all(axis=-1).any(axis=-1)
        return present


def skeleton_streams(session: Session) -> dict[str, StreamInfo]:
    """Every 3D skeleton stream of a session by key, the stages' estimates first (a stage's
    ``backfill`` stream - held frames completing another stream - is left out)."""
    out: dict[str, StreamInfo] = {}
    for group in (session.estimates(), session.streams()):
        for key, info in group.items():
            if info.spec.kind == "skeleton3d" and "backfill_of" not in info.spec.attrs:
                out[key] = info
    return out


def _default_stream(streams: dict[str, StreamInfo]) -> str:
    """An estimate over a source stream, one not marked ground truth over one that is."""
    ranked = sorted(
        streams,
        key=lambda k: (streams[k].stage is None, bool(streams[k].spec.attrs.get("ground_truth")), k),
    )
    return ranked[0]


def pick_streams(session: Session, options: ExportOptions, *, many: bool, fmt: str) -> list[str]:
    """The stream keys to export: ``options.streams`` checked, else the default one."""
    streams = skeleton_streams(session)
    if not streams:
        recorded = ", ".join(f"{k} ({i.spec.kind})" for k, i in {**session.estimates(), **session.streams()}.items())
        raise ConfigError(
            f"the session has no 3D skeleton stream to export (it holds: {recorded or 'nothing'})",
            field_path="SESSION",
            value=str(session.path),
        )
    wanted = list(options.streams) or [_default_stream(streams)]
    if len(wanted) > 1 and not many:
        raise ConfigError(
            f"the {fmt} format takes one stream; export the others to other files",
            field_path="--stream",
            value=", ".join(wanted),
            choices=list(streams),
        )
    keys = []
    for name in wanted:
        key = name if name in streams else _resolve(name, streams)
        if key is None:
            raise ConfigError(
                "no such 3D skeleton stream in the session", field_path="--stream", value=name, choices=list(streams)
            )
        keys.append(key)
    return keys


def _resolve(name: str, streams: dict[str, StreamInfo]) -> str | None:
    """``fusion/skeleton3d`` for the estimate ``fusion:fusion/skeleton3d`` when unambiguous."""
    hits = [k for k, i in streams.items() if i.name == name]
    return hits[0] if len(hits) == 1 else None


def load_motion(session: Session, key: str, options: ExportOptions, skeleton: SkeletonSpec) -> Motion:
    """The people of stream ``key`` in ``options``' time range on the stream's frame grid.

    Raises:
        ConfigError: a ``person_ids`` entry never occurs in the range (the message lists the
            ids that do), or nothing is left to export.
    """
    info = skeleton_streams(session)[key]
    stage, _, name = key.rpartition(":")
    times: list[int] = []
    rows: list[tuple[np.ndarray, np.ndarray]] = []
    J = skeleton.num_joints
    total = info.count
    for i, frame in enumerate(session.read(name, stage=stage or None)):
        if options.progress is not None and i % 64 == 0:
            options.progress(i, total)
        if not options.in_range(frame.t_sensor_ns):
            continue
        joints = np.asarray(frame.data["joints"], dtype=np.float64).reshape(-1, J, 3)
        ids = np.asarray(frame.data["person_id"], dtype=np.int64).reshape(-1)
        times.append(int(frame.t_sensor_ns))
        rows.append((ids, joints))
    if options.progress is not None:
        options.progress(total, total)
    seen = np.unique(np.concatenate([ids for ids, _ in rows])) if rows else np.zeros(0, np.int64)
    if options.person_ids:
        unknown = [p for p in options.person_ids if p not in set(seen.tolist())]
        if unknown:
            raise ConfigError(
                f"person {unknown[0]} never occurs in {key}" + (" in that time range" if _ranged(options) else ""),
                field_path="--person",
                value=str(unknown[0]),
                choices=[str(p) for p in seen.tolist()] or ["(nobody)"],
            )
        seen = np.asarray(sorted(set(options.person_ids)), dtype=np.int64)
    if not times:
        raise ConfigError(
            f"no frame of {key} in the time range" if _ranged(options) else f"stream {key} has no frames",
            field_path="--start" if _ranged(options) else "--stream",
            value=key,
        )
    t = np.asarray(times, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    rows = [rows[i] for i in order]
    period_ns = _period_ns(t, info)
    slot = np.rint((t - t[0]) / period_ns).astype(np.int64)
    T = int(slot[-1]) + 1
    col = {int(p): k for k, p in enumerate(seen.tolist())}
    joints_m = np.full((T, len(seen), J, 3), np.nan)
    recorded = np.zeros(T, dtype=bool)
    for s, (ids, joints) in zip(slot.tolist(), rows, strict=True):
        recorded[s] = True
        for n, pid in enumerate(ids.tolist()):
            k = col.get(int(pid))
            if k is not None:
                joints_m[s, k] = joints[n]
    grid = t[0] + np.rint(np.arange(T) * period_ns).astype(np.int64)
    grid[slot] = t  # recorded slots keep their own stamps
    return Motion(key, skeleton, 1e9 / period_ns, grid, seen, joints_m, recorded)


def _ranged(options: ExportOptions) -> bool:
    return options.start_ns is not None or options.stop_ns is not None


def _period_ns(t: np.ndarray, info: StreamInfo) -> float:
    if len(t) >= 2:
        dt = np.diff(t)
        dt = dt[dt > 0]
        if len(dt):
            return float(np.median(dt))
    rate = info.spec.rate_hz
    return 1e9 / rate if rate else 1e9 / 30.0


def interpolate_gaps(x: np.ndarray) -> np.ndarray:
    """``x (T, ...)`` with NaN runs filled linearly along time and the ends held; a series
    that is never known stays NaN."""
    out = np.array(x, dtype=np.float64, copy=True)
    flat = out.reshape(len(out), -1)
    idx = np.arange(len(out))
    for c in range(flat.shape[1]):
        col = flat[:, c]
        ok = np.isfinite(col)
        if ok.any() and not ok.all():
            flat[:, c] = np.interp(idx, idx[ok], col[ok])
    return out
