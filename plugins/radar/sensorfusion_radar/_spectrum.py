"""Range and Doppler processing of an ADC cube: static clutter removal, windowed range FFT,
windowed Doppler FFT, and the non-coherently integrated range–Doppler power map.

Cube layout everywhere: ``[chirps, tx, rx, samples]`` complex (``chirps`` = chirp loops of one
frame, TDM-MIMO: every loop sends one chirp per TX). The range–Doppler cube is
``[range, doppler, tx, rx]`` with the Doppler axis *centred* (``fftshift``): Doppler bin ``d``
means ``(d - D/2)`` velocity resolutions, positive = receding.

Tiers of ``radar.range_doppler`` (one signature): ``numpy`` (``numpy.fft``, complex128,
step by step: the reference) and ``cpu`` (clutter removal and both windows fused in one
Numba pass, ``scipy.fft`` in single precision on all cores, the Doppler centring folded into
the window as a ``(-1)**l`` modulation, and the result returned as a strided view).
``radar.rd_power`` (numpy, cpu) integrates power over the virtual antennas. FFTs are not written in Numba (it has none); there is
no CUDA tier for this stage — on a GPU the FFT belongs to cuFFT, not to a hand kernel.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange

from sensorfusion._kernels import get_kernel, kernel, resolve_tier

__all__ = ["WINDOWS", "range_doppler", "range_doppler_power", "range_profile", "window"]

WINDOWS = ("hann", "hamming", "blackman", "rect")


def window(name: str, n: int) -> np.ndarray:
    """A symmetric window of length ``n`` normalised to unit mean (coherent gain 1)."""
    if name == "rect":
        w = np.ones(n)
    elif name == "hann":
        w = np.hanning(n)
    elif name == "hamming":
        w = np.hamming(n)
    elif name == "blackman":
        w = np.blackman(n)
    else:
        raise ValueError(f"unknown window {name!r}; valid choices: {', '.join(WINDOWS)}")
    if n == 1:
        return np.ones(1)
    out: np.ndarray = w / w.mean()
    return out


@kernel("radar.range_doppler", "numpy")
def _range_doppler_numpy(
    cube: np.ndarray, range_window: np.ndarray, doppler_window: np.ndarray, clutter_removal: bool
) -> np.ndarray:
    x = np.asarray(cube, dtype=np.complex128)
    if clutter_removal:
        x = x - x.mean(axis=0, keepdims=True)  # static clutter: the mean over chirps
    r = np.fft.fft(x * range_window, axis=3)  # [L, T, R, range]
    d = np.fft.fftshift(np.fft.fft(r * doppler_window[:, None, None, None], axis=0), axes=0)  # [dop, T, R, range]
    return np.ascontiguousarray(d.transpose(3, 0, 1, 2)).astype(np.complex64)


@njit(parallel=True, cache=True)
def _prepare_cpu(
    x: np.ndarray, wr: np.ndarray, wd: np.ndarray, clutter: bool, out: np.ndarray
) -> None:  # pragma: no cover - jitted
    # out[l, t, r, s] = (x[l, t, r, s] - mean_l x[., t, r, s]) * wr[s] * wd[l], one pass per channel
    n_l, n_t, n_r, n_s = x.shape
    for ch in prange(n_t * n_r):
        t = ch // n_r
        r = ch % n_r
        mean = np.zeros(n_s, dtype=np.complex64)
        if clutter:
            for li in range(n_l):
                for s in range(n_s):
                    mean[s] += x[li, t, r, s]
            for s in range(n_s):
                mean[s] /= n_l
        for li in range(n_l):
            for s in range(n_s):
                out[li, t, r, s] = (x[li, t, r, s] - mean[s]) * (wr[s] * wd[li])


@kernel("radar.range_doppler", "cpu")
def _range_doppler_cpu(
    cube: np.ndarray, range_window: np.ndarray, doppler_window: np.ndarray, clutter_removal: bool
) -> np.ndarray:
    import scipy.fft

    workers = os.cpu_count() or 1
    x = np.ascontiguousarray(cube, dtype=np.complex64)
    n_l = x.shape[0]
    # (-1)**l before the Doppler FFT shifts its output by D/2: the fftshift for free (even D)
    wd = doppler_window * ((-1.0) ** np.arange(n_l) if n_l % 2 == 0 else 1.0)
    y = np.empty_like(x)
    if x.size:
        _prepare_cpu(x, range_window.astype(np.float32), wd.astype(np.float32), bool(clutter_removal), y)
    y = scipy.fft.fft(y, axis=3, workers=workers, overwrite_x=True)
    y = scipy.fft.fft(y, axis=0, workers=workers, overwrite_x=True)
    if n_l % 2:
        y = np.fft.fftshift(y, axes=0)
    out: np.ndarray = y.transpose(3, 0, 1, 2)  # a view: [range, doppler, tx, rx]
    return out


@kernel("radar.rd_power", "numpy")
def _rd_power_numpy(rd: np.ndarray) -> np.ndarray:
    out: np.ndarray = (np.abs(rd.astype(np.complex128)) ** 2).reshape(rd.shape[0], rd.shape[1], -1).sum(axis=2)
    return out


@njit(parallel=True, cache=True)
def _rd_power_cpu_impl(rd: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover - jitted
    n_r, n_d, n_t, n_x = rd.shape
    for d in prange(n_d):
        for r in range(n_r):
            acc = 0.0
            for t in range(n_t):
                for k in range(n_x):
                    v = rd[r, d, t, k]
                    acc += v.real * v.real + v.imag * v.imag
            out[r, d] = acc


@kernel("radar.rd_power", "cpu")
def _rd_power_cpu(rd: np.ndarray) -> np.ndarray:
    out = np.empty(rd.shape[:2])
    if rd.size:
        _rd_power_cpu_impl(rd, out)
    return out


def range_doppler(
    cube: np.ndarray,
    *,
    range_window: str = "hann",
    doppler_window: str = "hann",
    clutter_removal: bool = True,
    tier: str = "auto",
) -> np.ndarray:
    """``[chirps, tx, rx, samples]`` -> range–Doppler cube ``[range, doppler, tx, rx]`` complex64.

    Non-finite ADC samples are replaced by 0 (a dropped packet is zero-filled by the
    DCA1000 driver already; NaN must not poison the whole frame).
    """
    c = np.asarray(cube)
    if c.ndim != 4:
        raise ValueError(f"cube must be [chirps, tx, rx, samples], got shape {c.shape}")
    if not np.all(np.isfinite(c)):
        c = np.where(np.isfinite(c), c, 0)
    t = resolve_tier(tier)
    fn = get_kernel("radar.range_doppler", "cpu" if t == "cuda" else t)  # no CUDA FFT tier: cpu
    out: np.ndarray = fn(c, window(range_window, c.shape[3]), window(doppler_window, c.shape[0]), bool(clutter_removal))
    return out


def range_doppler_power(rd: np.ndarray, *, tier: str = "auto") -> np.ndarray:
    """Non-coherent integration over the virtual antennas: ``[range, doppler]`` float64 power
    of a range–Doppler cube ``[range, doppler, tx, rx]`` (any strides)."""
    if rd.ndim != 4:
        raise ValueError(f"rd must be [range, doppler, tx, rx], got shape {rd.shape}")
    t = resolve_tier(tier)
    out: np.ndarray = get_kernel("radar.rd_power", "cpu" if t == "cuda" else t)(rd)
    return out


def range_profile(cube: np.ndarray, *, range_window: str = "hann", clutter_removal: bool = False) -> np.ndarray:
    """Power per range bin ``[range]``, summed over chirps and antennas (a quick look at a frame)."""
    c = np.asarray(cube, dtype=np.complex128)
    if clutter_removal:
        c = c - c.mean(axis=0, keepdims=True)
    spec = np.fft.fft(c * window(range_window, c.shape[3]), axis=3)
    out: np.ndarray = (np.abs(spec) ** 2).sum(axis=(0, 1, 2))
    return out
