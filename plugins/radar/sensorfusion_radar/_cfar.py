"""2D CFAR on a range–Doppler power map: cell averaging (CA) and ordered statistic (OS).

The training region of a cell under test (CUT) at ``(r, d)`` is the rectangle
``|dr| <= guard_r + train_r, |dd| <= guard_d + train_d`` minus the guard rectangle
``|dr| <= guard_r, |dd| <= guard_d`` (which holds the CUT). The Doppler axis is circular
(it wraps); cells beyond the first or last range bin do not exist and are left out, as are
non-finite cells. The kernels return the noise estimate per cell:

* ``radar.cfar_ca``: the mean of the valid training cells;
* ``radar.cfar_os``: the ``floor(rank * (n - 1))``-th smallest of the ``n`` valid training cells.

NaN when a cell has no valid training cell. A cell is detected when its power is finite and
``power > scale * noise`` (see :func:`cfar_detect`). Tiers: ``numpy`` (reference, sliding
windows), ``cpu`` (Numba, parallel over range bins), ``cuda`` (one thread per cell).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numba import njit, prange

from sensorfusion._kernels import get_kernel, kernel

__all__ = ["CfarMethod", "MAX_OS_TRAINING_CELLS", "cfar_detect", "cfar_noise"]

CfarMethod = Literal["ca", "os"]
MAX_OS_TRAINING_CELLS = 512  # bound of the per-thread buffer of the CUDA OS-CFAR


def _windows(power: np.ndarray, gr: int, gd: int, tr: int, td: int) -> tuple[np.ndarray, np.ndarray]:
    """Training cells of every CUT as ``(R, D, K)`` values with NaN for invalid cells."""
    hr, hd = gr + tr, gd + td
    x = np.asarray(power, dtype=np.float64)
    x = np.where(np.isfinite(x), x, np.nan)
    padded = np.pad(x, ((hr, hr), (0, 0)), constant_values=np.nan)
    padded = np.concatenate([padded[:, x.shape[1] - hd :], padded, padded[:, :hd]], axis=1) if hd else padded
    win = np.lib.stride_tricks.sliding_window_view(padded, (2 * hr + 1, 2 * hd + 1))  # (R, D, wr, wd)
    mask = np.ones((2 * hr + 1, 2 * hd + 1), dtype=bool)
    mask[hr - gr : hr + gr + 1, hd - gd : hd + gd + 1] = False
    return win[:, :, mask], mask


@kernel("radar.cfar_ca", "numpy")
def _ca_numpy(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    cells, _ = _windows(power, guard_r, guard_d, train_r, train_d)
    n = np.sum(np.isfinite(cells), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(n > 0, np.nansum(cells, axis=2) / np.maximum(n, 1), np.nan)
    return out


@kernel("radar.cfar_os", "numpy")
def _os_numpy(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    cells, _ = _windows(power, guard_r, guard_d, train_r, train_d)
    n = np.sum(np.isfinite(cells), axis=2)
    srt = np.sort(cells, axis=2)  # NaN sort last
    k = np.floor(rank * np.maximum(n - 1, 0)).astype(np.int64)
    out: np.ndarray = np.take_along_axis(srt, k[:, :, None], axis=2)[:, :, 0]
    return np.where(n > 0, out, np.nan)


@njit(parallel=True, cache=True)
def _ca_cpu_impl(
    x: np.ndarray, gr: int, gd: int, tr: int, td: int, out: np.ndarray
) -> None:  # pragma: no cover - jitted
    # separable box sums: Doppler (circular) first, then range; the training sum is the outer
    # box minus the guard box. Non-finite cells count as absent (value 0, count 0).
    n_r, n_d = x.shape
    hr, hd = gr + tr, gd + td
    v = np.empty((n_r, n_d))
    c = np.empty((n_r, n_d))
    for r in prange(n_r):
        for d in range(n_d):
            e = x[r, d]
            if np.isfinite(e):
                v[r, d] = e
                c[r, d] = 1.0
            else:
                v[r, d] = 0.0
                c[r, d] = 0.0
    ho = np.empty((n_r, n_d))  # Doppler sums over |j| <= hd
    hg = np.empty((n_r, n_d))  # over |j| <= gd
    co = np.empty((n_r, n_d))
    cg = np.empty((n_r, n_d))
    for r in prange(n_r):
        for d in range(n_d):
            so = 0.0
            sg = 0.0
            no = 0.0
            ng = 0.0
            for j in range(-hd, hd + 1):
                dd = (d + j) % n_d
                so += v[r, dd]
                no += c[r, dd]
                if -gd <= j <= gd:
                    sg += v[r, dd]
                    ng += c[r, dd]
            ho[r, d] = so
            hg[r, d] = sg
            co[r, d] = no
            cg[r, d] = ng
    for r in prange(n_r):
        for d in range(n_d):
            so = 0.0
            sg = 0.0
            no = 0.0
            ng = 0.0
            for i in range(max(r - hr, 0), min(r + hr, n_r - 1) + 1):
                so += ho[i, d]
                no += co[i, d]
                if -gr <= i - r <= gr:
                    sg += hg[i, d]
                    ng += cg[i, d]
            n = no - ng
            out[r, d] = (so - sg) / n if n > 0.5 else np.nan


@njit(parallel=True, cache=True)
def _os_cpu_impl(
    x: np.ndarray, gr: int, gd: int, tr: int, td: int, rank: float, out: np.ndarray
) -> None:  # pragma: no cover - jitted
    n_r, n_d = x.shape
    hr, hd = gr + tr, gd + td
    size = (2 * hr + 1) * (2 * hd + 1)
    for r in prange(n_r):
        buf = np.empty(size)
        for d in range(n_d):
            n = 0
            for i in range(-hr, hr + 1):
                rr = r + i
                if rr < 0 or rr >= n_r:
                    continue
                for j in range(-hd, hd + 1):
                    if abs(i) <= gr and abs(j) <= gd:
                        continue
                    v = x[rr, (d + j) % n_d]
                    if np.isfinite(v):
                        buf[n] = v
                        n += 1
            if n == 0:
                out[r, d] = np.nan
            else:
                k = int(np.floor(rank * (n - 1)))
                out[r, d] = np.partition(buf[:n], k)[k]


@kernel("radar.cfar_ca", "cpu")
def _ca_cpu(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    if x.size:
        _ca_cpu_impl(x, int(guard_r), int(guard_d), int(train_r), int(train_d), out)
    return out


@kernel("radar.cfar_os", "cpu")
def _os_cpu(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    if x.size:
        _os_cpu_impl(x, int(guard_r), int(guard_d), int(train_r), int(train_d), float(rank), out)
    return out


@kernel("radar.cfar_ca", "cuda")
def _ca_cuda(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    from . import _cuda

    return _cuda.cfar_ca(power, guard_r, guard_d, train_r, train_d)


@kernel("radar.cfar_os", "cuda")
def _os_cuda(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    from . import _cuda

    return _cuda.cfar_os(power, guard_r, guard_d, train_r, train_d, rank)


def cfar_noise(
    power: np.ndarray,
    *,
    method: CfarMethod = "ca",
    guard: tuple[int, int] = (2, 2),
    train: tuple[int, int] = (4, 4),
    rank: float = 0.75,
    tier: str = "auto",
) -> np.ndarray:
    """Noise estimate ``(R, D)`` of a range–Doppler power map (see the module docstring)."""
    p = np.asarray(power)
    if p.ndim != 2:
        raise ValueError(f"power must be (range, doppler), got shape {p.shape}")
    gr, gd = (int(v) for v in guard)
    tr, td = (int(v) for v in train)
    if min(gr, gd, tr, td) < 0 or tr + td == 0:
        raise ValueError(f"guard and train must be >= 0 with some training cells, got guard={guard}, train={train}")
    if 2 * (gd + td) + 1 > max(p.shape[1], 1):
        raise ValueError(f"the Doppler window ({2 * (gd + td) + 1} cells) exceeds the {p.shape[1]} Doppler bins")
    args: tuple[Any, ...] = (p, gr, gd, tr, td)
    if method == "ca":
        out: np.ndarray = get_kernel("radar.cfar_ca", tier)(*args)
    elif method == "os":
        if not 0.0 <= rank <= 1.0:
            raise ValueError(f"rank must be in [0, 1], got {rank}")
        out = get_kernel("radar.cfar_os", tier)(*args, float(rank))
    else:
        raise ValueError(f"unknown CFAR method {method!r}; valid choices: ca, os")
    return out


def cfar_detect(power: np.ndarray, noise: np.ndarray, threshold_db: float) -> np.ndarray:
    """Cells whose (finite) power exceeds ``10**(threshold_db/10)`` times the noise estimate."""
    p = np.asarray(power, dtype=np.float64)
    scale = 10.0 ** (threshold_db / 10.0)
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.isfinite(p) & np.isfinite(noise) & (p > scale * noise)
    return out
