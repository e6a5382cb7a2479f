"""The rig's capture volume (``capture_volume:`` in ``rig.yaml``): where people are expected.

People the fusion finds outside it are flagged (``in_volume`` false) or left out, as the rule
``outside`` says — never silently mixed in with the people inside.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._errors import ConfigError

__all__ = ["CaptureVolumeConfig"]

_BOX = ("min_m", "max_m")
_POLYGON = ("polygon_m", "floor_axes", "height_m")
_CAMERAS = ("min_cameras", "cameras")


class CaptureVolumeConfig(BaseModel):
    """Where people are expected, in world coordinates (metres).

    * ``shape: cameras`` (default): points seen by at least ``min_cameras`` of the fusion stage's
      cameras (or of ``cameras``), i.e. where their views overlap — in front of each camera and
      inside its image.
    * ``shape: box``: the axis-aligned box ``min_m`` .. ``max_m``.
    * ``shape: polygon``: the vertical prism over the floor polygon ``polygon_m`` (vertices in the
      two world axes ``floor_axes``), optionally limited to ``height_m`` along the third axis.

    A person is inside when their reference point — the per-axis median of their triangulated
    joints — is. ``outside`` is the rule for the others: ``flag`` reports them with
    ``in_volume`` false, ``drop`` leaves them out of the output (counted in the summary).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    shape: Literal["cameras", "box", "polygon"] = Field(default="cameras", description="how the volume is given")
    min_cameras: int = Field(default=2, ge=1, description="cameras: views that must see a point")
    cameras: list[str] | None = Field(
        default=None, description="cameras: the sensor ids that count (default: the fusion stage's cameras)"
    )
    min_m: tuple[float, float, float] | None = Field(default=None, description="box: lowest corner (x, y, z)")
    max_m: tuple[float, float, float] | None = Field(default=None, description="box: highest corner (x, y, z)")
    floor_axes: Literal["xy", "xz", "yz"] = Field(default="xy", description="polygon: the world axes of the floor")
    polygon_m: list[tuple[float, float]] | None = Field(default=None, description="polygon: floor vertices, in order")
    height_m: tuple[float, float] | None = Field(
        default=None, description="polygon: (low, high) along the axis not in floor_axes (default: unlimited)"
    )
    outside: Literal["flag", "drop"] = Field(
        default="flag", description="people outside: flag them (in_volume false) or drop them from the output"
    )

    @model_validator(mode="after")
    def _consistent(self) -> CaptureVolumeConfig:
        given = self.model_fields_set
        own = {"cameras": _CAMERAS, "box": _BOX, "polygon": _POLYGON}[self.shape]
        for name in (*_BOX, *_POLYGON, *_CAMERAS):
            if name in given and name not in own and getattr(self, name) is not None:
                other = next(s for s, f in (("box", _BOX), ("polygon", _POLYGON), ("cameras", _CAMERAS)) if name in f)
                raise ConfigError(
                    f"{name} belongs to shape {other!r}, this volume has shape {self.shape!r}",
                    field_path=f"capture_volume.{name}",
                    value=getattr(self, name),
                    choices=list(own),
                )
        if self.shape == "box":
            for name in _BOX:
                v = getattr(self, name)
                if v is None:
                    raise ConfigError("a box needs min_m and max_m", field_path=f"capture_volume.{name}")
                if not np.isfinite(v).all():
                    raise ConfigError("corners must be finite", field_path=f"capture_volume.{name}", value=list(v))
            assert self.min_m is not None and self.max_m is not None
            if not all(a < b for a, b in zip(self.min_m, self.max_m, strict=True)):
                raise ConfigError(
                    "every coordinate of max_m must exceed min_m's",
                    field_path="capture_volume.max_m",
                    value=list(self.max_m),
                )
        if self.shape == "polygon":
            poly = self.polygon_m
            if poly is None or len(poly) < 3:
                raise ConfigError(
                    "a floor polygon needs at least 3 vertices",
                    field_path="capture_volume.polygon_m",
                    value=None if poly is None else [list(p) for p in poly],
                )
            p = np.asarray(poly, dtype=np.float64)
            if not np.isfinite(p).all():
                raise ConfigError("vertices must be finite", field_path="capture_volume.polygon_m")
            area = 0.5 * abs(float(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1))))
            if area < 1e-6:
                raise ConfigError(
                    "the floor polygon has no area",
                    field_path="capture_volume.polygon_m",
                    value=[list(v) for v in poly],
                )
            if self.height_m is not None and not self.height_m[0] < self.height_m[1]:
                raise ConfigError(
                    "height_m must be (low, high) with low < high",
                    field_path="capture_volume.height_m",
                    value=list(self.height_m),
                )
        return self
