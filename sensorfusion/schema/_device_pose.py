"""The ``device_pose`` stream contract: the 6-DoF pose of a moving device (a headset, a phone).

A device pose stream is named ``<device>/device_pose`` and carries one field,
``world_from_device`` ``(4, 4)`` float64: the rigid transform that maps points in the device
frame to the world (``p_world = world_from_device @ p_device``), metres, at the frame's
``t_sensor_ns``. Sensors mounted on the device name it in their calibration
(:class:`~sensorfusion.schema.DeviceMount`), so their world pose at any time is
``world_from_device(t) @ device_from_sensor``. Drivers may add fields (a tracking quality, a
velocity); estimators rely only on ``world_from_device``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .._errors import SchemaError
from ._streams import FieldSpec, FrameKind, StreamSpec

__all__ = ["DEVICE_POSE_CHANNEL", "DEVICE_POSE_FIELD", "check_device_pose", "device_pose_spec"]

DEVICE_POSE_CHANNEL = "device_pose"
DEVICE_POSE_FIELD = "world_from_device"


def device_pose_spec(
    device: str,
    *,
    rate_hz: float = 0.0,
    extra_fields: Mapping[str, FieldSpec] | None = None,
    attrs: Mapping[str, Any] | None = None,
    queue_size: int = 256,
) -> StreamSpec:
    """The :class:`StreamSpec` of ``<device>/device_pose`` (kind ``DEVICE_POSE``).

    Args:
        device: the device's sensor id (the stream's sensor part).
        rate_hz: nominal pose rate.
        extra_fields: further per-frame fields besides ``world_from_device``.
        attrs: JSON-serialisable extras (``{"frame": "world", "source": "mps"}``...).
        queue_size: frames buffered between the source and the pipeline (poses are small and
            often faster than cameras).
    """
    fields = {DEVICE_POSE_FIELD: FieldSpec(dtype="float64", shape=(4, 4)), **dict(extra_fields or {})}
    return StreamSpec(
        name=f"{device}/{DEVICE_POSE_CHANNEL}",
        kind=FrameKind.DEVICE_POSE,
        fields=fields,
        rate_hz=rate_hz,
        queue_size=queue_size,
        attrs={"frame": "world", "units": "m", **dict(attrs or {})},
    )


def check_device_pose(world_from_device: np.ndarray, *, tolerance: float = 1e-5, name: str = DEVICE_POSE_FIELD) -> None:
    """Raise :class:`~sensorfusion.SchemaError` unless ``(*, 4, 4)`` holds finite rigid transforms
    (orthonormal rotation with determinant +1, last row ``0 0 0 1``)."""
    m = np.asarray(world_from_device, dtype=np.float64)
    if m.ndim < 2 or m.shape[-2:] != (4, 4):
        raise SchemaError(f"{name}: expected shape (*, 4, 4), actual {m.shape}")
    if not np.isfinite(m).all():
        raise SchemaError(f"{name}: not finite")
    r = m[..., :3, :3]
    err = np.abs(r @ np.swapaxes(r, -1, -2) - np.eye(3)).max(initial=0.0)
    if err > tolerance:
        raise SchemaError(f"{name}: rotation is not orthonormal (max |R R^T - I| = {err:.3g}, tolerance {tolerance})")
    if (np.linalg.det(r) < 0).any():
        raise SchemaError(f"{name}: rotation has determinant -1 (a reflection)")
    if np.abs(m[..., 3, :] - np.array([0.0, 0.0, 0.0, 1.0])).max(initial=0.0) > tolerance:
        raise SchemaError(f"{name}: last row must be 0 0 0 1")
