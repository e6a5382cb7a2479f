"""Robust depth at 2D keypoints: kernel ``rgbd.sample_depth`` in three tiers with one signature.

The per-point code is one scalar kernel (:func:`_sample_one`); its cpu and cuda tiers are
generated from it by :func:`sensorfusion.kernels.register_loop`.

``sample_depth(depth_m, uv, half_window, min_valid, foreground_m, out_z, out_n)``:

* ``depth_m`` ``(H, W)`` float32 metres, holes 0 (or NaN);
* ``uv`` ``(N, 2)`` float64 pixels (x, y), NaN = no keypoint;
* writes ``out_z`` ``(N,)`` float64 metres (NaN when undefined) and ``out_n`` ``(N,)`` int32
  (pixels the value is the median of).

Per point: the ``(2h+1)²`` window around the nearest pixel (clipped to the image) gives
its valid (> 0, finite) depths; fewer than ``min_valid``: NaN. The **foreground test**:
the lower quartile ``q`` of those depths (sorted, index ``(n-1)//4``) marks the nearest
surface that covers at least a quarter of the window; only depths within ``foreground_m``
of ``q`` are kept, so a joint at a silhouette edge takes the body, not the wall behind it,
and a few flying pixels in front do not win. The result is the median of the kept depths
(mean of the middle two for an even count), NaN if fewer than ``min_valid`` are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sensorfusion.kernels import ItemLoop, Scratch, register_loop, scalar

__all__ = ["MAX_HALF_WINDOW", "sample_depth_cpu", "sample_depth_cuda", "sample_depth_numpy"]

MAX_HALF_WINDOW = 5  # window up to 11 x 11 (the CUDA tier's local buffer)


def sample_depth_numpy(
    depth_m: np.ndarray,
    uv: np.ndarray,
    half_window: int,
    min_valid: int,
    foreground_m: float,
    out_z: np.ndarray,
    out_n: np.ndarray,
) -> None:
    """Reference tier: a plain loop over the points."""
    h, w = depth_m.shape
    for i in range(uv.shape[0]):
        out_z[i], out_n[i] = np.nan, 0
        u, v = uv[i]
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        x, y = int(np.floor(u + 0.5)), int(np.floor(v + 0.5))
        win = depth_m[
            max(y - half_window, 0) : min(y + half_window + 1, h), max(x - half_window, 0) : min(x + half_window + 1, w)
        ]
        vals = np.sort(win[np.isfinite(win) & (win > 0)].astype(np.float64))
        out_n[i] = vals.size
        if vals.size < min_valid:
            continue
        q = vals[(vals.size - 1) // 4]
        kept = vals[np.abs(vals - q) <= foreground_m]
        out_n[i] = kept.size
        if kept.size >= min_valid:
            out_z[i] = float(np.median(kept))


@scalar(inline=True)
def _sample_one(
    depth_m: np.ndarray, u: float, v: float, hw: int, min_valid: int, fg: float, buf: np.ndarray
) -> tuple[float, int]:  # pragma: no cover - compiled
    """The robust depth at one pixel and how many pixels it is the median of (scalar kernel)."""
    h, w = depth_m.shape
    if not (math.isfinite(u) and math.isfinite(v)):
        return math.nan, 0
    x = int(math.floor(u + 0.5))  # noqa: RUF046 - math.floor gives a float on the CUDA target
    y = int(math.floor(v + 0.5))  # noqa: RUF046
    y0 = y - hw if y - hw > 0 else 0
    y1 = y + hw + 1 if y + hw + 1 < h else h
    x0 = x - hw if x - hw > 0 else 0
    x1 = x + hw + 1 if x + hw + 1 < w else w
    n = 0
    for yy in range(y0, y1):
        for xx in range(x0, x1):
            d = depth_m[yy, xx]
            if math.isfinite(d) and d > 0:
                # insertion sort into buf[:n]
                k = n
                while k > 0 and buf[k - 1] > d:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = d
                n += 1
    if n < min_valid:
        return math.nan, n
    q = buf[(n - 1) // 4]
    lo = 0
    while lo < n and buf[lo] < q - fg:
        lo += 1
    hi = n
    while hi > lo and buf[hi - 1] > q + fg:
        hi -= 1
    m = hi - lo
    if m < min_valid:
        return math.nan, m
    if m % 2 == 1:
        return float(buf[lo + m // 2]), m
    return 0.5 * (float(buf[lo + m // 2 - 1]) + float(buf[lo + m // 2])), m


def _example() -> tuple[object, ...]:
    depth = np.ones((4, 4), np.float32)
    return depth, np.array([[1.0, 2.0], [np.nan, 0.0]]), 1, 2, 0.1, np.empty(2), np.empty(2, np.int32)


_LOOP = register_loop(
    "rgbd.sample_depth",
    ItemLoop(
        scalar=_sample_one,
        params=("depth_m", "uv", "half_window", "min_valid", "foreground_m", "out_z", "out_n"),
        items="uv.shape[0]",
        call="depth_m, uv[i, 0], uv[i, 1], half_window, min_valid, foreground_m, buf",
        store=("out_z[i]", "out_n[i]"),
        scratch=(
            Scratch(
                "buf", "(2 * half_window + 1) ** 2", cuda_shape=(2 * MAX_HALF_WINDOW + 1) ** 2, limit="window cells"
            ),
        ),
        outputs=("out_z", "out_n"),
    ),
    numpy=sample_depth_numpy,
    example=_example,
)


sample_depth_cpu: Callable[..., None] = _LOOP.cpu
"""Numba CPU tier (points in parallel), generated from the scalar kernel: the numpy tier's signature."""
sample_depth_cuda: Callable[..., None] = _LOOP.cuda
"""Numba CUDA tier (one thread per point, window at most 11 x 11), generated from the scalar kernel."""
