"""Sinks: ``overhead.metrics`` (scores against ground truth) and ``overhead.heatmap`` (occupancy PNG)."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import ConfigError, FrameKind, FrameSet, Sink, StageContext

from ._metrics import DetectionAP, TrackScores, pair_positions
from ._tracker import Zone, zone_of

__all__ = ["HeatmapParams", "MetricsParams", "OccupancyHeatmap", "OverheadMetrics", "render_heatmap"]


class MetricsParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tracks: str = Field(description="the floor tracks stream to score, e.g. floor/tracks")
    ground_truth: str = Field(default="gt/floor", description="true floor positions (position_m, person_id)")
    max_distance_m: float = Field(
        default=1.0, gt=0, description="a track farther than this from a person is not that person"
    )
    iou_threshold: float = Field(default=0.5, gt=0, le=1, description="rotated IoU for a detection to count (AP50)")
    min_visible: float = Field(default=0.3, ge=0, le=1, description="less visible people are ignored by the AP")


class OverheadMetrics(Sink):
    """Scores the overhead chain against the simulator's ground truth.

    Inputs: the tracks (``tracks``), the true floor positions (``ground_truth``), and
    optionally per-camera ``<cam>/floor`` detections (localisation error per detection) and
    ``<cam>/rboxes`` with their ``<cam>/gt_rboxes`` (AP of the rotated boxes). Summary: the
    track scores of :class:`~sensorfusion_overhead.TrackScores` (``loc_median_m``,
    ``loc_p90_m``, ``id_switches``, ``id_switches_per_min``, ``count_accuracy``, ``mota``...),
    ``detections`` (per camera and ``all``: ``loc_median_m``, ``loc_p90_m``, ``n``),
    ``ap50`` (per camera and ``all``) and, with zones on the tracks stream,
    ``zone_count_accuracy`` (frames x zones whose count is right).
    """

    name = "overhead.metrics"
    Params = MetricsParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, MetricsParams)
        self.p = params
        specs = {s.name: s for s in context.inputs}
        for fld, stream in (("tracks", params.tracks), ("ground_truth", params.ground_truth)):
            if stream not in specs or "position_m" not in specs[stream].fields:
                raise ConfigError(
                    "not a stream with position_m among the sink's inputs",
                    field_path=context.param_path(fld),
                    value=stream,
                    choices=sorted(s.name for s in context.inputs if "position_m" in s.fields),
                )
        attrs = specs[params.tracks].attrs
        self.zones = [Zone(name=n, polygon_m=[tuple(v) for v in poly]) for n, poly in zip(attrs.get("zones", []), attrs.get("polygons_m", []), strict=False)]  # fmt: skip
        if not self.zones:
            counts = specs.get(params.tracks.split("/")[0] + "/zone_counts")
            if counts is not None:
                self.zones = [Zone(name=n, polygon_m=[tuple(v) for v in poly]) for n, poly in zip(counts.attrs["zones"], counts.attrs["polygons_m"], strict=True)]  # fmt: skip
        self.floors = [
            s
            for s in context.inputs
            if s.kind == FrameKind.POINT_CLOUD and s.channel == "floor" and s.name != params.ground_truth
        ]
        self.rboxes = [s for s in context.inputs if s.channel == "rboxes" and f"{s.sensor}/gt_rboxes" in specs]
        self.scores = TrackScores(max_distance_m=params.max_distance_m)
        self.det_errors: dict[str, list[float]] = {s.sensor: [] for s in self.floors}
        self.ap = {s.sensor: DetectionAP(params.iou_threshold, min_visible=params.min_visible) for s in self.rboxes}
        self.ap_all = DetectionAP(params.iou_threshold, min_visible=params.min_visible)
        self.zone_ok = 0
        self.zone_total = 0

    def write(self, frameset: FrameSet) -> None:
        gt = frameset.get(self.p.ground_truth)
        if gt is None:
            return
        gxy = np.asarray(gt["position_m"], np.float64)[:, :2]
        gid = np.asarray(gt["person_id"], np.int64)
        tr = frameset.get(self.p.tracks)
        if tr is not None:
            txy = np.asarray(tr["position_m"], np.float64)[:, :2]
            self.scores.add(frameset.t_ref_ns * 1e-9, txy, tr["track_id"], gxy, gid)
            if self.zones:
                est = np.bincount(np.maximum(zone_of(txy, self.zones), 0), weights=(zone_of(txy, self.zones) >= 0).astype(float), minlength=len(self.zones))  # fmt: skip
                zg = zone_of(gxy, self.zones)
                true = np.bincount(np.maximum(zg, 0), weights=(zg >= 0).astype(float), minlength=len(self.zones))
                self.zone_ok += int(np.sum(est == true))
                self.zone_total += len(self.zones)
        for s in self.floors:
            f = frameset.get(s.name)
            if f is None:
                continue
            _, _, d = pair_positions(np.asarray(f["position_m"], np.float64)[:, :2], gxy, self.p.max_distance_m)
            self.det_errors[s.sensor].extend(float(x) for x in d)
        for s in self.rboxes:
            f, g = frameset.get(s.name), frameset.get(f"{s.sensor}/gt_rboxes")
            if f is None or g is None:
                continue
            vis = g.data.get("visible_fraction")
            for acc in (self.ap[s.sensor], self.ap_all):
                acc.add(f["rbox"], f["score"], g["rbox"], vis)

    def summary(self) -> dict[str, Any]:
        out = self.scores.summary()
        if self.det_errors:
            dets: dict[str, Any] = {}
            every = [e for v in self.det_errors.values() for e in v]
            for name, errs in [*self.det_errors.items(), ("all", every)]:
                a = np.asarray(errs)
                dets[name] = {
                    "loc_median_m": round(float(np.median(a)), 4) if a.size else None,
                    "loc_p90_m": round(float(np.percentile(a, 90)), 4) if a.size else None,
                    "n": int(a.size),
                }
            out["detections"] = dets
        if self.ap:
            out["ap50"] = {name: _r(acc.ap()) for name, acc in [*self.ap.items(), ("all", self.ap_all)]}
        if self.zones:
            out["zone_count_accuracy"] = round(self.zone_ok / self.zone_total, 4) if self.zone_total else None
        return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


class HeatmapParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tracks: str = Field(description="the floor tracks stream, e.g. floor/tracks")
    extent_m: tuple[float, float, float, float] | None = Field(
        default=None, description="xmin, xmax, ymin, ymax of the map (default: the ceiling cameras' floor area)"
    )
    cell_m: float = Field(default=0.1, gt=0, description="size of a map cell")
    pixels_per_cell: int = Field(default=6, ge=1, le=64, description="PNG pixels per cell")
    path: str | None = Field(default=None, description="PNG file (default: <sink id>.png beside the recorded session)")


def render_heatmap(
    dwell_s: np.ndarray,
    extent_m: tuple[float, float, float, float],
    *,
    pixels_per_cell: int = 6,
    zones: list[Zone] | None = None,
    cameras_xy: list[tuple[float, float]] | None = None,
) -> np.ndarray:
    """An RGB ``uint8`` image of a dwell-time grid ``(ny, nx)`` (row 0 = ``ymin``), drawn with +y up,
    zone outlines (white) and camera positions (cyan crosses); a colour bar on the right."""
    import cv2

    ny, nx = dwell_s.shape
    top = float(dwell_s.max()) if dwell_s.size else 0.0
    norm = np.sqrt(dwell_s / top) if top > 0 else np.zeros_like(dwell_s)  # sqrt: short visits stay visible
    small = np.flipud(np.clip(norm * 255.0, 0, 255).astype(np.uint8))
    grey: np.ndarray = cv2.resize(small, (nx * pixels_per_cell, ny * pixels_per_cell), interpolation=cv2.INTER_NEAREST)
    img = cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)  # BGR
    xmin, xmax, ymin, ymax = extent_m
    sx, sy = img.shape[1] / (xmax - xmin), img.shape[0] / (ymax - ymin)

    def to_px(x: float, y: float) -> tuple[int, int]:
        return round((x - xmin) * sx), round((ymax - y) * sy)

    for z in zones or []:
        pts = np.array([to_px(x, y) for x, y in z.polygon_m], np.int32)
        cv2.polylines(img, [pts], True, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.putText(
            img, z.name, tuple(int(v) for v in pts.min(axis=0) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1
        )
    for x, y in cameras_xy or []:
        cv2.drawMarker(img, to_px(x, y), (255, 255, 0), cv2.MARKER_CROSS, 12, 2)
    ramp = np.linspace(255, 0, img.shape[0]).astype(np.uint8)[:, None].repeat(12, axis=1)
    bar: np.ndarray = cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO)
    out = np.concatenate([img, np.zeros((img.shape[0], 4, 3), np.uint8), bar], axis=1)
    label = f"max {top:.1f} s/cell" if top > 0 else "empty"
    cv2.putText(out, label, (4, out.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    rgb: np.ndarray = out[..., ::-1].copy()
    return rgb


class OccupancyHeatmap(Sink):
    """Dwell time of the tracked people per floor cell, written as a PNG at the end of the run.

    Each frameset adds its duration (the time to the previous frameset, at most 1 s) to the
    cell under every confirmed track. The PNG (``path``, default ``<sink id>.png`` beside the
    recorded session, in the folder of ``--out``; nothing without a path when not recording) shows sqrt-scaled dwell time with the zones and the ceiling cameras;
    a ``.npy`` of the grid (seconds per cell, row 0 = ``ymin``) and a ``.json`` (extent,
    cell size) go beside it with the same stem. Summary: ``path``, ``max_dwell_s``, ``occupied_cells``.
    """

    name = "overhead.heatmap"
    Params = HeatmapParams

    def __init__(self, params: BaseModel, context: StageContext) -> None:
        super().__init__(params, context)
        assert isinstance(params, HeatmapParams)
        self.p = params
        specs = {s.name: s for s in context.inputs}
        if params.tracks not in specs or "position_m" not in specs[params.tracks].fields:
            raise ConfigError(
                "not a tracks stream with position_m among the sink's inputs",
                field_path=context.param_path("tracks"),
                value=params.tracks,
                choices=sorted(s.name for s in context.inputs if "position_m" in s.fields),
            )
        attrs = specs[params.tracks].attrs
        counts = specs.get(params.tracks.split("/")[0] + "/zone_counts")
        self.zones: list[Zone] = []
        if counts is not None:
            self.zones = [Zone(name=n, polygon_m=[tuple(v) for v in poly]) for n, poly in zip(counts.attrs["zones"], counts.attrs["polygons_m"], strict=True)]  # fmt: skip
        del attrs
        self.cameras_xy: list[tuple[float, float]] = []
        for cal in context.calibration.sensors.values():
            if cal.camera is None or cal.camera.model == "pinhole":
                continue
            t = cal.world_from_sensor.translation_m
            if t[2] > 0 and cal.world_from_sensor.matrix[2, 2] < 0:
                self.cameras_xy.append((t[0], t[1]))
        extent = params.extent_m
        if extent is None:
            xs = [x for x, _ in self.cameras_xy] or [0.0]
            ys = [y for _, y in self.cameras_xy] or [0.0]
            extent = (min(xs) - 4.0, max(xs) + 4.0, min(ys) - 4.0, max(ys) + 4.0)
        if not (extent[1] > extent[0] and extent[3] > extent[2]):
            raise ConfigError(
                "extent_m must be xmin < xmax, ymin < ymax", field_path=context.param_path("extent_m"), value=extent
            )
        self.extent = extent
        self.nx = max(1, math.ceil((extent[1] - extent[0]) / params.cell_m))
        self.ny = max(1, math.ceil((extent[3] - extent[2]) / params.cell_m))
        self.dwell = np.zeros((self.ny, self.nx))
        self._last_t: int | None = None
        self.path: str | None = None
        if params.path is not None:
            self.path = params.path
        elif context.out_dir is not None:
            self.path = os.path.join(context.out_dir, f"{context.stage_id}.png")

    def write(self, frameset: FrameSet) -> None:
        tr = frameset.get(self.p.tracks)
        dt = 0.0 if self._last_t is None else min(max((frameset.t_ref_ns - self._last_t) * 1e-9, 0.0), 1.0)
        self._last_t = frameset.t_ref_ns
        if tr is None or dt == 0.0:
            return
        xy = np.asarray(tr["position_m"], np.float64)[:, :2]
        ix = np.floor((xy[:, 0] - self.extent[0]) / self.p.cell_m).astype(np.int64)
        iy = np.floor((xy[:, 1] - self.extent[2]) / self.p.cell_m).astype(np.int64)
        ok = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        np.add.at(self.dwell, (iy[ok], ix[ok]), dt)

    def close(self) -> None:
        if self.path is None:
            return
        import cv2

        img = render_heatmap(
            self.dwell,
            self.extent,
            pixels_per_cell=self.p.pixels_per_cell,
            zones=self.zones,
            cameras_xy=self.cameras_xy,
        )
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        if not cv2.imwrite(self.path, img[..., ::-1]):
            raise OSError(f"could not write {self.path}")
        stem = os.path.splitext(self.path)[0]
        np.save(stem + ".npy", self.dwell)
        with open(stem + ".json", "w", encoding="utf-8") as fh:
            json.dump({"extent_m": list(self.extent), "cell_m": self.p.cell_m, "rows": "y from ymin", "units": "s"}, fh)

    def summary(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "max_dwell_s": round(float(self.dwell.max()), 3),
            "occupied_cells": int((self.dwell > 0).sum()),
            "extent_m": list(self.extent),
        }
