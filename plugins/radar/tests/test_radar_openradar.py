"""The real OpenRadar ADC frame (128 chirps x 128 samples, one RX) through our chain.

Checks are computed independently here: an explicit DFT-matrix computation of the range and
range–Doppler spectra, openradar's own functions on the same samples, and agreement of our
kernel tiers on the detections.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_radar import cfar_detect, cfar_noise, group_peaks, range_doppler, range_doppler_power, range_profile

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
FRAME = DATA / "radar" / "openradar" / "simple_frame_1.npy"


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    if not FRAME.is_file():
        pytest.skip(f"OpenRadar frame not found at {FRAME} (set SENSORFUSION_TEST_DATA)")
    raw = np.load(FRAME)
    # stored as wrapped uint16 per component: reinterpret as int16
    re = raw.real.astype(np.uint16).view(np.int16).astype(np.float64)
    im = raw.imag.astype(np.uint16).view(np.int16).astype(np.float64)
    x = re + 1j * im
    assert x.shape == (128, 128)
    assert np.abs(x).max() < 2**15
    return x


def _dft(n: int) -> np.ndarray:
    k = np.arange(n)
    out: np.ndarray = np.exp(-2j * np.pi * np.outer(k, k) / n)
    return out


def test_range_profile_equals_explicit_dft(frame: np.ndarray) -> None:
    w = np.hanning(128)
    w = w / w.mean()
    want = (np.abs((frame * w) @ _dft(128).T) ** 2).sum(axis=0)
    got = range_profile(frame[:, None, None, :], range_window="hann")
    np.testing.assert_allclose(got, want, rtol=1e-9)


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
def test_range_doppler_equals_explicit_2d_dft(frame: np.ndarray, tier: str) -> None:
    x = frame - frame.mean(axis=0, keepdims=True)
    spec = _dft(128) @ x @ _dft(128).T  # [doppler, range]
    want = np.fft.fftshift(spec, axes=0).T  # [range, doppler centred]
    rd = range_doppler(
        frame.astype(np.complex64)[:, None, None, :], range_window="rect", doppler_window="rect", tier=tier
    )
    np.testing.assert_allclose(rd[:, :, 0, 0], want, rtol=0, atol=2e-5 * np.abs(want).max())


def test_matches_openradar_range_and_doppler_processing(frame: np.ndarray) -> None:
    dsp = pytest.importorskip("mmwave.dsp")
    radar_cube = dsp.range_processing(frame[:, None, :])  # (chirps, rx, range)
    with np.errstate(divide="ignore"):  # openradar takes log2 of exact zeros
        _, aoa_input = dsp.doppler_processing(
            radar_cube, num_tx_antennas=1, clutter_removal_enabled=True, interleaved=False, accumulate=False
        )
    theirs = aoa_input[:, 0, :]  # (range, doppler) not centred
    ours = np.fft.ifftshift(
        range_doppler(frame[:, None, None, :], range_window="rect", doppler_window="rect", tier="numpy")[:, :, 0, 0],
        axes=1,
    )
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-5 * np.abs(theirs).max())


def test_detections_agree_between_tiers_and_with_openradar_cfar(frame: np.ndarray) -> None:
    dsp = pytest.importorskip("mmwave.dsp")
    rd = range_doppler(frame[:, None, None, :], tier="cpu")
    power = range_doppler_power(rd).astype(np.float64)
    power[:2] = np.nan  # DC / leakage bins: never targets
    peaks = {}
    for method in ("ca", "os"):
        per_tier = []
        for tier in ("numpy", "cpu"):
            noise = cfar_noise(power, method=method, guard=(2, 2), train=(4, 4), tier=tier)  # type: ignore[arg-type]
            per_tier.append(group_peaks(power, cfar_detect(power, noise, 12.0)))
        assert per_tier[0].tolist() == per_tier[1].tolist()
        assert len(per_tier[0]) >= 1
        peaks[method] = per_tier[0]
    # the strongest target is the same for both CFARs
    assert peaks["ca"][0].tolist() == peaks["os"][0].tolist()
    # ... and openradar's 1D CA-CFAR (on log2 amplitude, along range and along Doppler, as in its
    # examples) detects it too
    log2amp = np.log2(np.sqrt(np.nan_to_num(power, nan=1.0)))
    r0, d0 = peaks["ca"][0]
    along_range = dsp.ca(log2amp[:, d0], l_bound=1.5, guard_len=4, noise_len=16)
    along_doppler = dsp.ca(log2amp[r0, :], l_bound=1.5, guard_len=4, noise_len=16)
    assert along_range[r0] and along_doppler[d0]
