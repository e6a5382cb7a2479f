"""Rotated person boxes: the RAPiD and LOAF formats, exact rotated IoU and rotated NMS.

Convention (RAPiD's): a box is ``[cx, cy, w, h, angle_deg]`` in pixels (``u`` right, ``v``
down, pixel centres at integers). ``angle_deg`` turns the box clockwise on the screen: its
``w`` axis points along ``(cos a, sin a)`` and its "top" (the end of the ``h`` axis where an
upright person's head is) along ``(sin a, -cos a)``. An upright person has ``a = 0``; a
person lying with the head to the right ``a = 90``. Angles are kept in ``(-180, 180]`` so the
head end is part of the box (RAPiD predicts a 360° range).

LOAF's radius-aligned boxes are polar, ``[R, angle_deg, w, h]`` about an image centre: the
box centre is ``centre + R (cos θ, sin θ)`` (θ clockwise on the screen from ``+u``) and
``h`` runs along the radius. As a RAPiD box that is ``a = θ + 90°`` with the top pointing
outward (:func:`polar_to_rbox`).

IoU is exact: the intersection of two rotated rectangles is the convex polygon left after
clipping one by the other's four edges (Sutherland–Hodgman), its area by the shoelace
formula. It is kernel ``overhead.rbox_iou`` of :mod:`sensorfusion.kernels`: the scalar
:func:`rbox_iou_item` (one pair) is compiled into the ``cuda`` tier (one thread per pair) and
called by the ``cpu`` tier, a single-threaded loop (a frame has a few dozen boxes: a parallel
region would cost more than it saves); the ``numpy`` reference, :func:`rbox_iou_reference`,
builds the polygon another way (vertices of each box inside the other plus the edge
crossings, ordered by angle).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from sensorfusion.kernels import ItemLoop, Output, Scratch, get_kernel, register, register_loop, scalar

__all__ = [
    "normalize_angle_deg",
    "polar_to_rbox",
    "radial_rbox_from_points",
    "rbox_axes",
    "rbox_corners",
    "rbox_ends",
    "rbox_iou",
    "rbox_iou_item",
    "rbox_iou_reference",
    "rbox_to_polar",
    "rotated_nms",
]


def normalize_angle_deg(angle_deg: np.ndarray) -> np.ndarray:
    """Angles in degrees wrapped to ``(-180, 180]``."""
    a = np.asarray(angle_deg, dtype=np.float64)
    out: np.ndarray = 180.0 - np.mod(180.0 - a, 360.0)
    return out


def _as_boxes(rboxes: np.ndarray) -> np.ndarray:
    b = np.asarray(rboxes, dtype=np.float64)
    if b.ndim == 1:
        b = b[None]
    if b.ndim != 2 or b.shape[1] != 5:
        raise ValueError(f"rotated boxes must have shape (N, 5) [cx, cy, w, h, angle_deg], got {np.shape(rboxes)}")
    return b


def rbox_axes(rboxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit ``w`` axis and unit "top" axis ``(N, 2)`` each."""
    b = _as_boxes(rboxes)
    a = np.radians(b[:, 4])
    with np.errstate(invalid="ignore"):  # an infinite angle has no axes: NaN
        c, s = np.cos(a), np.sin(a)
    return np.stack([c, s], axis=-1), np.stack([s, -c], axis=-1)


def rbox_corners(rboxes: np.ndarray) -> np.ndarray:
    """Corners ``(N, 4, 2)``: top-left, top-right, bottom-right, bottom-left (in the box's own frame)."""
    b = _as_boxes(rboxes)
    ex, ey = rbox_axes(b)
    hw, hh = 0.5 * b[:, 2:3], 0.5 * b[:, 3:4]
    c = b[:, :2]
    return np.stack(
        [c - hw * ex + hh * ey, c + hw * ex + hh * ey, c + hw * ex - hh * ey, c - hw * ex - hh * ey], axis=1
    )


def rbox_ends(rboxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Midpoints of the top and bottom edges ``(N, 2)`` each (head end, feet end for an upright box)."""
    b = _as_boxes(rboxes)
    _, ey = rbox_axes(b)
    hh = 0.5 * b[:, 3:4]
    return b[:, :2] + hh * ey, b[:, :2] - hh * ey


def polar_to_rbox(polar: np.ndarray, centre_px: tuple[float, float]) -> np.ndarray:
    """LOAF ``[R, angle_deg, w, h]`` ``(N, 4)`` about ``centre_px`` -> RAPiD ``(N, 5)``, top outward."""
    p = np.asarray(polar, dtype=np.float64).reshape(-1, 4)
    th = np.radians(p[:, 1])
    out = np.empty((p.shape[0], 5))
    out[:, 0] = centre_px[0] + p[:, 0] * np.cos(th)
    out[:, 1] = centre_px[1] + p[:, 0] * np.sin(th)
    out[:, 2] = p[:, 2]
    out[:, 3] = p[:, 3]
    out[:, 4] = normalize_angle_deg(p[:, 1] + 90.0)
    return out


def rbox_to_polar(rboxes: np.ndarray, centre_px: tuple[float, float]) -> np.ndarray:
    """RAPiD ``(N, 5)`` -> LOAF ``[R, angle_deg, w, h]`` ``(N, 4)`` (angle in ``[0, 360)``, as LOAF stores it).

    Exact for radius-aligned boxes; any other box keeps its centre and size, and the
    radius-aligned orientation replaces its own.
    """
    b = _as_boxes(rboxes)
    dx, dy = b[:, 0] - centre_px[0], b[:, 1] - centre_px[1]
    out = np.empty((b.shape[0], 4))
    out[:, 0] = np.hypot(dx, dy)
    out[:, 1] = np.mod(np.degrees(np.arctan2(dy, dx)), 360.0)
    out[:, 2] = b[:, 2]
    out[:, 3] = b[:, 3]
    return out


def radial_rbox_from_points(
    points_px: np.ndarray, centre_px: np.ndarray | tuple[float, float], *, azimuth_rad: float | None = None
) -> np.ndarray:
    """The radius-aligned box ``(5,)`` enclosing ``points_px`` ``(K, 2)``, top pointing away from ``centre_px``.

    The radial direction is ``azimuth_rad`` (clockwise on the screen from ``+u``) when given,
    else the direction from ``centre_px`` to the points' mean. NaN rows are ignored; all-NaN
    input gives a NaN box.
    """
    pts = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if not len(pts):
        return np.full(5, np.nan)
    c = np.asarray(centre_px, dtype=np.float64)
    if azimuth_rad is None:
        m = pts.mean(axis=0) - c
        azimuth_rad = math.atan2(float(m[1]), float(m[0])) if float(np.hypot(*m)) > 1e-9 else 0.0
    er = np.array([math.cos(azimuth_rad), math.sin(azimuth_rad)])
    et = np.array([-er[1], er[0]])
    d = pts - c
    r, t = d @ er, d @ et
    r0, r1, t0, t1 = r.min(), r.max(), t.min(), t.max()
    centre = c + 0.5 * (r0 + r1) * er + 0.5 * (t0 + t1) * et
    return np.array(
        [centre[0], centre[1], t1 - t0, r1 - r0, float(normalize_angle_deg(np.degrees(azimuth_rad) + 90.0))]
    )


# --- exact rotated IoU ------------------------------------------------------------------------


@scalar
def _corners_into(cx: float, cy: float, w: float, h: float, a_deg: float, out: Any) -> None:  # pragma: no cover
    """The 4 corners of a box into ``out`` (4, 2): top-left, top-right, bottom-right, bottom-left,
    a positive shoelace area in (u, v) for positive sides (the clipping's "inside" is to the left)."""
    a = math.radians(a_deg)
    c = math.cos(a)
    s = math.sin(a)
    wx = 0.5 * w * c
    wy = 0.5 * w * s
    hx = 0.5 * h * s
    hy = -0.5 * h * c
    out[0, 0] = cx - wx + hx
    out[0, 1] = cy - wy + hy
    out[1, 0] = cx + wx + hx
    out[1, 1] = cy + wy + hy
    out[2, 0] = cx + wx - hx
    out[2, 1] = cy + wy - hy
    out[3, 0] = cx - wx - hx
    out[3, 1] = cy - wy - hy


@scalar
def _clip_edge(src: Any, n: int, dst: Any, ax: float, ay: float, bx: float, by: float) -> int:  # pragma: no cover
    """Sutherland–Hodgman: the ``n`` vertices of ``src`` clipped by the half-plane left of a->b, into ``dst``."""
    m = 0
    for k in range(n):
        kn = k + 1
        if kn == n:
            kn = 0
        cx = src[k, 0]
        cy = src[k, 1]
        dx = src[kn, 0]
        dy = src[kn, 1]
        sc = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)  # >= 0: inside (left of the edge)
        sd = (bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
        if sc >= 0.0:
            dst[m, 0] = cx
            dst[m, 1] = cy
            m += 1
        if (sc >= 0.0) != (sd >= 0.0):
            t = sc / (sc - sd)
            dst[m, 0] = cx + t * (dx - cx)
            dst[m, 1] = cy + t * (dy - cy)
            m += 1
    return m


@scalar
def rbox_iou_item(
    ax: float, ay: float, aw: float, ah: float, aa: float,
    bx: float, by: float, bw: float, bh: float, ba: float,
    poly_a: Any, poly_b: Any, buf_a: Any, buf_b: Any,
) -> float:  # pragma: no cover - compiled  # fmt: skip
    """Exact IoU of two rotated boxes (0 for a non-finite value or a side that is not positive).

    Scratch: ``poly_a``, ``poly_b`` (4, 2); ``buf_a``, ``buf_b`` (16, 2)."""
    if not (math.isfinite(ax) and math.isfinite(ay) and math.isfinite(aw) and math.isfinite(ah) and math.isfinite(aa)):
        return 0.0
    if not (math.isfinite(bx) and math.isfinite(by) and math.isfinite(bw) and math.isfinite(bh) and math.isfinite(ba)):
        return 0.0
    if not (aw > 0.0 and ah > 0.0 and bw > 0.0 and bh > 0.0):
        return 0.0
    # far apart (circumscribed circles): no overlap
    dx = ax - bx
    dy = ay - by
    ra = 0.5 * math.sqrt(aw * aw + ah * ah)
    rb = 0.5 * math.sqrt(bw * bw + bh * bh)
    if dx * dx + dy * dy >= (ra + rb) * (ra + rb):
        return 0.0
    _corners_into(ax, ay, aw, ah, aa, poly_a)
    _corners_into(bx, by, bw, bh, ba, poly_b)
    for k in range(4):
        buf_a[k, 0] = poly_a[k, 0]
        buf_a[k, 1] = poly_a[k, 1]
    n = 4
    for e in range(4):
        en = e + 1
        if en == 4:
            en = 0
        if e % 2 == 0:
            n = _clip_edge(buf_a, n, buf_b, poly_b[e, 0], poly_b[e, 1], poly_b[en, 0], poly_b[en, 1])
        else:
            n = _clip_edge(buf_b, n, buf_a, poly_b[e, 0], poly_b[e, 1], poly_b[en, 0], poly_b[en, 1])
        if n < 3:
            return 0.0
    area = 0.0
    for k in range(n):
        kn = k + 1
        if kn == n:
            kn = 0
        area += buf_a[k, 0] * buf_a[kn, 1] - buf_a[kn, 0] * buf_a[k, 1]
    inter = 0.5 * abs(area)
    union = aw * ah + bw * bh - inter
    if not (union > 0.0):
        return 0.0
    v = inter / union
    if v < 0.0:
        return 0.0
    if v > 1.0:
        return 1.0
    return v


@numba.njit(cache=True, nogil=True)
def _iou_serial(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The ``cpu`` tier: one thread (a frame has a few dozen boxes; a parallel region would cost more)."""
    out = np.zeros((a.shape[0], b.shape[0]))
    poly_a = np.empty((4, 2))
    poly_b = np.empty((4, 2))
    buf_a = np.empty((16, 2))
    buf_b = np.empty((16, 2))
    for i in range(a.shape[0]):
        for j in range(b.shape[0]):
            out[i, j] = rbox_iou_item(a[i, 0], a[i, 1], a[i, 2], a[i, 3], a[i, 4], b[j, 0], b[j, 1], b[j, 2], b[j, 3],
                                      b[j, 4], poly_a, poly_b, buf_a, buf_b)  # fmt: skip
    return out


def _example() -> tuple[np.ndarray, np.ndarray]:
    a = np.array([[10.0, 10.0, 4.0, 10.0, 30.0], [40.0, 40.0, 5.0, 12.0, -60.0]])
    return a, a + np.array([1.0, 0.5, 0.0, 1.0, 10.0])


def _inside(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """Points ``(K, 2)`` inside (or on) the convex quadrilateral ``corners`` ``(4, 2)`` (either orientation)."""
    sides = []
    for k in range(4):
        a, b = corners[k], corners[(k + 1) % 4]
        sides.append((b[0] - a[0]) * (points[:, 1] - a[1]) - (b[1] - a[1]) * (points[:, 0] - a[0]))
    s = np.stack(sides, axis=1)
    tol = 1e-9 * (1.0 + np.abs(corners).max())
    out: np.ndarray = np.all(s >= -tol, axis=1) | np.all(s <= tol, axis=1)
    return out


def _segment_crossings(p: np.ndarray, q: np.ndarray) -> list[np.ndarray]:
    out = []
    for i in range(4):
        a, b = p[i], p[(i + 1) % 4]
        for j in range(4):
            c, d = q[j], q[(j + 1) % 4]
            r, s = b - a, d - c
            den = r[0] * s[1] - r[1] * s[0]
            if abs(den) < 1e-15:
                continue
            t = ((c[0] - a[0]) * s[1] - (c[1] - a[1]) * s[0]) / den
            u = ((c[0] - a[0]) * r[1] - (c[1] - a[1]) * r[0]) / den
            if -1e-12 <= t <= 1 + 1e-12 and -1e-12 <= u <= 1 + 1e-12:
                out.append(a + t * r)
    return out


def rbox_iou_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Slow numpy IoU by a different construction than :func:`rbox_iou` (for tests)."""
    aa, bb = _as_boxes(a), _as_boxes(b)
    out = np.zeros((len(aa), len(bb)))
    ca, cb = rbox_corners(aa), rbox_corners(bb)
    for i in range(len(aa)):
        for j in range(len(bb)):
            if not (np.all(np.isfinite(aa[i])) and np.all(np.isfinite(bb[j]))):
                continue
            if min(aa[i, 2], aa[i, 3], bb[j, 2], bb[j, 3]) <= 0:
                continue
            pts = [*ca[i][_inside(ca[i], cb[j])], *cb[j][_inside(cb[j], ca[i])], *_segment_crossings(ca[i], cb[j])]
            if len(pts) < 3:
                continue
            poly = np.array(pts)
            m = poly.mean(axis=0)
            poly = poly[np.argsort(np.arctan2(poly[:, 1] - m[1], poly[:, 0] - m[0]))]
            x, y = poly[:, 0], poly[:, 1]
            inter = 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y)))
            union = aa[i, 2] * aa[i, 3] + bb[j, 2] * bb[j, 3] - inter
            out[i, j] = min(max(inter / union, 0.0), 1.0) if union > 0 else 0.0
    return out


def rbox_iou(a: np.ndarray, b: np.ndarray, *, tier: str = "cpu") -> np.ndarray:
    """Exact IoU ``(N, M)`` of rotated boxes ``a`` ``(N, 5)`` and ``b`` ``(M, 5)``.

    Boxes with a non-finite value or a non-positive side have IoU 0 with everything. ``tier``:
    of kernel ``overhead.rbox_iou``: ``numpy`` (the reference), ``cpu`` (the default: one
    thread, a frame's boxes are few), ``cuda`` or ``auto``.
    """
    aa = np.ascontiguousarray(_as_boxes(a)) if np.size(a) else np.zeros((0, 5))
    bb = np.ascontiguousarray(_as_boxes(b)) if np.size(b) else np.zeros((0, 5))
    if not len(aa) or not len(bb):
        return np.zeros((len(aa), len(bb)))
    out: np.ndarray = get_kernel("overhead.rbox_iou", tier)(aa, bb)
    return out


def rotated_nms(rboxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy NMS with exact rotated IoU: indices kept, best score first (a box overlapping a
    kept one by more than ``iou_threshold`` is suppressed; ties keep the earlier box)."""
    b = _as_boxes(rboxes) if np.size(rboxes) else np.zeros((0, 5))
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(b) != len(s):
        raise ValueError(f"{len(b)} boxes but {len(s)} scores")
    order = np.argsort(-s, kind="stable")
    iou = rbox_iou(b, b)
    keep: list[int] = []
    suppressed = np.zeros(len(b), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


register_loop(
    "overhead.rbox_iou",
    ItemLoop(
        scalar=rbox_iou_item,
        params=("a", "b"),
        items=("a.shape[0]", "b.shape[0]"),
        call="a[i, 0], a[i, 1], a[i, 2], a[i, 3], a[i, 4], b[j, 0], b[j, 1], b[j, 2], b[j, 3], b[j, 4], "
        "poly_a, poly_b, buf_a, buf_b",
        store=("out[i, j]",),
        allocate=(Output("out", "(n0, n1)"),),
        scratch=(Scratch("poly_a", "(4, 2)"), Scratch("poly_b", "(4, 2)"), Scratch("buf_a", "(16, 2)"),
                 Scratch("buf_b", "(16, 2)")),
    ),
    numpy=rbox_iou_reference,
    example=_example,
    tiers=("cuda",),
)  # fmt: skip
register("overhead.rbox_iou", "cpu", _iou_serial, example=_example)
