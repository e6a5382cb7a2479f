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
windows), ``cpu`` (Numba; CA: separable sliding box sums, O(1) per cell, on the calling
thread below :data:`PARALLEL_MIN_CELLS` — one frame's map is less work than a parallel region
costs — and in parallel over rows and column blocks above; OS: an in-place selection per
cell (no sort, no allocation), range-bin blocks on the plugin's pool, see ``_pool``),
``cuda`` (one thread per cell, generated from the scalar kernels :func:`_ca_cell` and
:func:`_os_cell` by :func:`sensorfusion.kernels.register_loop`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from numba import njit, prange

from sensorfusion.kernels import ItemLoop, Output, Scratch, get_kernel, kernel, register_loop, scalar

from ._pool import run_blocks

__all__ = ["CfarMethod", "MAX_OS_TRAINING_CELLS", "PARALLEL_MIN_CELLS", "cfar_detect", "cfar_noise"]

CfarMethod = Literal["ca", "os"]
MAX_OS_TRAINING_CELLS = 512  # bound of the per-thread buffer of the CUDA OS-CFAR
PARALLEL_MIN_CELLS = 1 << 18  # CA-CFAR: below this the cpu tier runs on the calling thread


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


def _ca_numpy(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    if np.size(power) == 0:
        return np.empty(np.shape(power))
    cells, _ = _windows(power, guard_r, guard_d, train_r, train_d)
    n = np.sum(np.isfinite(cells), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(n > 0, np.nansum(cells, axis=2) / np.maximum(n, 1), np.nan)
    return out


def _os_numpy(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    if np.size(power) == 0:
        return np.empty(np.shape(power))
    cells, _ = _windows(power, guard_r, guard_d, train_r, train_d)
    n = np.sum(np.isfinite(cells), axis=2)
    srt = np.sort(cells, axis=2)  # NaN sort last
    k = np.floor(rank * np.maximum(n - 1, 0)).astype(np.int64)
    out: np.ndarray = np.take_along_axis(srt, k[:, :, None], axis=2)[:, :, 0]
    return np.where(n > 0, out, np.nan)


@njit(cache=True)
def _ca_doppler_rows(
    x: np.ndarray, gd: int, td: int, ho: np.ndarray, hg: np.ndarray, co: np.ndarray, cg: np.ndarray, r0: int, r1: int
) -> None:  # pragma: no cover - jitted
    # circular Doppler box sums of rows r0 <= r < r1 over |j| <= hd (ho, co) and |j| <= gd (hg, cg),
    # sliding: each row starts from a fresh sum, so rounding does not carry from row to row.
    # Non-finite cells count as absent (value 0, count 0).
    n_d = x.shape[1]
    hd = gd + td
    for r in range(r0, r1):
        so = 0.0
        sg = 0.0
        no = 0.0
        ng = 0.0
        for j in range(-hd, hd + 1):
            e = x[r, j % n_d]
            ok = math.isfinite(e)
            so += e if ok else 0.0
            no += 1.0 if ok else 0.0
            if -gd <= j <= gd:
                sg += e if ok else 0.0
                ng += 1.0 if ok else 0.0
        # moving from d to d + 1, cell d + h + 1 enters a box of half-width h and d - h leaves
        # (indices mod n_d, advanced below without a division)
        a_o = (hd + 1) % n_d
        b_o = (n_d - hd) % n_d
        a_g = (gd + 1) % n_d
        b_g = (n_d - gd) % n_d
        for d in range(n_d):
            ho[r, d] = so
            hg[r, d] = sg
            co[r, d] = no
            cg[r, d] = ng
            a = x[r, a_o]
            b = x[r, b_o]
            if math.isfinite(a):
                so += a
                no += 1.0
            if math.isfinite(b):
                so -= b
                no -= 1.0
            a = x[r, a_g]
            b = x[r, b_g]
            if math.isfinite(a):
                sg += a
                ng += 1.0
            if math.isfinite(b):
                sg -= b
                ng -= 1.0
            a_o = a_o + 1 if a_o + 1 < n_d else 0
            b_o = b_o + 1 if b_o + 1 < n_d else 0
            a_g = a_g + 1 if a_g + 1 < n_d else 0
            b_g = b_g + 1 if b_g + 1 < n_d else 0


@njit(cache=True)
def _ca_range_cols(
    ho: np.ndarray,
    hg: np.ndarray,
    co: np.ndarray,
    cg: np.ndarray,
    gr: int,
    tr: int,
    out: np.ndarray,
    d0: int,
    d1: int,
) -> None:  # pragma: no cover - jitted
    # range box sums (not circular: rows outside [0, R) do not exist) of the Doppler sums for
    # the columns d0 <= d < d1, sliding down the rows; training = outer box - guard box
    n_r = ho.shape[0]
    hr = gr + tr
    m = d1 - d0
    so = np.zeros(m)
    sg = np.zeros(m)
    no = np.zeros(m)
    ng = np.zeros(m)
    for i in range(0, min(hr, n_r - 1) + 1):
        for j in range(m):
            so[j] += ho[i, d0 + j]
            no[j] += co[i, d0 + j]
    for i in range(0, min(gr, n_r - 1) + 1):
        for j in range(m):
            sg[j] += hg[i, d0 + j]
            ng[j] += cg[i, d0 + j]
    for r in range(n_r):
        for j in range(m):
            n = no[j] - ng[j]
            out[r, d0 + j] = (so[j] - sg[j]) / n if n > 0.5 else np.nan
        a = r + hr + 1
        if a < n_r:
            for j in range(m):
                so[j] += ho[a, d0 + j]
                no[j] += co[a, d0 + j]
        b = r - hr
        if b >= 0:
            for j in range(m):
                so[j] -= ho[b, d0 + j]
                no[j] -= co[b, d0 + j]
        a = r + gr + 1
        if a < n_r:
            for j in range(m):
                sg[j] += hg[a, d0 + j]
                ng[j] += cg[a, d0 + j]
        b = r - gr
        if b >= 0:
            for j in range(m):
                sg[j] -= hg[b, d0 + j]
                ng[j] -= cg[b, d0 + j]


@njit(cache=True)
def _ca_serial(x: np.ndarray, gr: int, gd: int, tr: int, td: int, out: np.ndarray) -> None:  # pragma: no cover
    n_r, n_d = x.shape
    ho, hg, co, cg = np.empty((n_r, n_d)), np.empty((n_r, n_d)), np.empty((n_r, n_d)), np.empty((n_r, n_d))
    _ca_doppler_rows(x, gd, td, ho, hg, co, cg, 0, n_r)
    _ca_range_cols(ho, hg, co, cg, gr, tr, out, 0, n_d)


@njit(parallel=True, cache=True)
def _ca_parallel(x: np.ndarray, gr: int, gd: int, tr: int, td: int, out: np.ndarray) -> None:  # pragma: no cover
    n_r, n_d = x.shape
    ho, hg, co, cg = np.empty((n_r, n_d)), np.empty((n_r, n_d)), np.empty((n_r, n_d)), np.empty((n_r, n_d))
    for r in prange(n_r):
        _ca_doppler_rows(x, gd, td, ho, hg, co, cg, r, r + 1)
    block = 64
    for b in prange((n_d + block - 1) // block):
        _ca_range_cols(ho, hg, co, cg, gr, tr, out, b * block, min((b + 1) * block, n_d))


@njit(cache=True, nogil=True)
def _kth_smallest(a: np.ndarray, n: int, k: int) -> float:  # pragma: no cover - jitted
    # Wirth's selection, in place on a[:n]: the k-th smallest (0-based) without sorting
    lo = 0
    hi = n - 1
    while lo < hi:
        pivot = a[k]
        i = lo
        j = hi
        while True:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                t = a[i]
                a[i] = a[j]
                a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            lo = i
        if k < i:
            hi = j
    return float(a[k])


@njit(cache=True, nogil=True)
def _os_rows(
    x: np.ndarray, gr: int, gd: int, tr: int, td: int, rank: float, out: np.ndarray, r0: int, r1: int
) -> None:  # pragma: no cover - jitted
    n_r, n_d = x.shape
    hr, hd = gr + tr, gd + td
    buf = np.empty((2 * hr + 1) * (2 * hd + 1))
    cols = np.empty((n_d, 2 * hd + 1), dtype=np.int64)  # circular Doppler neighbours, no division per cell
    for d in range(n_d):
        for j in range(-hd, hd + 1):
            cols[d, j + hd] = (d + j) % n_d
    for r in range(r0, r1):
        for d in range(n_d):
            n = 0
            for i in range(max(-hr, -r), min(hr, n_r - 1 - r) + 1):
                rr = r + i
                guard_row = -gr <= i <= gr
                for jj in range(2 * hd + 1):
                    if guard_row and -gd <= jj - hd <= gd:
                        continue
                    v = x[rr, cols[d, jj]]
                    if math.isfinite(v):
                        buf[n] = v
                        n += 1
            if n == 0:
                out[r, d] = np.nan
            else:
                out[r, d] = _kth_smallest(buf, n, math.floor(rank * (n - 1)))


@kernel("radar.cfar_ca", "cpu")
def _ca_cpu(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    args = (x, int(guard_r), int(guard_d), int(train_r), int(train_d), out)
    if x.size >= PARALLEL_MIN_CELLS:
        _ca_parallel(*args)
    elif x.size:
        _ca_serial(*args)
    return out


@kernel("radar.cfar_os", "cpu")
def _os_cpu(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    args = (x, int(guard_r), int(guard_d), int(train_r), int(train_d), float(rank), out)
    if x.size:
        run_blocks(lambda _, r0, r1: _os_rows(*args, r0, r1), x.shape[0])
    return out


@scalar
def _ca_cell(x: np.ndarray, gr: int, gd: int, tr: int, td: int, r: int, d: int) -> float:  # pragma: no cover
    # the CA noise estimate of cell (r, d): mean of the valid training cells, NaN without any
    n_r, n_d = x.shape
    hr = gr + tr
    hd = gd + td
    s = 0.0
    n = 0
    for i in range(-hr, hr + 1):
        rr = r + i
        if rr < 0 or rr >= n_r:
            continue
        for j in range(-hd, hd + 1):
            if abs(i) <= gr and abs(j) <= gd:
                continue
            v = x[rr, (d + j + n_d) % n_d]
            if math.isfinite(v):
                s += v
                n += 1
    return s / n if n > 0 else math.nan


@scalar
def _os_cell(
    x: np.ndarray, gr: int, gd: int, tr: int, td: int, rank: float, r: int, d: int, buf: np.ndarray
) -> float:  # pragma: no cover
    # the OS noise estimate of cell (r, d): insertion into the sorted prefix of buf, then the rank
    n_r, n_d = x.shape
    hr = gr + tr
    hd = gd + td
    n = 0
    for i in range(-hr, hr + 1):
        rr = r + i
        if rr < 0 or rr >= n_r:
            continue
        for j in range(-hd, hd + 1):
            if abs(i) <= gr and abs(j) <= gd:
                continue
            v = x[rr, (d + j + n_d) % n_d]
            if math.isfinite(v):
                k = n
                while k > 0 and buf[k - 1] > v:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = v
                n += 1
    if n == 0:
        return math.nan
    return float(buf[int(math.floor(rank * (n - 1)))])  # noqa: RUF046 - a float on the CUDA target


def _example() -> tuple[object, ...]:
    return np.ones((4, 8)), 1, 1, 1, 1


_CELL = ("power.shape[0]", "power.shape[1]")
_WINDOW = "(2 * (guard_r + train_r) + 1) * (2 * (guard_d + train_d) + 1)"
register_loop(
    "radar.cfar_ca",
    ItemLoop(
        scalar=_ca_cell, params=("power", "guard_r", "guard_d", "train_r", "train_d"), items=_CELL,
        call="power, guard_r, guard_d, train_r, train_d, i, j", store=("out[i, j]",),
        allocate=(Output("out", "(n0, n1)"),),
    ),
    numpy=_ca_numpy,
    example=_example,
    tiers=("cuda",),
)  # fmt: skip
register_loop(
    "radar.cfar_os",
    ItemLoop(
        scalar=_os_cell, params=("power", "guard_r", "guard_d", "train_r", "train_d", "rank"), items=_CELL,
        call="power, guard_r, guard_d, train_r, train_d, rank, i, j, buf", store=("out[i, j]",),
        allocate=(Output("out", "(n0, n1)"),),
        scratch=(Scratch("buf", _WINDOW, cuda_shape=MAX_OS_TRAINING_CELLS, limit="window cells"),),
    ),
    numpy=_os_numpy,
    example=lambda: (*_example(), 0.5),
    tiers=("cuda",),
)  # fmt: skip


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
    args: tuple[Any, ...] = (np.asarray(p, dtype=np.float64), gr, gd, tr, td)
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
