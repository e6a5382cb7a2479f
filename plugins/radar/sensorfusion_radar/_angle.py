"""MIMO virtual-array angle estimation: TDM-MIMO Doppler compensation and beamforming over an
azimuth × elevation grid, for any TX/RX layout of a :class:`~sensorfusion.schema.RadarModel`.

Virtual antenna ``(t, r)`` sits at ``tx[t] + rx[r]`` (half-wavelength units, ``(x, z)``). A
target in direction ``(u, w) = (cos(el) sin(az), sin(el))`` adds the phase
``pi * (px * u + pz * w)`` at that antenna. In TDM-MIMO, TX ``t`` chirps ``t`` chirp-times
after TX 0 inside each loop, so a target at signed Doppler bin ``s`` (of ``D``) carries an
extra phase ``2*pi*s*t / (D*T)`` on TX ``t``'s antennas: removed before beamforming.

Kernel ``radar.angle_spectrum(x (N, V) complex128, steering (G, V) complex128) -> (N, G)``
power ``|sum_v x[n, v] * conj(steering[g, v])|**2`` (a NaN row for a snapshot holding NaN or inf); tiers ``numpy`` (a matrix product),
``cpu`` (Numba, parallel over targets from :data:`PARALLEL_MIN_PRODUCTS` multiply-adds on;
one frame's few hundred peaks run on the calling thread, see ``_spectrum``), ``cuda`` (one
thread per target and grid cell, generated from the scalar kernel :func:`_spectrum_cell`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sensorfusion.kernels import ItemLoop, Output, get_kernel, kernel, register_loop, scalar
from sensorfusion.schema import RadarModel

__all__ = [
    "PARALLEL_MIN_PRODUCTS",
    "AngleGrid",
    "angle_grid",
    "angle_spectrum",
    "tdm_doppler_compensation",
    "virtual_positions",
]

PARALLEL_MIN_PRODUCTS = 1 << 23  # complex multiply-adds below which the cpu tier stays on one thread


def virtual_positions(model: RadarModel) -> np.ndarray:
    """``(T*R, 2)`` virtual antenna positions ``(x, z)`` in half wavelengths, TX-major."""
    tx = np.asarray(model.tx_positions, dtype=np.float64)
    rx = np.asarray(model.rx_positions, dtype=np.float64)
    out: np.ndarray = (tx[:, None, :] + rx[None, :, :]).reshape(-1, 2)
    return out


@dataclass(frozen=True)
class AngleGrid:
    """The beamforming grid: ``azimuth_rad (A,)``, ``elevation_rad (E,)`` and the steering
    matrix ``(A*E, V)`` (azimuth-major)."""

    azimuth_rad: np.ndarray
    elevation_rad: np.ndarray
    steering: np.ndarray


def angle_grid(
    model: RadarModel,
    *,
    azimuth_bins: int = 61,
    elevation_bins: int = 15,
    fov_az_rad: float = np.deg2rad(60.0),
    fov_el_rad: float = np.deg2rad(30.0),
) -> AngleGrid:
    """Grid over ``[-fov, fov]`` in both angles; a single elevation (0) when the virtual array
    has no vertical aperture."""
    pos = virtual_positions(model)
    az = np.linspace(-fov_az_rad, fov_az_rad, azimuth_bins)
    el = np.linspace(-fov_el_rad, fov_el_rad, elevation_bins) if np.ptp(pos[:, 1]) > 0 else np.zeros(1)
    u = (np.cos(el)[None, :] * np.sin(az)[:, None]).reshape(-1)
    w = np.broadcast_to(np.sin(el)[None, :], (az.size, el.size)).reshape(-1)
    steering = np.exp(1j * np.pi * (np.outer(u, pos[:, 0]) + np.outer(w, pos[:, 1])))
    return AngleGrid(az, el, np.ascontiguousarray(steering))


def tdm_doppler_compensation(x: np.ndarray, doppler_bin: np.ndarray, num_doppler: int, num_tx: int) -> np.ndarray:
    """Undo the TDM-MIMO Doppler phase: ``x (N, T, R)`` complex, ``doppler_bin (N,)`` centred
    bins (``D/2`` = zero velocity). Returns ``(N, T*R)`` complex128."""
    s = np.asarray(doppler_bin, dtype=np.float64) - num_doppler // 2
    t = np.arange(num_tx, dtype=np.float64)
    phase = np.exp(-2j * np.pi * s[:, None] * t[None, :] / (num_doppler * num_tx))
    out: np.ndarray = (np.asarray(x, dtype=np.complex128) * phase[:, :, None]).reshape(x.shape[0], -1)
    return out


def _spectrum_numpy(x: np.ndarray, steering: np.ndarray) -> np.ndarray:
    bad = ~np.isfinite(x).all(axis=1)
    out: np.ndarray = np.abs(np.where(bad[:, None], 0, x) @ steering.conj().T) ** 2
    out[bad] = np.nan
    return out


@scalar
def _spectrum_cell(x: np.ndarray, steering: np.ndarray, n: int, g: int) -> float:  # pragma: no cover - jitted
    # |sum_v x[n, v] * conj(steering[g, v])|**2; NaN for a snapshot with a non-finite value
    re = 0.0
    im = 0.0
    for v in range(x.shape[1]):
        a = x[n, v]
        if not (math.isfinite(a.real) and math.isfinite(a.imag)):
            return math.nan
        b = steering[g, v]
        re += a.real * b.real + a.imag * b.imag
        im += a.imag * b.real - a.real * b.imag
    return re * re + im * im


register_loop(
    "radar.angle_spectrum",
    ItemLoop(
        scalar=_spectrum_cell, params=("x", "steering"), items=("x.shape[0]", "steering.shape[0]"),
        call="x, steering, i, j", store=("out[i, j]",), allocate=(Output("out", "(n0, n1)"),),
    ),
    numpy=_spectrum_numpy,
    example=lambda: (np.ones((2, 4), np.complex128), np.ones((3, 4), np.complex128)),
    tiers=("cuda",),
)  # fmt: skip


@njit(cache=True)
def _spectrum_rows(
    x: np.ndarray, steer_re: np.ndarray, steer_im: np.ndarray, out: np.ndarray, n0: int, n1: int
) -> None:  # pragma: no cover - jitted
    # steer_re/im: (V, G) real and imaginary parts of the steering matrix, grid innermost so the
    # multiply-adds over the grid vectorise
    n_v, n_g = steer_re.shape
    re = np.empty(n_g)
    im = np.empty(n_g)
    for n in range(n0, n1):
        finite = True
        for v in range(n_v):
            finite = finite and math.isfinite(x[n, v].real) and math.isfinite(x[n, v].imag)
        if not finite:  # a snapshot with a lost sample: a NaN row
            out[n, :] = np.nan
            continue
        re[:] = 0.0
        im[:] = 0.0
        for v in range(n_v):
            ar = x[n, v].real
            ai = x[n, v].imag
            for g in range(n_g):
                # x * conj(steering)
                re[g] += ar * steer_re[v, g] + ai * steer_im[v, g]
                im[g] += ai * steer_re[v, g] - ar * steer_im[v, g]
        for g in range(n_g):
            out[n, g] = re[g] * re[g] + im[g] * im[g]


@njit(parallel=True, cache=True)
def _spectrum_parallel(
    x: np.ndarray, steer_re: np.ndarray, steer_im: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - jitted
    for n in prange(x.shape[0]):
        _spectrum_rows(x, steer_re, steer_im, out, n, n + 1)


@kernel("radar.angle_spectrum", "cpu")
def _spectrum_cpu(x: np.ndarray, steering: np.ndarray) -> np.ndarray:
    xx = np.ascontiguousarray(x, dtype=np.complex128)
    st = np.asarray(steering, dtype=np.complex128)
    args = (xx, np.ascontiguousarray(st.real.T), np.ascontiguousarray(st.imag.T))
    out = np.empty((xx.shape[0], st.shape[0]))
    if out.size * xx.shape[1] >= PARALLEL_MIN_PRODUCTS:
        _spectrum_parallel(*args, out)
    elif out.size:
        _spectrum_rows(*args, out, 0, xx.shape[0])
    return out


def angle_spectrum(x: np.ndarray, steering: np.ndarray, *, tier: str = "auto") -> np.ndarray:
    """Beamforming power ``(N, G)`` of ``N`` antenna snapshots ``(N, V)`` over ``G`` steering vectors.
    Non-finite snapshots give NaN rows."""
    xx = np.asarray(x, dtype=np.complex128)
    st = np.asarray(steering, dtype=np.complex128)
    if xx.ndim != 2 or st.ndim != 2 or xx.shape[1] != st.shape[1]:
        raise ValueError(f"expected x (N, V) and steering (G, V), got {xx.shape} and {st.shape}")
    bad = ~np.all(np.isfinite(xx), axis=1)
    if bad.any():
        xx = np.where(bad[:, None], 0, xx)
    out: np.ndarray = get_kernel("radar.angle_spectrum", tier)(xx, st)
    if bad.any():
        out[bad] = np.nan
    return out
