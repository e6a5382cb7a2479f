"""Radar benchmark: our cube → point cloud chain against openradar 1.0.1 on the same cube.

    python benchmarks/bench_radar.py [--repeats 15] [--chirps 128] [--samples 256] [--threshold-db 8]

Workload: one simulated frame (``sensorfusion_sim``'s FMCW model, 3 TX x 4 RX TDM-MIMO
xWR18xx-like layout, 128 chirp loops x 256 samples = 393,216 complex samples), with three
walking people's body scatterers, static clutter and noise.

Both sides do the same steps in one process on the same cube:

* **ours** (``cpu`` tier, after warm-up; channel blocks on every core): static clutter
  removal, windowed range FFT (Blackman), windowed Doppler FFT (Hamming), non-coherent
  integration, 2D CA-CFAR, peak grouping, TDM-MIMO Doppler compensation, azimuth × elevation
  beamforming → ``x, y, z, velocity, snr``.
* **openradar** (``import mmwave``), following its own examples: ``range_processing``
  (Blackman), ``doppler_processing`` (clutter removal, Hamming, log2 integration),
  ``ca_`` CA-CFAR along Doppler and along range (``np.apply_along_axis``), mask AND,
  ``peak_grouping_along_doppler``, ``naive_xyz`` (azimuth FFT + elevation phase) → ``x, y, z``.
  openradar 1.0.1 uses ``np.complex_`` (removed in numpy 2); this script aliases it to
  ``np.complex128`` before calling ``naive_xyz``.

The CFAR thresholds are matched: ours is ``T`` dB of power above the noise estimate; openradar's
detection matrix sums ``log2 |X|`` over the ``V`` virtual antennas, so its ``l_bound`` is
``V * T / (20 log10 2)``. With its examples' ``l_bound`` of 1.5 openradar turns thousands of
noise cells into points (and spends longer on them); that figure is printed too but is not the
headline.

Then the UART parsers' throughput (MB/s) from ``benchmarks/_radar_parser_bench.py`` when the
ti-mmwave driver provides it. A table, then one JSON line whose ``ratio_*`` keys are ours /
peer speed (peer time / our time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def _cube(chirps: int, samples: int) -> tuple[Any, np.ndarray]:
    from sensorfusion_sim import PeopleSim
    from sensorfusion_sim._radar import SimRadar, fmcw_adc_cube

    from sensorfusion.schema import RadarModel

    radar = SimRadar(0, seed=11, room_m=(6.0, 6.0), fps=10.0, noise_std=0.002)
    m = radar.model
    model = RadarModel(
        **{
            **m.model_dump(),
            "chirps_per_frame": chirps,
            "adc_samples": samples,
            "sample_rate_ksps": m.sample_rate_ksps * samples / m.adc_samples,
            "ramp_end_time_us": m.ramp_end_time_us * 1.0,
        }
    )
    people = PeopleSim(11, 3, (6.0, 6.0))
    scat = radar.scatterers(people, 2.0)
    cube = fmcw_adc_cube(model, scat, noise_std=0.002, rng=np.random.default_rng(0))
    return model, cube


def _time(fn: Callable[[], Any], repeats: int, warmup: int = 2) -> tuple[float, Any]:
    out = None
    for _ in range(warmup):
        out = fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), out


def _openradar_fft(cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """openradar's range + Doppler processing: ``(det_matrix (R, D), aoa_input (R, V, D))``."""
    import mmwave.dsp as dsp
    from mmwave.dsp.utils import Window

    n_l, n_t, n_r, n_s = cube.shape
    adc = cube.reshape(n_l * n_t, n_r, n_s)  # TDM interleaved: chirp l of TX t at l*T + t
    radar_cube = dsp.range_processing(adc, window_type_1d=Window.BLACKMAN)
    with np.errstate(divide="ignore"):
        det_matrix, aoa_input = dsp.doppler_processing(
            radar_cube, num_tx_antennas=n_t, clutter_removal_enabled=True, window_type_2d=Window.HAMMING
        )
    return det_matrix, aoa_input


def _openradar_detect(det_matrix: np.ndarray, l_bound: float) -> np.ndarray:
    """openradar's CFAR as in its examples (``ca_`` along Doppler and along range, AND) and
    ``peak_grouping_along_doppler``: a structured array of objects."""
    import mmwave.dsp as dsp

    fft2d_sum = det_matrix.astype(np.int64)
    thr_dop, _ = np.apply_along_axis(
        func1d=dsp.ca_, axis=0, arr=fft2d_sum.T, l_bound=l_bound, guard_len=4, noise_len=16
    )
    thr_rng, noise_rng = np.apply_along_axis(
        func1d=dsp.ca_, axis=0, arr=fft2d_sum, l_bound=l_bound, guard_len=4, noise_len=16
    )
    mask = (det_matrix > thr_dop.T) & (det_matrix > thr_rng)
    idx = np.argwhere(mask)
    obj = np.zeros(idx.shape[0], dtype=[("rangeIdx", "<i4"), ("dopplerIdx", "<i4"), ("peakVal", "<f4"), ("SNR", "<f4")])
    obj["rangeIdx"], obj["dopplerIdx"] = idx[:, 0], idx[:, 1]
    obj["peakVal"] = fft2d_sum[idx[:, 0], idx[:, 1]]
    obj["SNR"] = fft2d_sum[idx[:, 0], idx[:, 1]] - noise_rng[idx[:, 0], idx[:, 1]]
    out: np.ndarray = dsp.peak_grouping_along_doppler(obj, det_matrix, det_matrix.shape[1])
    return out


def _openradar_chain(cube: np.ndarray, l_bound: float) -> dict[str, np.ndarray]:
    import mmwave.dsp as dsp

    if not hasattr(np, "complex_"):
        np.complex_ = np.complex128  # type: ignore[attr-defined]  # openradar 1.0.1 predates numpy 2
    n_t, n_r = cube.shape[1], cube.shape[2]
    det_matrix, aoa_input = _openradar_fft(cube)
    obj = _openradar_detect(det_matrix, l_bound)
    virt = aoa_input[obj["rangeIdx"], :, obj["dopplerIdx"]]  # (K, 12)
    if virt.shape[0] == 0:
        return {"x": np.zeros(0), "y": np.zeros(0), "z": np.zeros(0)}
    with np.errstate(invalid="ignore", divide="ignore"):
        x, y, z = dsp.naive_xyz(virt.T, num_tx=n_t, num_rx=n_r)
    rng = obj["rangeIdx"].astype(np.float64)
    return {"x": x * rng, "y": y * rng, "z": z * rng}


def matched_l_bound(threshold_db: float, virtual_antennas: int) -> float:
    """openradar's CFAR threshold equal to ours: its detection matrix sums ``log2 |X|`` over the
    virtual antennas, so ``T`` dB of power above the noise is ``V * T / (20 log10 2)`` there."""
    return virtual_antennas * threshold_db / (20.0 * np.log10(2.0))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--chirps", type=int, default=128)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--threshold-db", type=float, default=8.0, help="our CFAR threshold; openradar's is matched to it")
    args = ap.parse_args(argv)

    from sensorfusion_radar import ChainConfig, RadarChain

    model, cube = _cube(args.chirps, args.samples)
    n_virtual = cube.shape[1] * cube.shape[2]
    l_bound = matched_l_bound(args.threshold_db, n_virtual)
    chain = RadarChain(
        model,
        ChainConfig(tier="cpu", range_window="blackman", doppler_window="hamming", threshold_db=args.threshold_db),
    )
    rows: list[tuple[str, float, float]] = []

    t_ours, pts = _time(lambda: chain.process(cube), args.repeats)
    t_peer, peer = _time(lambda: _openradar_chain(cube, l_bound), args.repeats)
    rows.append(("cube -> point cloud (full chain)", t_ours, t_peer))

    # stage by stage
    t_fft_ours, rd = _time(lambda: chain.range_doppler(cube), args.repeats)
    t_fft_peer, (det_matrix, _) = _time(lambda: _openradar_fft(cube), args.repeats)
    rows.append(("clutter removal + range FFT + Doppler FFT", t_fft_ours, t_fft_peer))
    t_cfar_ours, _ = _time(lambda: chain.detect(rd), args.repeats)
    t_cfar_peer, _ = _time(lambda: _openradar_detect(det_matrix, l_bound), args.repeats)
    rows.append(("power + CFAR + peak grouping", t_cfar_ours, t_cfar_peer))
    # openradar with its examples' thresholds (l_bound 1.5 along Doppler, 2.5 along range is
    # what they use; here 1.5 for both): thousands of noise cells become points
    t_peer_ex, peer_ex = _time(lambda: _openradar_chain(cube, 1.5), max(3, args.repeats // 3))

    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"cube [chirps, tx, rx, samples] = {list(cube.shape)} complex64; ours: cpu tier "
        f"(channel blocks on {threads} cores); peer: openradar 1.0.1 (numpy, one core)"
    )
    print(
        f"median of {args.repeats} runs after warm-up; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"threshold {args.threshold_db:g} dB (openradar l_bound {l_bound:.2f}); points: ours {pts['x'].size}, "
        f"openradar {peer['x'].size}"
    )
    print(f"{'stage':45s} {'ours ms':>9s} {'openradar ms':>13s} {'ratio':>7s}")
    for name, a, b in rows:
        print(f"{name:45s} {a * 1e3:9.2f} {b * 1e3:13.2f} {b / a:7.1f}x")
    print(
        f"(openradar with its examples' l_bound 1.5: {t_peer_ex * 1e3:.2f} ms, {peer_ex['x'].size} points, "
        f"{t_peer_ex / t_ours:.1f}x — not the headline: most of those points are noise)"
    )
    result: dict[str, Any] = {
        "cube_shape": list(cube.shape),
        "cores": threads,
        "threshold_db": args.threshold_db,
        "openradar_l_bound": round(l_bound, 3),
        "ours_chain_ms": round(t_ours * 1e3, 3),
        "openradar_chain_ms": round(t_peer * 1e3, 3),
        "ratio_chain": round(t_peer / t_ours, 2),
        "ratio_fft": round(t_fft_peer / t_fft_ours, 2),
        "ratio_cfar": round(t_cfar_peer / t_cfar_ours, 2),
        "ratio_chain_openradar_example_threshold": round(t_peer_ex / t_ours, 2),
        "points_ours": int(pts["x"].size),
        "points_openradar": int(peer["x"].size),
        "points_openradar_example_threshold": int(peer_ex["x"].size),
    }
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from _radar_parser_bench import bench_parsers  # type: ignore[import-not-found]
    except ImportError:
        print("parser throughput: benchmarks/_radar_parser_bench.py not present")
    else:
        parsers = bench_parsers()
        print(f"{'parser (ti-mmwave)':45s} {'MB/s':>9s} {'peer MB/s':>13s} note")
        for row in parsers.get("rows", []):
            name, ours_mb, peer_mb, note = row
            peer_s = f"{peer_mb:13.1f}" if peer_mb is not None else f"{'-':>13s}"
            print(f"{name:45s} {ours_mb:9.1f} {peer_s} {note}")
        for k, v in parsers.items():
            if k != "rows" and isinstance(v, (int, float)):
                result[k if k.startswith("ratio_") else f"parser_{k}"] = round(float(v), 3)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
