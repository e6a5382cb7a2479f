"""Robust depth at 2D keypoints: kernel ``rgbd.sample_depth`` in three tiers with one signature.

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

import numba
import numpy as np
from numba import cuda

from sensorfusion._kernels import kernel

__all__ = ["MAX_HALF_WINDOW", "sample_depth_cpu", "sample_depth_cuda", "sample_depth_numpy"]

MAX_HALF_WINDOW = 5  # window up to 11 x 11 (the CUDA tier's local buffer)


@kernel("rgbd.sample_depth", "numpy")
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


@numba.njit(cache=True, inline="always")
def _sample_one(
    depth_m: np.ndarray, u: float, v: float, hw: int, min_valid: int, fg: float, buf: np.ndarray
) -> tuple[float, int]:  # pragma: no cover
    h, w = depth_m.shape
    if not (math.isfinite(u) and math.isfinite(v)):
        return math.nan, 0
    x = math.floor(u + 0.5)
    y = math.floor(v + 0.5)
    n = 0
    for yy in range(max(y - hw, 0), min(y + hw + 1, h)):
        for xx in range(max(x - hw, 0), min(x + hw + 1, w)):
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


@kernel("rgbd.sample_depth", "cpu")
@numba.njit(parallel=True, cache=True)
def sample_depth_cpu(
    depth_m: np.ndarray,
    uv: np.ndarray,
    half_window: int,
    min_valid: int,
    foreground_m: float,
    out_z: np.ndarray,
    out_n: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Numba CPU tier: points in parallel."""
    side = 2 * half_window + 1
    for i in numba.prange(uv.shape[0]):
        buf = np.empty(side * side, dtype=np.float64)
        z, n = _sample_one(depth_m, uv[i, 0], uv[i, 1], half_window, min_valid, foreground_m, buf)
        out_z[i] = z
        out_n[i] = n


@cuda.jit(cache=False)  # type: ignore[untyped-decorator,no-untyped-call,unused-ignore]
def _sample_depth_cuda_kernel(depth_m, uv, half_window, min_valid, foreground_m, out_z, out_n):  # type: ignore[no-untyped-def]  # pragma: no cover
    i = cuda.grid(1)  # type: ignore[attr-defined]
    if i >= uv.shape[0]:
        return
    buf = cuda.local.array(121, numba.float64)  # type: ignore[attr-defined]
    h, w = depth_m.shape
    u, v = uv[i, 0], uv[i, 1]
    out_z[i] = math.nan
    out_n[i] = 0
    if not (math.isfinite(u) and math.isfinite(v)):
        return
    x = math.floor(u + 0.5)
    y = math.floor(v + 0.5)
    n = 0
    for yy in range(max(y - half_window, 0), min(y + half_window + 1, h)):
        for xx in range(max(x - half_window, 0), min(x + half_window + 1, w)):
            d = depth_m[yy, xx]
            if math.isfinite(d) and d > 0:
                k = n
                while k > 0 and buf[k - 1] > d:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = d
                n += 1
    out_n[i] = n
    if n < min_valid:
        return
    q = buf[(n - 1) // 4]
    lo = 0
    while lo < n and buf[lo] < q - foreground_m:
        lo += 1
    hi = n
    while hi > lo and buf[hi - 1] > q + foreground_m:
        hi -= 1
    m = hi - lo
    out_n[i] = m
    if m < min_valid:
        return
    if m % 2 == 1:
        out_z[i] = buf[lo + m // 2]
    else:
        out_z[i] = 0.5 * (buf[lo + m // 2 - 1] + buf[lo + m // 2])


@kernel("rgbd.sample_depth", "cuda")
def sample_depth_cuda(
    depth_m: np.ndarray,
    uv: np.ndarray,
    half_window: int,
    min_valid: int,
    foreground_m: float,
    out_z: np.ndarray,
    out_n: np.ndarray,
) -> None:
    """Numba CUDA tier: one thread per point (window at most 11 x 11)."""
    if half_window > MAX_HALF_WINDOW:
        raise ValueError(f"half_window must be <= {MAX_HALF_WINDOW} for the CUDA tier, got {half_window}")
    n = uv.shape[0]
    if n == 0:
        return
    d_z = cuda.to_device(out_z)
    d_n = cuda.to_device(out_n)
    threads = 64
    _sample_depth_cuda_kernel[(n + threads - 1) // threads, threads](
        cuda.to_device(np.ascontiguousarray(depth_m)), cuda.to_device(np.ascontiguousarray(uv)),
        half_window, min_valid, foreground_m, d_z, d_n,
    )  # fmt: skip
    d_z.copy_to_host(out_z)
    d_n.copy_to_host(out_n)
