"""Stream contracts shared by the overhead stages."""

from __future__ import annotations

import numpy as np

from sensorfusion import FieldSpec, FrameKind, StreamSpec

__all__ = ["RBOX_FIELDS", "empty_rboxes", "floor_spec", "rboxes_spec"]

RBOX_FIELDS: dict[str, FieldSpec] = {
    "rbox": FieldSpec(dtype="float32", shape=(5,)),
    "score": FieldSpec(dtype="float32"),
    "feet_px": FieldSpec(dtype="float32", shape=(2,)),
    "person_id": FieldSpec(dtype="int64"),
}


def rboxes_spec(name: str, rate_hz: float, **attrs: object) -> StreamSpec:
    """``<cam>/rboxes``: rotated person boxes in a fisheye image (RAPiD ``[cx, cy, w, h, angle_deg]``,
    top toward the head), their score, the mid-ankle pixel when a keypoint model gave one
    (NaN otherwise) and the person id (-1: unknown)."""
    return StreamSpec(
        name=name,
        kind=FrameKind.BOXES,
        ragged=True,
        rate_hz=rate_hz,
        fields=dict(RBOX_FIELDS),
        attrs={"format": "rapid", "units": {"rbox": "px, px, px, px, deg"}, **attrs},
    )


def empty_rboxes() -> dict[str, np.ndarray]:
    return {
        "rbox": np.zeros((0, 5), np.float32),
        "score": np.zeros(0, np.float32),
        "feet_px": np.zeros((0, 2), np.float32),
        "person_id": np.zeros(0, np.int64),
    }


def floor_spec(name: str, rate_hz: float, **attrs: object) -> StreamSpec:
    """``<cam>/floor``: floor positions of one camera's detections (world metres, ``z = 0``)."""
    return StreamSpec(
        name=name,
        kind=FrameKind.POINT_CLOUD,
        ragged=True,
        rate_hz=rate_hz,
        fields={
            "position_m": FieldSpec(dtype="float32", shape=(3,)),
            "covariance_m2": FieldSpec(dtype="float32", shape=(2, 2)),
            "score": FieldSpec(dtype="float32"),
            "method": FieldSpec(dtype="int8"),
            "implied_height_m": FieldSpec(dtype="float32"),
            "person_id": FieldSpec(dtype="int64"),
        },
        attrs={"frame": "world", "units": "m", **attrs},
    )
