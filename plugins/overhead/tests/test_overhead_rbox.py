"""Rotated boxes: exact IoU (two constructions and OpenCV agree), NMS, RAPiD/LOAF conversions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sensorfusion_overhead import (
    normalize_angle_deg,
    polar_to_rbox,
    radial_rbox_from_points,
    rbox_corners,
    rbox_ends,
    rbox_iou,
    rbox_iou_reference,
    rbox_to_polar,
    rotated_nms,
)

from sensorfusion.testing import KernelCase, KernelTierContract


def _random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([rng.uniform(0, 60, (n, 2)), rng.uniform(0.5, 30, (n, 2)), rng.uniform(-180, 180, n)])


def test_iou_known_values() -> None:
    a = np.array([[0.0, 0.0, 2.0, 2.0, 0.0]])
    # half overlap of two axis-aligned squares: 2 / 6
    assert rbox_iou(a, np.array([[1.0, 0.0, 2.0, 2.0, 0.0]]))[0, 0] == pytest.approx(1 / 3, abs=1e-12)
    # a square and itself rotated by 45 degrees: the octagon (8 (sqrt 2 - 1)) over 8 - octagon
    octagon = 8.0 * (math.sqrt(2.0) - 1.0)
    assert rbox_iou(a, np.array([[0.0, 0.0, 2.0, 2.0, 45.0]]))[0, 0] == pytest.approx(
        octagon / (8.0 - octagon), abs=1e-12
    )
    # a 4x1 bar and the same bar turned 90 degrees: a 1x1 overlap, union 7
    bar = np.array([[5.0, 5.0, 4.0, 1.0, 30.0]])
    assert rbox_iou(bar, np.array([[5.0, 5.0, 4.0, 1.0, 120.0]]))[0, 0] == pytest.approx(1 / 7, abs=1e-12)
    # a box and its 180-degree turn (the head at the other end) cover the same rectangle
    assert rbox_iou(bar, np.array([[5.0, 5.0, 4.0, 1.0, -150.0]]))[0, 0] == pytest.approx(1.0, abs=1e-12)
    # disjoint, touching, contained
    assert rbox_iou(a, np.array([[10.0, 0.0, 2.0, 2.0, 10.0]]))[0, 0] == 0.0
    assert rbox_iou(a, np.array([[2.0, 0.0, 2.0, 2.0, 0.0]]))[0, 0] == pytest.approx(0.0, abs=1e-12)
    assert rbox_iou(a, np.array([[0.0, 0.0, 1.0, 1.0, 33.0]]))[0, 0] == pytest.approx(0.25, abs=1e-12)


def test_iou_matches_an_independent_construction_and_opencv() -> None:
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(4)
    a, b = _random_boxes(rng, 70), _random_boxes(rng, 60)
    fast, ref = rbox_iou(a, b), rbox_iou_reference(a, b)
    assert (fast > 0).mean() > 0.1  # the sample has overlaps
    assert np.abs(fast - ref).max() < 1e-10
    assert np.allclose(fast, rbox_iou(b, a).T, atol=1e-12)
    # OpenCV's rotatedRectangleIntersection (float32) as a peer
    worst = 0.0
    for i in range(0, 70, 3):
        for j in range(0, 60, 3):
            r1 = ((a[i, 0], a[i, 1]), (a[i, 2], a[i, 3]), a[i, 4])
            r2 = ((b[j, 0], b[j, 1]), (b[j, 2], b[j, 3]), b[j, 4])
            _, pts = cv2.rotatedRectangleIntersection(r1, r2)
            inter = 0.0 if pts is None else cv2.contourArea(cv2.convexHull(pts))
            union = a[i, 2] * a[i, 3] + b[j, 2] * b[j, 3] - inter
            worst = max(worst, abs(inter / union - fast[i, j]))
    assert worst < 1e-3


def test_iou_edge_cases() -> None:
    a = np.array([[0.0, 0.0, 2.0, 2.0, 0.0]])
    bad = np.array([[np.nan, 0.0, 2.0, 2.0, 0.0], [0.0, 0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 2.0, np.inf, 0.0]])
    assert rbox_iou(a, bad).tolist() == [[0.0, 0.0, 0.0]]
    assert rbox_iou(np.zeros((0, 5)), a).shape == (0, 1)
    assert rbox_iou(a, np.zeros((0, 5))).shape == (1, 0)
    with pytest.raises(ValueError, match="shape"):
        rbox_iou(np.zeros((2, 4)), a)


def test_rotated_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.array(
        [
            [10.0, 10.0, 4.0, 10.0, 30.0],
            [10.5, 10.2, 4.0, 10.0, 35.0],  # the same person, lower score
            [10.0, 10.0, 4.0, 10.0, 120.0],  # crossing it at 90 degrees: IoU 0.2, kept
            [40.0, 40.0, 4.0, 10.0, 0.0],
        ]
    )
    scores = np.array([0.8, 0.9, 0.7, 0.5])
    keep = rotated_nms(boxes, scores, 0.5)
    assert keep.tolist() == [1, 2, 3]
    # an axis-aligned NMS would have merged the crossing pair: their upright hulls overlap a lot
    assert rbox_iou(boxes[1:2], boxes[2:3])[0, 0] < 0.5
    assert rotated_nms(np.zeros((0, 5)), np.zeros(0), 0.5).tolist() == []


def test_corners_ends_and_angle_convention() -> None:
    upright = np.array([[5.0, 5.0, 2.0, 6.0, 0.0]])
    top, bottom = rbox_ends(upright)
    assert top[0] == pytest.approx([5.0, 2.0]) and bottom[0] == pytest.approx([5.0, 8.0])  # image y is down
    head_right = np.array([[5.0, 5.0, 2.0, 6.0, 90.0]])  # turned clockwise on the screen
    assert rbox_ends(head_right)[0][0] == pytest.approx([8.0, 5.0])
    c = rbox_corners(upright)[0]
    assert np.allclose(c, [[4.0, 2.0], [6.0, 2.0], [6.0, 8.0], [4.0, 8.0]])
    assert normalize_angle_deg(np.array([180.0, -180.0, 190.0, -190.0, 540.0])).tolist() == pytest.approx(
        [180.0, 180.0, -170.0, 170.0, 180.0]
    )


def test_loaf_polar_boxes_round_trip_and_point_outward() -> None:
    centre = (512.0, 512.0)
    polar = np.array([[300.0, 0.0, 40.0, 90.0], [150.0, 90.0, 30.0, 60.0], [420.0, 225.0, 35.0, 80.0]])
    boxes = polar_to_rbox(polar, centre)
    # LOAF: the centre at R along the angle (clockwise on the screen from +u), h along the radius
    assert boxes[0, :2] == pytest.approx([812.0, 512.0])
    assert boxes[1, :2] == pytest.approx([512.0, 662.0])
    top, bottom = rbox_ends(boxes)
    for k in range(3):
        assert np.hypot(*(top[k] - centre)) > np.hypot(*(bottom[k] - centre))  # the top (head) is outward
        assert np.hypot(*(top[k] - bottom[k])) == pytest.approx(polar[k, 3])
    assert rbox_to_polar(boxes, centre) == pytest.approx(polar)


def test_radial_box_from_points() -> None:
    centre = np.array([100.0, 100.0])
    # points along the +u radius from 20 to 60 px out, 6 px wide
    pts = np.array([[120.0, 97.0], [160.0, 103.0], [140.0, 100.0]])
    box = radial_rbox_from_points(pts, centre)
    assert box == pytest.approx([140.0, 100.0, 6.0, 40.0, 90.0])
    assert np.all(np.isnan(radial_rbox_from_points(np.full((3, 2), np.nan), centre)))


class TestRotatedIouTiers(KernelTierContract):
    """overhead.rbox_iou in every tier against its numpy reference (CUDA under the simulator, and as PTX)."""

    kernels = ("overhead.rbox_iou",)
    atol = 1e-10

    def cases(self) -> list[KernelCase]:
        rng = np.random.default_rng(7)
        a, b = _random_boxes(rng, 12), _random_boxes(rng, 9)
        a[3, 0] = np.nan
        b[2, 4] = np.inf
        b[5, 2] = 0.0
        b[6] = a[7]  # identical
        return [
            KernelCase("overhead.rbox_iou", (a, b), "random, with NaN, inf, zero side, identical"),
            KernelCase("overhead.rbox_iou", (np.zeros((0, 5)), b), "empty"),
            KernelCase("overhead.rbox_iou", (_random_boxes(rng, 40), _random_boxes(rng, 30)), "larger", simulate=False),
        ]
