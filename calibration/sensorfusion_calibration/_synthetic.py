"""Synthetic calibration problems with known answers (tests, benchmarks, examples)."""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from sensorfusion.geometry import transform_points, world_to_pixels
from sensorfusion.schema import PinholeCamera, RigCalibration

from ._boards import Board, BoardDetection

__all__ = ["board_texture", "render_board_image", "synthetic_board_views"]


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


def board_texture(board: Board, *, px_per_m: float, margin_m: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The printed board as a gray image (OpenCV's drawing for ChArUco, squares for a checkerboard)
    and ``board_from_texture`` (3x3: texture pixel ``(u, v, 1)`` -> board-frame ``(x, y, 1)`` in metres)."""
    if board.kind == "charuco":
        w_m, h_m, origin_m = board.cols * board.square_m, board.rows * board.square_m, 0.0
    else:  # a checkerboard has one more square than inner corners; the first inner corner is the origin
        w_m, h_m, origin_m = (board.cols + 1) * board.square_m, (board.rows + 1) * board.square_m, board.square_m
    margin = board.square_m / 2 if margin_m is None else margin_m
    mpx = round(margin * px_per_m)
    size = (round(w_m * px_per_m) + 2 * mpx, round(h_m * px_per_m) + 2 * mpx)
    if board.kind == "charuco":
        tex = np.asarray(board._cv_board().generateImage(size, marginSize=mpx))
    else:
        tex = np.full((size[1], size[0]), 255, np.uint8)
        step = board.square_m * px_per_m
        for i in range(board.cols + 1):
            for j in range(board.rows + 1):
                if (i + j) % 2 == 0:
                    x0, y0 = mpx + round(i * step), mpx + round(j * step)
                    tex[y0 : mpx + round((j + 1) * step), x0 : mpx + round((i + 1) * step)] = 0
    # pixel centres: texture pixel u covers [u - 0.5, u + 0.5]; the board's edge is at u = mpx - 0.5
    k = 1.0 / px_per_m
    board_from_texture = np.array([[k, 0, (0.5 - mpx) * k - origin_m], [0, k, (0.5 - mpx) * k - origin_m], [0, 0, 1]])
    return tex, board_from_texture


def render_board_image(
    board: Board,
    camera: PinholeCamera,
    camera_from_board: np.ndarray,
    *,
    inverted: bool = False,
    background: int = 160,
    blur_px: float = 0.6,
    noise: float = 2.0,
    seed: int = 0,
) -> np.ndarray:
    """A gray image of the board seen by ``camera`` at ``camera_from_board`` (4x4), rendered by a
    homography from a texture at 3x the image's resolution, then area-averaged (anti-aliased),
    distorted by the camera's Brown-Conrady terms, blurred and given Gaussian noise. ``inverted``
    prints it white on black (as many ChArUco boards are). For detection tests with known corners."""
    ss = 3  # supersampling
    r, t = camera_from_board[:3, :3], camera_from_board[:3, 3]
    k_ss = camera.K.copy()
    k_ss[:2] *= ss
    k_ss[0, 2] += (ss - 1) / 2.0  # pixel centres of the supersampled grid
    k_ss[1, 2] += (ss - 1) / 2.0
    depth = float(np.median(t[2]))
    px_per_m = max(200.0, 1.5 * ss * camera.fx / max(depth, 1e-3))
    tex, board_from_tex = board_texture(board, px_per_m=px_per_m)
    if inverted:
        tex = 255 - tex
    h_img = k_ss @ np.column_stack([r[:, 0], r[:, 1], t]) @ board_from_tex
    w, h = camera.width, camera.height
    big = cv2.warpPerspective(tex, h_img, (w * ss, h * ss), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=background)  # fmt: skip
    img: np.ndarray = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    if np.any(camera.dist_coeffs != 0):  # each distorted pixel samples its undistorted position
        u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        pts = np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2)
        und = cv2.undistortPoints(pts, camera.K, camera.dist_coeffs, None, None, camera.K)
        maps = und.reshape(h, w, 2).astype(np.float32)
        img = cv2.remap(img, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderValue=float(background))
    if blur_px > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur_px)
    rng = np.random.default_rng(seed)
    img = img + rng.normal(0.0, noise, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)
