"""Synthetic calibration problems with known answers (tests, benchmarks, examples)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from sensorfusion.geometry import transform_points, world_to_pixels
from sensorfusion.schema import PinholeCamera, RigCalibration

from ._boards import Board, BoardDetection

__all__ = ["synthetic_board_views"]


def synthetic_board_views(
    rig: RigCalibration,
    board: Board,
    *,
    poses: int = 200,
    noise_px: float = 0.5,
    outlier_fraction: float = 0.1,
    outlier_px: tuple[float, float] = (5.0, 60.0),
    max_angle_rad: float = math.radians(65.0),
    centre_m: tuple[float, float, float] = (0.0, 0.0, 1.0),
    spread_m: tuple[float, float, float] = (1.2, 1.2, 0.5),
    seed: int = 0,
) -> tuple[dict[str, dict[int, BoardDetection]], dict[int, np.ndarray]]:
    """Board views of a rig: ``poses`` random board poses in the volume, each facing a random
    horizontal direction (tilted up to ±30°); a camera sees a pose when the board's front faces it
    within ``max_angle_rad`` and every corner lands in its image. Corners get Gaussian noise of
    ``noise_px``; a fraction ``outlier_fraction`` of the corner detections is displaced by
    ``outlier_px`` (uniform range) in a random direction. Returns ``detections[camera][pose]`` and
    the true ``world_from_board`` per pose.
    """
    rng = np.random.default_rng(seed)
    grid = board.object_points()
    dets: dict[str, dict[int, BoardDetection]] = {sid: {} for sid in rig.sensors}
    truth: dict[int, np.ndarray] = {}
    centre = np.asarray(centre_m)
    made = 0
    tries = 0
    while made < poses and tries < poses * 50:
        tries += 1
        yaw = rng.uniform(-math.pi, math.pi)
        tilt = rng.uniform(-0.5, 0.5)
        roll = rng.uniform(-math.pi, math.pi)
        # board normal (its -z, the side with the pattern) looks horizontally at yaw, tilted
        normal = np.array([math.cos(yaw) * math.cos(tilt), math.sin(yaw) * math.cos(tilt), math.sin(tilt)])
        z = -normal
        helper = np.array([0.0, 0.0, 1.0]) if abs(z[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
        x = np.cross(helper, z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        r = np.column_stack([x, y, z]) @ Rotation.from_rotvec([0, 0, roll]).as_matrix()
        m = np.eye(4)
        m[:3, :3] = r
        mid = grid.mean(axis=0)
        m[:3, 3] = centre + rng.uniform(-1, 1, 3) * np.asarray(spread_m) - r @ mid
        pts = grid @ m[:3, :3].T + m[:3, 3]
        seen = {}
        for sid, s in rig.sensors.items():
            cam = s.camera
            assert isinstance(cam, PinholeCamera)
            cam_pos = np.asarray(s.world_from_sensor.translation_m)
            to_cam = cam_pos - pts.mean(axis=0)
            cosang = float(np.dot(to_cam, normal) / np.linalg.norm(to_cam))
            if cosang < math.cos(max_angle_rad):
                continue
            depth = transform_points(s.world_from_sensor.inverse(), pts)[:, 2]
            uv = world_to_pixels(cam, s.world_from_sensor, pts, tier="numpy")
            if not np.all(depth > 0.1) or not np.all(np.isfinite(uv)):
                continue
            if not (
                np.all(uv[:, 0] > 5)
                and np.all(uv[:, 0] < cam.width - 5)
                and np.all(uv[:, 1] > 5)
                and np.all(uv[:, 1] < cam.height - 5)
            ):
                continue
            seen[sid] = uv
        if len(seen) < 2:
            continue
        for sid, uv in seen.items():
            noisy = uv + rng.normal(0.0, noise_px, uv.shape)
            bad = rng.random(len(uv)) < outlier_fraction
            ang = rng.uniform(0, 2 * math.pi, bad.sum())
            mag = rng.uniform(*outlier_px, bad.sum())
            noisy[bad] += np.column_stack([np.cos(ang), np.sin(ang)]) * mag[:, None]
            cam = rig.sensors[sid].camera
            assert cam is not None
            dets[sid][made] = BoardDetection(f"{sid}#{made}", np.arange(len(uv)), noisy, (cam.width, cam.height))
        truth[made] = m
        made += 1
    return dets, truth
