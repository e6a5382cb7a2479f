"""``overhead.floor_tracks``: people on the floor from every ceiling camera and the rig's other sensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, Estimator, FieldSpec, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.fusion import quiet_nanmean

from ._tracker import FloorTracker, FloorTrackerSettings, Measurements, Zone, zone_of

__all__ = ["FloorTracks", "FloorTracksParams", "skeleton_floor_points"]


class FloorTracksParams(FloorTrackerSettings):
    """Parameters of ``overhead.floor_tracks``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zones: list[Zone] = Field(default_factory=list, description="named floor polygons counted every frame")
    min_score: float = Field(default=0.3, ge=0, le=1, description="camera detections scored below this are ignored")
    skeleton_sigma_m: float = Field(default=0.08, gt=0, description="floor-position noise of a 3D skeleton")
    radar_sigma_m: float = Field(default=0.2, gt=0, description="floor-position noise of a radar track")


def skeleton_floor_points(joints: np.ndarray, joint_names: list[str]) -> np.ndarray:
    """Floor ``(x, y)`` ``(P, 2)`` of 3D skeletons ``(P, J, 3)``: the mid-ankle, else mid-hip, else the mean joint."""
    j = np.asarray(joints, dtype=np.float64)
    out = np.full((len(j), 2), np.nan)
    idx = {n: i for i, n in enumerate(joint_names)}
    for pair in (("left_ankle", "right_ankle"), ("left_hip", "right_hip")):
        if all(n in idx for n in pair):
            pts = j[:, [idx[pair[0]], idx[pair[1]]], :2]
            with np.errstate(invalid="ignore"):
                mean = np.nanmean(np.where(np.isfinite(pts), pts, np.nan), axis=1) if len(j) else np.zeros((0, 2))
            fill = np.isnan(out[:, 0]) & np.all(np.isfinite(mean), axis=1)
            out[fill] = mean[fill]
    rest = np.isnan(out[:, 0])
    if rest.any():
        out[rest] = quiet_nanmean(j[rest, :, :2], axis=1)
    return out


class FloorTracks(Estimator):
    """Tracks people on the floor plane with stable ids; counts them per zone.

    Inputs (any mix): per-camera floor detections (``<cam>/floor`` from ``overhead.localise``:
    POINT_CLOUD with ``position_m`` and ``covariance_m2``), 3D skeletons (SKELETON3D, e.g.
    ``fusion/skeleton3d``: their mid-ankle or mid-hip), radar tracks (BOXES with
    ``position_m``, e.g. ``tracks/tracks`` of ``radar.track``). Outputs:

    * ``<stage>/tracks`` (BOXES, ragged): ``position_m (n, 3)`` (z = 0), ``velocity_m_per_s (n, 3)``,
      ``covariance_m2 (n, 2, 2)``, ``track_id``, ``hits``, ``sources`` (how many sources
      updated it this frame; 0 = predicted), ``zone`` (index into ``zones``, -1 none);
    * ``<stage>/zone_counts`` (with ``zones``): ``count (Z,)`` int64, confirmed tracks per zone
      (attrs ``zones``: the names).
    """

    name = "overhead.floor_tracks"
    Params = FloorTracksParams
    input_kinds = (FrameKind.POINT_CLOUD, FrameKind.SKELETON3D, FrameKind.BOXES)

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, FloorTracksParams)
        self.p = params
        self.tracker = FloorTracker(
            FloorTrackerSettings(**{k: getattr(params, k) for k in FloorTrackerSettings.model_fields})
        )
        self.floors = [
            s
            for s in context.inputs
            if s.kind == FrameKind.POINT_CLOUD and {"position_m", "covariance_m2"} <= set(s.fields)
        ]
        self.skeletons = [s for s in context.inputs if s.kind == FrameKind.SKELETON3D]
        self.radars = [s for s in context.inputs if s.kind == FrameKind.BOXES and "position_m" in s.fields]
        if not (self.floors or self.skeletons or self.radars):
            raise ConfigError(
                "overhead.floor_tracks needs floor detections (<cam>/floor), 3D skeletons or radar tracks among its inputs",
                field_path=f"{context.config_path or context.stage_id}.inputs",
                value=[s.name for s in context.inputs],
            )
        self.joint_names = {
            s.name: list(context.skeletons.get(str(s.skeleton)).joints) if s.skeleton else [] for s in self.skeletons
        }
        self.rate = max([s.rate_hz for s in context.inputs] + [0.0])
        self.out_tracks = f"{context.stage_id}/tracks"
        self.out_counts = f"{context.stage_id}/zone_counts"
        self.frames = 0
        self.track_frames = 0
        self.zone_frames = np.zeros(len(params.zones), dtype=np.int64)
        self.max_count = np.zeros(len(params.zones), dtype=np.int64)

    def outputs(self) -> list[StreamSpec]:
        out = [
            StreamSpec(
                name=self.out_tracks,
                kind=FrameKind.BOXES,
                ragged=True,
                rate_hz=self.rate,
                fields={
                    "position_m": FieldSpec(dtype="float32", shape=(3,)),
                    "velocity_m_per_s": FieldSpec(dtype="float32", shape=(3,)),
                    "covariance_m2": FieldSpec(dtype="float32", shape=(2, 2)),
                    "track_id": FieldSpec(dtype="int64"),
                    "hits": FieldSpec(dtype="int64"),
                    "sources": FieldSpec(dtype="int64"),
                    "zone": FieldSpec(dtype="int64"),
                },
                attrs={"frame": "world", "zones": [z.name for z in self.p.zones], "floor": True},
            )
        ]
        if self.p.zones:
            out.append(
                StreamSpec(
                    name=self.out_counts,
                    kind=FrameKind.BOXES,
                    rate_hz=self.rate,
                    fields={"count": FieldSpec(dtype="int64", shape=(len(self.p.zones),))},
                    attrs={"zones": [z.name for z in self.p.zones], "polygons_m": [z.polygon_m for z in self.p.zones]},
                )
            )
        return out

    def _measurements(self, frameset: FrameSet) -> list[Measurements]:
        out = []
        for spec in self.floors:
            f = frameset.get(spec.name)
            if f is None:
                continue
            keep = np.asarray(f.data.get("score", np.ones(len(f["position_m"]))), dtype=np.float64) >= self.p.min_score
            out.append(
                Measurements(
                    spec.sensor,
                    np.asarray(f["position_m"], np.float64)[keep, :2],
                    np.asarray(f["covariance_m2"], np.float64)[keep],
                )
            )
        for spec in self.skeletons:
            f = frameset.get(spec.name)
            if f is None:
                continue
            xy = skeleton_floor_points(f["joints"], self.joint_names[spec.name])
            out.append(
                Measurements(spec.name, xy, np.broadcast_to(np.eye(2) * self.p.skeleton_sigma_m**2, (len(xy), 2, 2)))
            )
        for spec in self.radars:
            f = frameset.get(spec.name)
            if f is None:
                continue
            xy = np.asarray(f["position_m"], np.float64)[:, :2]
            out.append(
                Measurements(spec.name, xy, np.broadcast_to(np.eye(2) * self.p.radar_sigma_m**2, (len(xy), 2, 2)))
            )
        return out

    def process(self, frameset: FrameSet) -> Mapping[str, Mapping[str, np.ndarray]]:
        t_s = frameset.t_ref_ns * 1e-9
        tracks = self.tracker.step(t_s, self._measurements(frameset))
        n = len(tracks)
        pos = np.zeros((n, 3), np.float32)
        vel = np.zeros((n, 3), np.float32)
        for i, tr in enumerate(tracks):
            pos[i, :2] = tr.x[:2]
            vel[i, :2] = tr.x[2:]
        zones = zone_of(pos[:, :2], self.p.zones) if self.p.zones else np.full(n, -1, np.int64)
        self.frames += 1
        self.track_frames += n
        out: dict[str, Mapping[str, np.ndarray]] = {
            self.out_tracks: {
                "position_m": pos,
                "velocity_m_per_s": vel,
                "covariance_m2": np.array([tr.P[:2, :2] for tr in tracks], np.float32).reshape(n, 2, 2),
                "track_id": np.array([tr.track_id for tr in tracks], np.int64),
                "hits": np.array([tr.hits for tr in tracks], np.int64),
                "sources": np.array([len(tr.sources) for tr in tracks], np.int64),
                "zone": zones,
            }
        }
        if self.p.zones:
            counts = np.bincount(zones[zones >= 0], minlength=len(self.p.zones)).astype(np.int64)
            self.zone_frames += counts
            self.max_count = np.maximum(self.max_count, counts)
            out[self.out_counts] = {"count": counts}
        return out

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "frames": self.frames,
            "tracks_started": self.tracker.confirmed_births,
            "tracks_ended": self.tracker.deaths,
            "duplicates_merged": self.tracker.merged,
            "mean_tracks_per_frame": round(self.track_frames / self.frames, 3) if self.frames else None,
        }
        if self.p.zones and self.frames:
            out["zones"] = {
                z.name: {
                    "mean_count": round(float(self.zone_frames[i]) / self.frames, 3),
                    "max_count": int(self.max_count[i]),
                }
                for i, z in enumerate(self.p.zones)
            }
        return out
