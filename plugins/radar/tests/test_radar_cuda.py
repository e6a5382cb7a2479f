"""The radar kernels through the tier contract: numpy, cpu and cuda (under the Numba CUDA
simulator in a fresh interpreter, and compiled to PTX where NVVM is installed)."""

from __future__ import annotations

import numpy as np
from sensorfusion_radar import angle_grid, cfar_noise, range_doppler
from sensorfusion_sim._radar import default_radar_model

from sensorfusion import ConfigError
from sensorfusion.testing import KernelCase, KernelTierContract


def _power(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.exponential(1.0, shape)
    p[min(4, shape[0] - 1), 2] = 80.0
    p[0, 1] = np.nan
    p[min(3, shape[0] - 1), shape[1] - 1] = np.inf
    return p


class TestCfarAndAngleTiers(KernelTierContract):
    kernels = ("radar.cfar_ca", "radar.cfar_os", "radar.angle_spectrum")
    rtol = 1e-9
    atol = 0.0

    def cases(self) -> list[KernelCase]:
        small, big = _power(0, (9, 8)), _power(1, (64, 32))
        big[40, :] = np.nan
        allnan = np.full((3, 8), np.nan)
        out = []
        for p, sim in ((small, True), (big, False), (allnan, True), (np.zeros((0, 8)), True)):
            out.append(KernelCase("radar.cfar_ca", (p, 1, 1, 2, 1), simulate=sim))
            out.append(KernelCase("radar.cfar_os", (p, 1, 1, 2, 1, 0.5), simulate=sim))
            out.append(KernelCase("radar.cfar_os", (p, 0, 1, 1, 2, 1.0), simulate=sim))
        grid = angle_grid(default_radar_model(), azimuth_bins=5, elevation_bins=3)
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4, 12)) + 1j * rng.standard_normal((4, 12))
        x[1, 0] = np.nan
        x[2, 3] = complex(np.inf, 0.0)
        out.append(KernelCase("radar.angle_spectrum", (x, grid.steering)))
        wide = angle_grid(default_radar_model(), azimuth_bins=61, elevation_bins=15)
        xb = rng.standard_normal((50, 12)) + 1j * rng.standard_normal((50, 12))
        out.append(KernelCase("radar.angle_spectrum", (xb, wide.steering), "61x15 grid", simulate=False))
        out.append(KernelCase("radar.angle_spectrum", (np.zeros((0, 12), complex), grid.steering), "no targets"))
        return out

    def bad_calls(self) -> list[tuple[object, type[BaseException], str]]:
        from sensorfusion.kernels import loop_kernel

        p = _power(2, (40, 64))
        os_cuda = loop_kernel("radar.cfar_os")
        assert os_cuda is not None
        return [
            (lambda: os_cuda.cuda(p, 4, 4, 8, 8, 0.5), ConfigError, "holds at most 512 window cells, got 625"),
            (lambda: cfar_noise(p[:, :4], guard=(1, 2), train=(1, 2)), ValueError, "Doppler window"),
            (lambda: range_doppler(np.zeros((4, 3, 8))), ValueError, r"cube must be \[chirps, tx, rx, samples\]"),
        ]  # fmt: skip


class TestRangeDopplerTiers(KernelTierContract):
    """The FFT stages: numpy and cpu only (on a GPU the FFT belongs to cuFFT, not a hand kernel)."""

    kernels = ("radar.range_doppler", "radar.range_doppler_power", "radar.rd_power")
    tiers = ("numpy", "cpu")
    rtol = 1e-4
    atol = 2e-2  # complex64 FFTs of unit-variance noise (|values| up to ~200)
    coverage_exempt = {"radar.rd_power": "takes a range-Doppler cube, which the FFT stage never leaves non-finite"}

    def cases(self) -> list[KernelCase]:
        rng = np.random.default_rng(3)
        cube = (rng.standard_normal((16, 3, 4, 32)) + 1j * rng.standard_normal((16, 3, 4, 32))).astype(np.complex64)
        cube[0, 0, 0, 0] = np.nan
        cube[5, 2, 3, 7] = np.inf
        wr, wd = np.hanning(32) / np.hanning(32).mean(), np.hanning(16) / np.hanning(16).mean()
        out = []
        for c, w in ((cube, wd), (cube[:15], wd[:15]), (np.zeros((16, 3, 4, 0), np.complex64), wd)):
            for clutter in (True, False):
                args = (c, wr[: c.shape[3]], w, clutter)
                out.append(KernelCase("radar.range_doppler", args))
                out.append(KernelCase("radar.range_doppler_power", args))
        rd = range_doppler(np.where(np.isfinite(cube), cube, 0), tier="numpy")
        out.append(KernelCase("radar.rd_power", (rd,)))
        out.append(KernelCase("radar.rd_power", (rd[:, :0],)))
        return out
