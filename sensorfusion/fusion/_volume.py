"""The capture volume as geometry: which world points, and which people, are inside it (numpy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._errors import ConfigError
from ..schema._calibration import RigCalibration, Transform
from ..schema._volume import CaptureVolumeConfig
from ._nanstats import quiet_nanmedian

__all__ = ["CaptureVolume", "reference_points"]

_AXES = {"xy": (0, 1, 2), "xz": (0, 2, 1), "yz": (1, 2, 0)}


def reference_points(joints: np.ndarray) -> np.ndarray:
    """``(K, 3)``: the per-axis median of each person's finite joints ``(K, J, 3)`` (NaN: none)."""
    x = np.asarray(joints, dtype=np.float64)
    ok = np.isfinite(x).all(-1, keepdims=True)
    return quiet_nanmedian(np.where(ok, x, np.nan), axis=-2).reshape(len(x), 3)  # all-NaN people: NaN


@dataclass(frozen=True)
class _View:
    camera: object
    camera_from_world: Transform
    width: int
    height: int


class CaptureVolume:
    """A capture volume built from a :class:`~sensorfusion.schema.CaptureVolumeConfig`.

    ``contains(points (N, 3)) -> (N,)`` bool; ``people_inside(joints (K, J, 3)) -> (K,)`` bool
    (a person's reference point is the per-axis median of their finite joints; a person with
    none is outside).
    """

    def __init__(
        self, config: CaptureVolumeConfig, views: Mapping[str, tuple[object, Transform]] | None = None
    ) -> None:
        self.config = config
        self.outside = config.outside
        self._views: list[_View] = []
        if config.shape == "cameras":
            for cam, world_from_camera in (views or {}).values():
                w, h = int(getattr(cam, "width", 0)), int(getattr(cam, "height", 0))
                self._views.append(_View(cam, world_from_camera.inverse(), w, h))

    @classmethod
    def from_calibration(
        cls,
        config: CaptureVolumeConfig,
        calibration: RigCalibration,
        cameras: list[str],
        *,
        field_path: str = "capture_volume",
    ) -> CaptureVolume:
        """The volume over ``cameras`` of ``calibration`` (``config.cameras`` overrides them)."""
        ids = list(config.cameras) if config.cameras is not None else list(cameras)
        views: dict[str, tuple[object, Transform]] = {}
        calibrated = sorted(k for k, v in calibration.sensors.items() if v.camera is not None)
        for sid in ids:
            sc = calibration.sensors.get(sid)
            if sc is None or sc.camera is None:
                raise ConfigError(
                    "not a calibrated camera", field_path=f"{field_path}.cameras", value=sid, choices=calibrated
                )
            views[sid] = (sc.camera, sc.world_from_sensor)
        if config.shape == "cameras" and len(views) < config.min_cameras:
            raise ConfigError(
                f"the volume needs {config.min_cameras} cameras' views to overlap, there are {len(views)} cameras",
                field_path=f"{field_path}.min_cameras",
                value=config.min_cameras,
            )
        return cls(config, views)

    def views_seeing(self, points: np.ndarray) -> np.ndarray:
        """``(N,)`` number of the volume's cameras in whose image each point lies (cameras shape)."""
        from ..geometry import project

        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        count = np.zeros(len(p), dtype=np.int64)
        finite = np.asarray(np.isfinite(p).all(axis=-1))
        if not finite.any():
            return count
        q = np.where(finite[:, None], p, 0.0)
        for v in self._views:
            pc = v.camera_from_world.apply(q)
            with np.errstate(all="ignore"):
                uv = project(v.camera, pc, tier="numpy")  # type: ignore[arg-type]
            u, w = uv[:, 0], uv[:, 1]
            with np.errstate(invalid="ignore"):
                inside = finite & (pc[:, 2] > 0) & (u >= 0) & (u <= v.width - 1) & (w >= 0) & (w <= v.height - 1)
            count += inside
        return count

    def contains(self, points: np.ndarray) -> np.ndarray:
        """``(N,)``: which of ``points (N, 3)`` (world metres) are inside; NaN points are not."""
        c = self.config
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        finite = np.isfinite(p).all(-1)
        if c.shape == "cameras":
            return np.asarray(self.views_seeing(p) >= c.min_cameras)
        if c.shape == "box":
            assert c.min_m is not None and c.max_m is not None
            lo, hi = np.asarray(c.min_m), np.asarray(c.max_m)
            with np.errstate(invalid="ignore"):
                return np.asarray(finite & ((p >= lo) & (p <= hi)).all(-1))
        assert c.polygon_m is not None
        a, b, up = _AXES[c.floor_axes]
        inside = finite & _in_polygon(p[:, a], p[:, b], np.asarray(c.polygon_m, dtype=np.float64))
        if c.height_m is not None:
            with np.errstate(invalid="ignore"):
                inside &= (p[:, up] >= c.height_m[0]) & (p[:, up] <= c.height_m[1])
        return np.asarray(inside)

    def people_inside(self, joints: np.ndarray) -> np.ndarray:
        """``(K,)``: which people ``(K, J, 3)`` have their reference point inside."""
        if len(joints) == 0:
            return np.zeros(0, dtype=bool)
        return self.contains(reference_points(joints))


def _in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule: points on an edge may fall either way."""
    inside = np.zeros(x.shape, dtype=bool)
    n = len(poly)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(n):
            x1, y1 = poly[i]
            x2, y2 = poly[(i + 1) % n]
            crosses = (y1 > y) != (y2 > y)
            xi = x1 + (y - y1) * (x2 - x1) / np.where(y2 != y1, y2 - y1, 1.0)
            inside ^= crosses & (x < xi)
    return inside
