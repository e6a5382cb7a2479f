"""``TorchRig``: several calibrated cameras with their poses, projecting world points and
lifting pixels to world rays, differentiably."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from sensorfusion import ConfigError, RigCalibration

from ._camera import TorchCamera

__all__ = ["TorchRig"]


@dataclass(frozen=True)
class TorchRig:
    """``V`` cameras: ``cameras[v]`` and ``camera_from_world[v]`` ``(4, 4)`` (rigid).

    ``sensors`` are the calibration's sensor ids in view order.
    """

    sensors: tuple[str, ...]
    cameras: tuple[TorchCamera, ...]
    camera_from_world: torch.Tensor

    @classmethod
    def from_calibration(
        cls,
        calibration: RigCalibration,
        sensors: Sequence[str],
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> TorchRig:
        """The cameras ``sensors`` of a rig calibration (a :class:`ConfigError` names a sensor
        without a camera model)."""
        cams = []
        mats = []
        for s in sensors:
            cam = calibration.camera(s)  # ConfigError with the field path and the choices
            cams.append(
                TorchCamera.from_schema(cam, dtype=dtype, device=device, field_path=f"calibration.sensors.{s}.camera")
            )
            mats.append(np.linalg.inv(calibration.sensors[s].world_from_sensor.matrix))
        m = torch.as_tensor(np.stack(mats) if mats else np.zeros((0, 4, 4)), dtype=dtype, device=device)
        return cls(tuple(sensors), tuple(cams), m)

    @property
    def num_views(self) -> int:
        return len(self.cameras)

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> TorchRig:
        return TorchRig(
            self.sensors,
            tuple(c.to(dtype, device) for c in self.cameras),
            self.camera_from_world.to(dtype=dtype, device=device),
        )

    def subset(self, views: Sequence[int]) -> TorchRig:
        """The rig of the views ``views`` (indices, in that order)."""
        idx = list(views)
        return TorchRig(
            tuple(self.sensors[i] for i in idx),
            tuple(self.cameras[i] for i in idx),
            self.camera_from_world[idx],
        )

    def centers_world(self) -> torch.Tensor:
        """Camera centres ``(V, 3)`` in the world frame."""
        r = self.camera_from_world[:, :3, :3]
        t = self.camera_from_world[:, :3, 3]
        return -(r.transpose(1, 2) @ t[..., None])[..., 0]

    def to_camera(self, points_world: torch.Tensor) -> torch.Tensor:
        """World points ``(*, 3)`` in every camera frame: ``(V, *, 3)``."""
        m = self.camera_from_world.to(points_world.dtype)
        V = m.shape[0]
        flat = points_world.reshape(-1, 3)
        out = torch.einsum("vij,nj->vni", m[:, :3, :3], flat) + m[:, None, :3, 3]
        return out.reshape(V, *points_world.shape[:-1], 3)

    def project(self, points_world: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pixels ``(V, *, 2)`` of world points ``(*, 3)`` in every view, and ``valid (V, *)``."""
        pc = self.to_camera(points_world)
        outs = [cam.project(pc[v]) for v, cam in enumerate(self.cameras)]
        return torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs])

    def rays(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World-frame unit directions ``(V, *, 3)`` of pixels ``(V, *, 2)`` and ``valid (V, *)``
        (each ray starts at :meth:`centers_world`)."""
        if pixels.shape[0] != self.num_views:
            from sensorfusion.geometry import ShapeError

            raise ShapeError("pixels", f"({self.num_views}, *, 2)", tuple(pixels.shape))
        outs = [cam.unproject(pixels[v]) for v, cam in enumerate(self.cameras)]
        d = torch.stack([o[0] for o in outs])
        ok = torch.stack([o[1] for o in outs])
        r = self.camera_from_world[:, :3, :3].to(pixels.dtype)  # world_from_camera rotation = r^T
        V = d.shape[0]
        dw = torch.einsum("vji,vnj->vni", r, d.reshape(V, -1, 3)).reshape(d.shape)
        return dw, ok

    def projection_matrices(self) -> torch.Tensor:
        """``(V, 3, 4)`` ``K [R | t]`` of pinhole cameras (distortion not included); a
        :class:`ConfigError` for other models."""
        out: list[torch.Tensor] = []
        for s, cam in zip(self.sensors, self.cameras, strict=True):
            if cam.model != "pinhole":
                raise ConfigError(
                    "a projection matrix needs a pinhole camera; use rays() for other models",
                    field_path=f"calibration.sensors.{s}.camera.model",
                    value=cam.model,
                )
            p = cam.params
            K = torch.zeros((3, 3), dtype=p.dtype, device=p.device)
            K[0, 0], K[1, 1], K[0, 2], K[1, 2], K[2, 2] = p[0], p[1], p[2], p[3], 1.0
            out.append(K @ self.camera_from_world[len(out), :3, :].to(p.dtype))
        return torch.stack(out)
