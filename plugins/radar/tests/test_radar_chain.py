"""The cube -> point cloud chain on simulated scatterers with known answers, and tier agreement."""

from __future__ import annotations

import os

import numpy as np
import pytest
from sensorfusion_radar import (
    ChainConfig,
    RadarChain,
    angle_grid,
    angle_spectrum,
    cartesian_grid,
    cfar_detect,
    cfar_noise,
    group_peaks,
    radar_tensor_4d,
    range_doppler,
    range_doppler_power,
    range_doppler_with_power,
)
from sensorfusion_sim._radar import RadarScatterers, default_radar_model, fmcw_adc_cube

MODEL = default_radar_model()


def _scatterer(r_m: float, az_rad: float, el_rad: float, v_m_per_s: float, rcs: float = 1.0) -> RadarScatterers:
    d = np.array([[np.cos(el_rad) * np.sin(az_rad), np.cos(el_rad) * np.cos(az_rad), np.sin(el_rad)]])
    return RadarScatterers(d * r_m, d * v_m_per_s, np.array([rcs]), np.zeros(1, dtype=np.int64))


@pytest.mark.parametrize("tier", ["numpy", "cpu"])
@pytest.mark.parametrize(
    ("r_m", "az_deg", "el_deg", "v"),
    [(3.0, 20.0, 10.0, 1.2), (1.7, -35.0, -8.0, -2.1), (5.2, 5.0, 0.0, 0.7)],
)
def test_single_scatterer_recovered_within_one_cell(
    tier: str, r_m: float, az_deg: float, el_deg: float, v: float
) -> None:
    scat = _scatterer(r_m, np.deg2rad(az_deg), np.deg2rad(el_deg), v)
    cube = fmcw_adc_cube(MODEL, scat, noise_std=1e-3, rng=np.random.default_rng(1))
    chain = RadarChain(MODEL, ChainConfig(tier=tier))  # type: ignore[arg-type]
    pts = chain.process(cube)
    assert pts["x"].size >= 1
    i = int(np.argmax(pts["snr"]))
    p = np.array([pts["x"][i], pts["y"][i], pts["z"][i]], dtype=np.float64)
    r = np.linalg.norm(p)
    assert abs(r - r_m) <= MODEL.range_resolution_m
    assert abs(pts["velocity"][i] - v) <= MODEL.velocity_resolution_m_per_s
    az = np.degrees(np.arctan2(p[0], p[1]))
    el = np.degrees(np.arcsin(p[2] / r))
    # one azimuth resolution cell of the 8-element horizontal aperture (2/8 rad in sine space)
    assert abs(np.sin(np.radians(az)) - np.sin(np.radians(az_deg))) <= MODEL.azimuth_resolution_rad
    # the elevation aperture is one half-wavelength: its cell is wide (2 rad in sine space); check the side
    assert el_deg == 0.0 or np.sign(el) == np.sign(el_deg) or abs(el) < 5.0


def test_two_scatterers_resolved_and_static_clutter_removed() -> None:
    a = _scatterer(2.0, np.deg2rad(-20), 0.0, 1.0)
    b = _scatterer(4.0, np.deg2rad(25), 0.0, -1.5)
    wall = _scatterer(3.0, 0.0, 0.0, 0.0, rcs=50.0)
    cube = fmcw_adc_cube(MODEL, a.concat(b).concat(wall), noise_std=1e-3, rng=np.random.default_rng(2))
    pts = RadarChain(MODEL, ChainConfig(threshold_db=15.0)).process(cube)
    r = np.sqrt(pts["x"] ** 2 + pts["y"] ** 2 + pts["z"] ** 2)
    strong = np.argsort(-pts["snr"])[:2]
    found = sorted(zip(r[strong], pts["velocity"][strong], strict=True))
    assert (
        abs(found[0][0] - 2.0) <= MODEL.range_resolution_m
        and abs(found[0][1] - 1.0) <= MODEL.velocity_resolution_m_per_s
    )
    assert (
        abs(found[1][0] - 4.0) <= MODEL.range_resolution_m
        and abs(found[1][1] + 1.5) <= MODEL.velocity_resolution_m_per_s
    )
    assert not np.any((np.abs(r - 3.0) < 0.1) & (pts["velocity"] == 0)), "the static wall must be removed"
    # without clutter removal the wall is there
    raw = RadarChain(MODEL, ChainConfig(clutter_removal=False, threshold_db=15.0)).process(cube)
    r_raw = np.sqrt(raw["x"] ** 2 + raw["y"] ** 2 + raw["z"] ** 2)
    assert np.any((np.abs(r_raw - 3.0) <= MODEL.range_resolution_m) & (raw["velocity"] == 0))


def test_range_doppler_tiers_agree() -> None:
    rng = np.random.default_rng(3)
    cube = (rng.standard_normal((16, 3, 4, 32)) + 1j * rng.standard_normal((16, 3, 4, 32))).astype(np.complex64)
    a = range_doppler(cube, tier="numpy")
    b = range_doppler(cube, tier="cpu")
    assert a.shape == (32, 16, 3, 4)
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-3 * np.abs(a).max())
    np.testing.assert_allclose(range_doppler_power(b, tier="cpu"), range_doppler_power(a, tier="numpy"), rtol=1e-4)
    odd = cube[:15]
    np.testing.assert_allclose(
        range_doppler(odd, tier="cpu"), range_doppler(odd, tier="numpy"), rtol=1e-4, atol=1e-3 * np.abs(a).max()
    )
    # a lost sample (NaN, inf) is zero-filled in both tiers, never NaN everywhere
    cube[0, 0, 0, 0] = np.nan
    cube[5, 2, 3, 7] = np.inf
    got = range_doppler(cube, tier="cpu")
    assert np.all(np.isfinite(got))
    filled = np.where(np.isfinite(cube), cube, 0)
    np.testing.assert_allclose(got, range_doppler(filled, tier="numpy"), rtol=1e-4, atol=1e-3 * np.abs(a).max())
    np.testing.assert_allclose(got, range_doppler(cube, tier="numpy"), rtol=1e-4, atol=1e-3 * np.abs(a).max())
    # the fused range-Doppler + power of both tiers (even and odd Doppler sizes)
    for c in (cube, cube[:15]):
        rd_n, p_n = range_doppler_with_power(c, tier="numpy")
        rd_c, p_c = range_doppler_with_power(c, tier="cpu")
        np.testing.assert_allclose(rd_c, rd_n, rtol=1e-4, atol=1e-3 * np.abs(a).max())
        np.testing.assert_allclose(p_c, p_n, rtol=1e-4)
        np.testing.assert_allclose(p_c, range_doppler_power(rd_c, tier="cpu"), rtol=1e-6)
    # channels without a bad sample are untouched by another channel's
    np.testing.assert_allclose(got[:, :, 1], b[:, :, 1], rtol=1e-6, atol=1e-6 * np.abs(a).max())


def _power(seed: int, shape: tuple[int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.exponential(1.0, shape)
    p[5, 3] = 200.0
    return p


@pytest.mark.parametrize("method", ["ca", "os"])
def test_cfar_tiers_agree_with_nan_and_inf(method: str) -> None:
    p = _power(4, (40, 16))
    p[0, 0] = np.nan
    p[10, 15] = np.inf
    p[39, :] = np.nan
    kw = dict(method=method, guard=(1, 2), train=(3, 2), rank=0.6)
    ref = cfar_noise(p, tier="numpy", **kw)  # type: ignore[arg-type]
    cpu = cfar_noise(p, tier="cpu", **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(cpu, ref, rtol=1e-9, equal_nan=True)
    assert np.all(np.isfinite(ref[:39]))  # every cell has some valid training cell
    # the numpy reference against a direct loop at a few cells
    for r, d in [(0, 0), (5, 3), (20, 15), (38, 7)]:
        vals = []
        for i in range(-4, 5):
            for j in range(-4, 5):
                if abs(i) <= 1 and abs(j) <= 2:
                    continue
                if 0 <= r + i < p.shape[0] and np.isfinite(p[r + i, (d + j) % 16]):
                    vals.append(p[r + i, (d + j) % 16])
        want = np.mean(vals) if method == "ca" else np.sort(vals)[int(np.floor(0.6 * (len(vals) - 1)))]
        assert ref[r, d] == pytest.approx(want)


def test_cfar_parallel_path_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cpu CA-CFAR runs on the calling thread below PARALLEL_MIN_CELLS and with prange
    above: both paths against the numpy reference (NaN and inf included)."""
    from sensorfusion_radar import _cfar

    p = _power(8, (70, 40))
    p[3, 0] = np.nan
    p[60, 39] = np.inf
    kw = dict(guard=(1, 2), train=(3, 2))
    ref = cfar_noise(p, tier="numpy", **kw)  # type: ignore[arg-type]
    serial = cfar_noise(p, tier="cpu", **kw)  # type: ignore[arg-type]
    monkeypatch.setattr(_cfar, "PARALLEL_MIN_CELLS", 0)
    parallel = cfar_noise(p, tier="cpu", **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(serial, ref, rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(parallel, ref, rtol=1e-9, equal_nan=True)
    # a Doppler window as wide as the map (every cell enters and leaves the same sliding box)
    full = cfar_noise(p[:, :9], tier="cpu", guard=(1, 1), train=(1, 3))
    np.testing.assert_allclose(full, cfar_noise(p[:, :9], tier="numpy", guard=(1, 1), train=(1, 3)), rtol=1e-9)


def test_chain_detect_equals_cfar_detect_then_group_peaks() -> None:
    """RadarChain.detect fuses the threshold, the range gate and the grouping in one pass: it
    must give what the public pieces give."""
    rng = np.random.default_rng(9)
    cube = (rng.standard_normal((32, 3, 4, 64)) + 1j * rng.standard_normal((32, 3, 4, 64))).astype(np.complex64)
    cube += 5 * np.exp(2j * np.pi * (0.2 * np.arange(64) + 0.1 * np.arange(32)[:, None, None, None]))
    for grouping in (True, False):
        for max_range in (None, 2.5):
            cfg = ChainConfig(threshold_db=3.0, peak_grouping=grouping, min_range_m=0.5, max_range_m=max_range)
            chain = RadarChain(MODEL, cfg)
            rd = range_doppler(cube, tier="cpu")
            peaks, power, noise = chain.detect(rd)
            power = power.copy()
            det = cfar_detect(power, noise, 3.0)
            rng_m = np.arange(power.shape[0]) * MODEL.range_resolution_m
            det &= ((rng_m >= 0.5) & (rng_m <= (max_range or np.inf)))[:, None]
            want = group_peaks(power, det) if grouping else np.argwhere(det)
            if not grouping:
                want = want[np.argsort(-power[want[:, 0], want[:, 1]], kind="stable")]
            assert len(want) >= 3
            assert peaks.tolist() == want[: cfg.max_points].tolist()


def test_cfar_empty_and_all_nan() -> None:
    assert cfar_noise(np.zeros((0, 16)), tier="cpu").shape == (0, 16)
    out = cfar_noise(np.full((12, 16), np.nan), tier="cpu")
    assert np.all(np.isnan(out))
    with pytest.raises(ValueError, match="Doppler window"):
        cfar_noise(np.ones((10, 4)), guard=(1, 2), train=(1, 2))


def test_group_peaks_keeps_local_maxima_with_doppler_wrap() -> None:
    p = np.ones((6, 8))
    p[2, 0] = 10.0
    p[2, 7] = 9.0  # neighbour of (2, 0) through the wrap
    p[4, 4] = 5.0
    det = p > 2
    peaks = group_peaks(p, det)
    assert peaks.tolist() == [[2, 0], [4, 4]]


def test_angle_spectrum_tiers_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    grid = angle_grid(MODEL, azimuth_bins=11, elevation_bins=5)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 12)) + 1j * rng.standard_normal((7, 12))
    x[3, 4] = np.nan
    ref = angle_spectrum(x, grid.steering, tier="numpy")
    cpu = angle_spectrum(x, grid.steering, tier="cpu")
    np.testing.assert_allclose(cpu, ref, rtol=1e-10, equal_nan=True)
    assert np.all(np.isnan(ref[3])) and np.all(np.isfinite(np.delete(ref, 3, axis=0)))
    assert angle_spectrum(np.zeros((0, 12)), grid.steering, tier="cpu").shape == (0, grid.steering.shape[0])
    from sensorfusion_radar import _angle

    monkeypatch.setattr(_angle, "PARALLEL_MIN_PRODUCTS", 0)  # the prange path
    np.testing.assert_allclose(angle_spectrum(x, grid.steering, tier="cpu"), ref, rtol=1e-10, equal_nan=True)


def test_run_blocks_covers_every_index_once_and_raises_worker_errors() -> None:
    from sensorfusion_radar._pool import run_blocks

    seen = np.zeros(37, dtype=int)
    blocks: list[int] = []

    def mark(b: int, i0: int, i1: int) -> None:
        seen[i0:i1] += 1
        blocks.append(b)

    n = run_blocks(mark, 37)
    assert np.all(seen == 1) and sorted(blocks) == list(range(n))
    run_blocks(mark, 0)  # nothing to do is not an error
    # a block that itself runs blocks (a pool worker waiting on the pool could deadlock)
    inner = np.zeros(20, dtype=int)

    def nested(b: int, i0: int, i1: int) -> None:
        def count(_: int, j0: int, j1: int) -> None:
            inner[j0:j1] += 1

        run_blocks(count, 10 if b == 0 else 0)
        if b > 0:
            run_blocks(lambda _, j0, j1: count(0, 10 + j0, 10 + j1), 10)

    run_blocks(nested, 4)
    if len(os.sched_getaffinity(0)) > 1:
        assert np.all(inner == 1)

    def fail_late(b: int, i0: int, i1: int) -> None:
        if b > 0:
            raise RuntimeError(f"block {i0}-{i1} failed")

    if len(os.sched_getaffinity(0)) > 1:
        with pytest.raises(RuntimeError, match="failed"):
            run_blocks(fail_late, 10)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_run_blocks_works_in_a_forked_child_after_the_parent_used_the_pool() -> None:
    """multiprocessing's default start method on Linux forks: the child must not inherit a
    pool whose threads exist only in the parent (its blocks would never run)."""
    import multiprocessing

    from sensorfusion_radar._pool import run_blocks

    run_blocks(lambda b, i0, i1: None, 8)  # the parent's pool exists and has threads
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_blocks_in_child).get(timeout=60) == list(range(16))


def _blocks_in_child() -> list[int]:
    from sensorfusion_radar._pool import run_blocks

    seen: list[int] = []
    run_blocks(lambda b, i0, i1: seen.extend(range(i0, i1)), 16)
    return sorted(seen)


def test_tensor_4d_and_cartesian_grid_peak_at_the_target() -> None:
    az, r = np.deg2rad(15.0), 3.0
    cube = fmcw_adc_cube(MODEL, _scatterer(r, az, 0.0, 1.0), noise_std=1e-3, rng=np.random.default_rng(6))
    chain = RadarChain(MODEL, ChainConfig(azimuth_bins=31, elevation_bins=7))
    t4 = radar_tensor_4d(chain, cube)
    assert t4.shape == (MODEL.adc_samples, MODEL.chirps_per_frame, 31, 7)
    ri, di, ai, _ = np.unravel_index(np.argmax(t4), t4.shape)
    assert abs(ri * MODEL.range_resolution_m - r) <= MODEL.range_resolution_m
    assert (
        abs((di - MODEL.chirps_per_frame // 2) * MODEL.velocity_resolution_m_per_s - 1.0)
        <= MODEL.velocity_resolution_m_per_s
    )
    assert abs(np.sin(chain.grid.azimuth_rad[ai]) - np.sin(az)) <= MODEL.azimuth_resolution_rad
    xs, ys, zs = np.arange(-2.0, 2.01, 0.1), np.arange(0.5, 5.01, 0.1), np.array([0.0])
    vox = cartesian_grid(chain, t4, x_m=xs, y_m=ys, z_m=zs)
    assert vox.shape == (xs.size, ys.size, 1)
    xi, yi, _ = np.unravel_index(np.argmax(vox), vox.shape)
    assert np.hypot(xs[xi] - r * np.sin(az), ys[yi] - r * np.cos(az)) < 0.4


def test_wrong_cube_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="expected shape"):
        RadarChain(MODEL, ChainConfig()).process(np.zeros((4, 3, 4, 128), dtype=np.complex64))
