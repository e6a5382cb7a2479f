"""Head pose geometry: Euler conventions and solvePnP round trips on the generic face."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from sensorfusion_mediapipe import GENERIC_FACE_M, euler_from_rotation, rotation_from_euler, solve_head_pose

K = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])


def project(R: np.ndarray, t: np.ndarray) -> np.ndarray:
    uv, _ = cv2.projectPoints(GENERIC_FACE_M, cv2.Rodrigues(R)[0], t, K, np.zeros(5))
    return uv.reshape(-1, 2)


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (0.4, -0.2, 0.1), (-0.6, 0.3, -0.25), (1.0, 0.5, 0.4)])
def test_euler_round_trip(angles: tuple[float, float, float]) -> None:
    R = rotation_from_euler(*angles)
    assert np.allclose(R @ R.T, np.eye(3)) and np.isclose(np.linalg.det(R), 1.0)
    assert np.allclose(euler_from_rotation(R), angles, atol=1e-12)


def test_sign_conventions() -> None:
    # yaw > 0: the face (-z of the head) turns toward the image's left (-x)
    face_dir = rotation_from_euler(0.3, 0, 0) @ np.array([0, 0, -1.0])
    assert face_dir[0] < 0
    # pitch > 0: the face tilts down (+y), the chin moves away from the camera
    assert (rotation_from_euler(0, 0.3, 0) @ np.array([0, 0, -1.0]))[1] > 0
    assert (rotation_from_euler(0, 0.3, 0) @ np.array([0, 1.0, 0]))[2] > 0
    # roll > 0: the subject's left (+x of the head) goes down in the image (+y)
    assert (rotation_from_euler(0, 0, 0.3) @ np.array([1.0, 0, 0]))[1] > 0


@pytest.mark.parametrize("angles", [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (-0.3, 0.25, 0.1), (0.2, -0.35, -0.2)])
def test_pose_recovered_from_exact_projections(angles: tuple[float, float, float]) -> None:
    R = rotation_from_euler(*angles)
    t = np.array([0.05, -0.03, 0.8])
    solved = solve_head_pose(project(R, t), K)
    assert solved is not None
    R_est, t_est, err = solved
    assert err < 1e-3
    assert np.allclose(euler_from_rotation(R_est), angles, atol=1e-4)
    assert np.allclose(t_est, t, atol=1e-4)


def test_noisy_projections_stay_close() -> None:
    rng = np.random.default_rng(3)
    R = rotation_from_euler(0.3, -0.1, 0.05)
    t = np.array([0.0, 0.0, 0.7])
    solved = solve_head_pose(project(R, t) + rng.normal(0, 0.5, (8, 2)), K)
    assert solved is not None
    assert np.abs(euler_from_rotation(solved[0]) - [0.3, -0.1, 0.05]).max() < 0.08


def test_bad_points_give_none() -> None:
    pts = project(np.eye(3), np.array([0, 0, 0.8]))
    pts[2] = np.nan
    assert solve_head_pose(pts, K) is None
    assert solve_head_pose(pts[:5], K) is None
