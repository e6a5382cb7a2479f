"""CUDA twins (Numba ``cuda.jit``) of the CFAR and angle-spectrum kernels.

Same signatures and results as the numpy references in :mod:`._cfar` and :mod:`._angle`.
Imported only when the ``cuda`` tier is asked for, so ``NUMBA_ENABLE_CUDASIM=1`` can be set
before :mod:`numba.cuda` is first imported (tests run the simulator in a subprocess).
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from ._cfar import MAX_OS_TRAINING_CELLS

__all__ = ["THREADS_PER_BLOCK", "angle_spectrum", "cfar_ca", "cfar_os"]

THREADS_PER_BLOCK = (16, 16)


@cuda.jit
def _ca_kernel(x, gr, gd, tr, td, out):  # type: ignore[no-untyped-def]  # pragma: no cover - device code
    r, d = cuda.grid(2)  # type: ignore[attr-defined]
    n_r, n_d = x.shape
    if r >= n_r or d >= n_d:
        return
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
            if not (math.isnan(v) or math.isinf(v)):
                s += v
                n += 1
    out[r, d] = s / n if n > 0 else math.nan


@cuda.jit
def _os_kernel(x, gr, gd, tr, td, rank, out):  # type: ignore[no-untyped-def]  # pragma: no cover - device code
    r, d = cuda.grid(2)  # type: ignore[attr-defined]
    n_r, n_d = x.shape
    if r >= n_r or d >= n_d:
        return
    buf = cuda.local.array(MAX_OS_TRAINING_CELLS, dtype=np.float64)  # type: ignore[attr-defined]
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
            if not (math.isnan(v) or math.isinf(v)):
                # insertion into the sorted prefix
                k = n
                while k > 0 and buf[k - 1] > v:
                    buf[k] = buf[k - 1]
                    k -= 1
                buf[k] = v
                n += 1
    if n == 0:
        out[r, d] = math.nan
    else:
        out[r, d] = buf[math.floor(rank * (n - 1))]


@cuda.jit
def _angle_kernel(x, steering, out):  # type: ignore[no-untyped-def]  # pragma: no cover - device code
    n, g = cuda.grid(2)  # type: ignore[attr-defined]
    if n >= x.shape[0] or g >= steering.shape[0]:
        return
    re = 0.0
    im = 0.0
    for v in range(x.shape[1]):
        a = x[n, v]
        b = steering[g, v]
        re += a.real * b.real + a.imag * b.imag
        im += a.imag * b.real - a.real * b.imag
    out[n, g] = re * re + im * im


def _blocks(shape: tuple[int, int]) -> tuple[int, int]:
    return (math.ceil(shape[0] / THREADS_PER_BLOCK[0]), math.ceil(shape[1] / THREADS_PER_BLOCK[1]))


def cfar_ca(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int) -> np.ndarray:
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    if x.size:
        d_out = cuda.to_device(out)
        _ca_kernel[_blocks(x.shape), THREADS_PER_BLOCK](
            cuda.to_device(x), int(guard_r), int(guard_d), int(train_r), int(train_d), d_out
        )
        out = d_out.copy_to_host()
    return out


def cfar_os(power: np.ndarray, guard_r: int, guard_d: int, train_r: int, train_d: int, rank: float) -> np.ndarray:
    cells = (2 * (guard_r + train_r) + 1) * (2 * (guard_d + train_d) + 1)
    if cells > MAX_OS_TRAINING_CELLS:
        raise ValueError(f"the cuda OS-CFAR holds at most {MAX_OS_TRAINING_CELLS} window cells, got {cells}")
    x = np.ascontiguousarray(power, dtype=np.float64)
    out = np.empty(x.shape)
    if x.size:
        d_out = cuda.to_device(out)
        _os_kernel[_blocks(x.shape), THREADS_PER_BLOCK](
            cuda.to_device(x), int(guard_r), int(guard_d), int(train_r), int(train_d), float(rank), d_out
        )
        out = d_out.copy_to_host()
    return out


def angle_spectrum(x: np.ndarray, steering: np.ndarray) -> np.ndarray:
    xx = np.ascontiguousarray(x, dtype=np.complex128)
    st = np.ascontiguousarray(steering, dtype=np.complex128)
    out = np.empty((xx.shape[0], st.shape[0]))
    if out.size:
        d_out = cuda.to_device(out)
        _angle_kernel[_blocks(out.shape), THREADS_PER_BLOCK](cuda.to_device(xx), cuda.to_device(st), d_out)
        out = d_out.copy_to_host()
    return out
