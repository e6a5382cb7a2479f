"""The cube → point cloud chain and the 4D radar tensor.

``process_cube``: clutter removal → windowed range FFT → Doppler FFT → range–Doppler power →
2D CFAR (CA or OS) → peak grouping (local maxima in 3×3, Doppler circular) → TDM-MIMO Doppler
compensation → beamforming over azimuth × elevation → points ``x, y, z`` (radar frame:
x right, y boresight, z up; metres), ``velocity`` (m/s, positive receding) and ``snr`` (dB).

``radar_tensor_4d``: range × Doppler × azimuth × elevation power (as in RT-Pose), and
``cartesian_grid``: its Doppler-integrated power resampled onto an ``x, y, z`` voxel grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion.schema import RadarModel

from ._angle import AngleGrid, angle_grid, angle_spectrum, tdm_doppler_compensation
from ._cfar import cfar_noise
from ._spectrum import range_doppler, range_doppler_power, range_doppler_with_power

__all__ = [
    "POINT_FIELDS",
    "ChainConfig",
    "RadarChain",
    "cartesian_grid",
    "group_peaks",
    "radar_tensor_4d",
]

POINT_FIELDS = ("x", "y", "z", "velocity", "snr")


class ChainConfig(BaseModel):
    """Settings of the processing chain (also the ``params`` of ``radar.process``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    range_window: Literal["hann", "hamming", "blackman", "rect"] = Field(
        default="hann", description="window before the range FFT"
    )
    doppler_window: Literal["hann", "hamming", "blackman", "rect"] = Field(
        default="hann", description="window before the Doppler FFT"
    )
    clutter_removal: bool = Field(default=True, description="subtract the mean over chirps (static clutter)")
    cfar: Literal["ca", "os"] = Field(default="ca", description="cell averaging or ordered statistic CFAR")
    guard_cells: tuple[int, int] = Field(default=(2, 2), description="guard cells (range, Doppler) each side")
    train_cells: tuple[int, int] = Field(default=(4, 4), description="training cells (range, Doppler) each side")
    os_rank: float = Field(default=0.75, ge=0, le=1, description="OS-CFAR: rank of the noise cell (fraction)")
    threshold_db: float = Field(default=12.0, description="detection threshold above the CFAR noise estimate (dB)")
    min_range_m: float = Field(default=0.3, ge=0, description="ignore detections closer than this")
    max_range_m: float | None = Field(default=None, gt=0, description="ignore detections beyond this (None: all)")
    azimuth_bins: int = Field(default=61, ge=2, description="beamforming grid size over +-fov_azimuth_deg")
    elevation_bins: int = Field(default=15, ge=1, description="beamforming grid size over +-fov_elevation_deg")
    fov_azimuth_deg: float = Field(default=60.0, gt=0, le=90)
    fov_elevation_deg: float = Field(default=30.0, gt=0, le=90)
    peak_grouping: bool = Field(
        default=True, description="keep only local maxima of range–Doppler power (else every CFAR cell)"
    )
    max_points: int = Field(default=512, ge=1, description="keep the strongest points")
    tier: Literal["auto", "numpy", "cpu", "cuda"] = Field(default="auto", description="kernel tier")


@njit(cache=True)
def _local_maxima(power: np.ndarray, r: np.ndarray, d: np.ndarray) -> np.ndarray:  # pragma: no cover - jitted
    n_r, n_d = power.shape
    keep = np.ones(r.size, dtype=np.bool_)
    for k in range(r.size):
        v = power[r[k], d[k]]
        val = v if math.isfinite(v) else -np.inf
        for dr in range(-1, 2):
            rr = r[k] + dr
            if rr < 0 or rr >= n_r:
                continue
            for dd in range(-1, 2):
                if dr == 0 and dd == 0:
                    continue
                nb = power[rr, (d[k] + dd) % n_d]
                if math.isfinite(nb) and nb > val:
                    keep[k] = False
    return keep


@njit(cache=True)
def _detect_peaks(
    power: np.ndarray, noise: np.ndarray, scale: float, r0: int, r1: int, grouping: bool
) -> np.ndarray:  # pragma: no cover - jitted
    # cfar_detect + the range gate [r0, r1) + group_peaks in one pass: (K, 2) strongest first
    n_d = power.shape[1]
    rr = np.empty((r1 - r0) * n_d, dtype=np.int64)
    dd = np.empty((r1 - r0) * n_d, dtype=np.int64)
    k = 0
    for r in range(r0, r1):
        for d in range(n_d):
            p = power[r, d]
            q = noise[r, d]
            if math.isfinite(p) and math.isfinite(q) and p > scale * q:
                rr[k] = r
                dd[k] = d
                k += 1
    rr = rr[:k]
    dd = dd[:k]
    if grouping:
        keep = _local_maxima(power, rr, dd)
        rr = rr[keep]
        dd = dd[keep]
    val = np.empty(rr.size)
    for i in range(rr.size):
        val[i] = -power[rr[i], dd[i]]
    order = np.argsort(val, kind="mergesort")
    out = np.empty((rr.size, 2), dtype=np.int64)
    for i in range(rr.size):
        out[i, 0] = rr[order[i]]
        out[i, 1] = dd[order[i]]
    return out


def group_peaks(power: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """Detections that are local maxima of ``power`` among their 8 neighbours (Doppler circular,
    range not; non-finite cells count as ``-inf``): ``(K, 2)`` int64 ``(range_bin,
    doppler_bin)``, strongest first."""
    p = np.asarray(power, dtype=np.float64)
    idx = np.argwhere(detected)
    if idx.shape[0] == 0:
        return np.zeros((0, 2), dtype=np.int64)
    r, d = idx[:, 0].astype(np.int64), idx[:, 1].astype(np.int64)
    keep = _local_maxima(p, r, d)
    idx = idx[keep]
    val = p[idx[:, 0], idx[:, 1]]
    order = np.argsort(-np.where(np.isfinite(val), val, -np.inf), kind="stable")
    out: np.ndarray = idx[order].astype(np.int64)
    return out


@dataclass
class RadarChain:
    """The processing chain for one radar model and configuration (the angle grid is built once)."""

    model: RadarModel
    config: ChainConfig

    def __post_init__(self) -> None:
        c = self.config
        self.grid: AngleGrid = angle_grid(
            self.model,
            azimuth_bins=c.azimuth_bins,
            elevation_bins=c.elevation_bins,
            fov_az_rad=np.deg2rad(c.fov_azimuth_deg),
            fov_el_rad=np.deg2rad(c.fov_elevation_deg),
        )
        self.num_tx = len(self.model.tx_positions)
        self.num_rx = len(self.model.rx_positions)

    def check_cube(self, cube: np.ndarray) -> None:
        want = (self.model.chirps_per_frame, self.num_tx, self.num_rx, self.model.adc_samples)
        if tuple(cube.shape) != want:
            raise ValueError(f"cube expected shape [chirps, tx, rx, samples] = {want}, actual {tuple(cube.shape)}")

    def range_doppler(self, cube: np.ndarray) -> np.ndarray:
        c = self.config
        return range_doppler(
            cube,
            range_window=c.range_window,
            doppler_window=c.doppler_window,
            clutter_removal=c.clutter_removal,
            tier=c.tier,
        )

    def detect(self, rd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CFAR + peak grouping on a range–Doppler cube: ``(peaks (K, 2), power, noise)``."""
        return self.detect_power(range_doppler_power(rd, tier=self.config.tier))

    def detect_power(self, power: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CFAR + peak grouping on a range–Doppler power map: ``(peaks (K, 2), power, noise)``."""
        c = self.config
        noise = cfar_noise(power, method=c.cfar, guard=c.guard_cells, train=c.train_cells, rank=c.os_rank, tier=c.tier)
        rng_m = np.arange(power.shape[0]) * self.model.range_resolution_m
        r0 = int(np.searchsorted(rng_m, c.min_range_m, side="left"))  # the gate min <= range <= max
        r1 = rng_m.size if c.max_range_m is None else int(np.searchsorted(rng_m, c.max_range_m, side="right"))
        peaks = _detect_peaks(
            np.ascontiguousarray(power, dtype=np.float64),
            np.ascontiguousarray(noise, dtype=np.float64),
            10.0 ** (c.threshold_db / 10.0),
            r0,
            max(r0, r1),
            bool(c.peak_grouping),
        )
        peaks = peaks[: c.max_points]
        return peaks, power, noise

    def points(self, rd: np.ndarray, peaks: np.ndarray, power: np.ndarray, noise: np.ndarray) -> dict[str, np.ndarray]:
        """Angle estimation for grouped peaks -> point cloud fields (float32)."""
        n_dop = rd.shape[1]
        if peaks.shape[0] == 0:
            return {k: np.zeros(0, dtype=np.float32) for k in POINT_FIELDS}
        r_idx, d_idx = peaks[:, 0], peaks[:, 1]
        snap = rd[r_idx, d_idx].reshape(-1, self.num_tx, self.num_rx)
        x = tdm_doppler_compensation(snap, d_idx, n_dop, self.num_tx)
        spec = angle_spectrum(x, self.grid.steering, tier=self.config.tier)
        best = np.argmax(np.where(np.isfinite(spec), spec, -np.inf), axis=1)
        n_el = self.grid.elevation_rad.size
        az = self.grid.azimuth_rad[best // n_el]
        el = self.grid.elevation_rad[best % n_el]
        rng = r_idx * self.model.range_resolution_m
        vel = (d_idx - n_dop // 2) * self.model.velocity_resolution_m_per_s
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = 10.0 * np.log10(power[r_idx, d_idx] / noise[r_idx, d_idx])
        return {
            "x": (rng * np.cos(el) * np.sin(az)).astype(np.float32),
            "y": (rng * np.cos(el) * np.cos(az)).astype(np.float32),
            "z": (rng * np.sin(el)).astype(np.float32),
            "velocity": vel.astype(np.float32),
            "snr": snr.astype(np.float32),
        }

    def process(self, cube: np.ndarray) -> dict[str, np.ndarray]:
        """ADC cube ``[chirps, tx, rx, samples]`` -> point cloud fields ``x, y, z, velocity, snr``."""
        self.check_cube(cube)
        c = self.config
        rd, power = range_doppler_with_power(
            cube,
            range_window=c.range_window,
            doppler_window=c.doppler_window,
            clutter_removal=c.clutter_removal,
            tier=c.tier,
        )
        peaks, power, noise = self.detect_power(power)
        return self.points(rd, peaks, power, noise)


def radar_tensor_4d(chain: RadarChain, cube: np.ndarray) -> np.ndarray:
    """Range × Doppler × azimuth × elevation power (float32) of one frame, beamformed on the
    chain's angle grid after TDM-MIMO compensation of every Doppler bin."""
    chain.check_cube(cube)
    rd = chain.range_doppler(cube)  # [R, D, T, Rx]
    n_r, n_d = rd.shape[:2]
    d_idx = np.tile(np.arange(n_d), n_r)
    x = tdm_doppler_compensation(rd.reshape(n_r * n_d, chain.num_tx, chain.num_rx), d_idx, n_d, chain.num_tx)
    spec = np.abs(x.astype(np.complex64) @ chain.grid.steering.conj().T.astype(np.complex64)) ** 2
    n_a, n_e = chain.grid.azimuth_rad.size, chain.grid.elevation_rad.size
    out: np.ndarray = spec.reshape(n_r, n_d, n_a, n_e).astype(np.float32)
    return out


def cartesian_grid(
    chain: RadarChain,
    tensor: np.ndarray,
    *,
    x_m: np.ndarray,
    y_m: np.ndarray,
    z_m: np.ndarray,
) -> np.ndarray:
    """Doppler-integrated power of a 4D tensor resampled (trilinear in range, azimuth,
    elevation) at the voxel centres ``x_m × y_m × z_m`` of the radar frame: ``(X, Y, Z)``
    float32; voxels outside the field of view or range are 0."""
    from scipy.ndimage import map_coordinates

    vol = tensor.sum(axis=1)  # (R, A, E)
    X, Y, Z = np.meshgrid(x_m, y_m, z_m, indexing="ij")
    r = np.sqrt(X**2 + Y**2 + Z**2)
    az = np.arctan2(X, Y)
    el = np.arcsin(np.clip(Z / np.maximum(r, 1e-9), -1.0, 1.0))
    g = chain.grid

    def frac_index(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
        if axis.size == 1:
            return np.zeros_like(v)
        out: np.ndarray = (v - axis[0]) / (axis[1] - axis[0])
        return out

    coords = np.stack(
        [r / chain.model.range_resolution_m, frac_index(az, g.azimuth_rad), frac_index(el, g.elevation_rad)]
    )
    out = map_coordinates(vol.astype(np.float64), coords.reshape(3, -1), order=1, mode="constant", cval=0.0).reshape(
        X.shape
    )
    inside = (r < vol.shape[0] * chain.model.range_resolution_m) & (np.abs(az) <= g.azimuth_rad[-1])
    if g.elevation_rad.size > 1:
        inside &= np.abs(el) <= g.elevation_rad[-1]
    res: np.ndarray = np.where(inside, out, 0.0).astype(np.float32)
    return res
