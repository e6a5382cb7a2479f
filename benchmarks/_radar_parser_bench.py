"""Radar parser throughput: the TI UART frame parsers (MB/s) and DCA1000 reassembly + layout.

``bench_parsers()`` returns a dict of figures (``*_mb_per_s``) and ``ratio_*`` keys (ours /
peer speed, measured in the same process on the same bytes). ``benchmarks/bench_radar.py``
imports it; run this file alone for a table and one JSON line.

Peers (openradar 1.0.1, ``import mmwave``):
* UART: ``mmwave.dataloader.radars.TI._process`` parses the out-of-box header and walks TLVs,
  but decodes TLV 1 in the SDK 2.x layout (not SDK 3.x floats) and has no pc3d/tracking
  support. The only like-for-like input is an ``oob`` stream of TLVs it skips (range and noise
  profiles, stats): there it does *less* work than we do (it skips, we decode into arrays).
  (TLV 6 is the 2D point cloud to openradar, so no stats TLV.) That is the ``ratio_uart_oob_profiles`` row; the other formats have no peer.
* DCA1000: ``mmwave.dataloader.adc.DCA1000.read`` is bound to a live socket and fixed xWR1443
  constants, so reassembly has no peer; ``DCA1000.organize`` (the 2-lane I/Q reordering) is
  the peer of our ``adc_to_cube`` layout step (``ratio_adc_layout``).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from sensorfusion_ti_mmwave import AdcLayout, RadarFrame, Reassembler, StreamParser, adc_to_cube, encode_frame

__all__ = ["bench_parsers"]

CHUNK = 1 << 16  # bytes per port read


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _stream(fmt: str, n_frames: int, seed: int = 0, profiles_only: bool = False) -> tuple[bytes, int]:
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_frames):
        if profiles_only:
            f = RadarFrame(
                i,
                range_profile=rng.integers(0, 60000, 256).astype(np.uint16),
                noise_profile=rng.integers(0, 60000, 256).astype(np.uint16),
            )
        else:
            k = int(rng.integers(20, 120))  # a few people: tens to ~100 points
            pts = np.column_stack(
                [rng.uniform(-3, 3, k), rng.uniform(0.5, 8, k), rng.uniform(-1, 1, k), rng.uniform(-2, 2, k)]
            ).astype(np.float32)
            f = RadarFrame(i, points=pts, snr_db=rng.uniform(5, 40, k).astype(np.float32))
            if fmt != "oob":
                f.tracks = RadarFrame.empty_tracks(3)
                f.target_index = rng.integers(0, 3, k).astype(np.uint8)
            if fmt == "tracking":
                f.heights = RadarFrame.empty_heights(3)
                f.presence = 1
        parts.append(encode_frame(fmt, f))  # type: ignore[arg-type]
        if i % 10 == 0:  # some garbage between frames
            parts.append(rng.integers(0, 256, 64, dtype=np.uint8).tobytes().replace(b"\x02\x01", b"\0\0"))
    return b"".join(parts), n_frames


def _ours(fmt: str, blob: bytes) -> Callable[[], int]:
    def run() -> int:
        sp = StreamParser(fmt)  # type: ignore[arg-type]
        n = 0
        for i in range(0, len(blob), CHUNK):
            n += len(sp.feed(blob[i : i + CHUNK]))
        return n

    return run


def _openradar_process() -> Any:
    try:
        from mmwave.dataloader.radars import TI  # type: ignore[import-untyped]
    except Exception:
        return None
    ti = TI.__new__(TI)  # bypass the constructor: it opens serial ports
    ti.mode, ti.sdk_version, ti.verbose = 0, 3.0, False
    ti.num_rx_ant, ti.num_tx_ant, ti.num_virtual_ant = 4, 2, 8
    return ti


def _theirs(ti: Any, blob: bytes) -> Callable[[], int]:
    def run() -> int:
        n = 0
        pending = b""
        for i in range(0, len(blob), CHUNK):
            buf = pending + blob[i : i + CHUNK]
            # feed only whole frames (openradar assumes a read ends on a frame boundary)
            cut = buf.rfind(b"\x02\x01\x04\x03\x06\x05\x08\x07")
            whole, pending = (buf[:cut], buf[cut:]) if cut > 0 else (b"", buf)
            if whole:
                out = ti._process(whole)
                n += sum(1 for d in out if d is not None)
        return n

    return run


def _packets(frame_bytes: int, n_frames: int, seed: int = 0) -> list[bytes]:
    rng = np.random.default_rng(seed)
    blob = rng.integers(-2000, 2000, frame_bytes * n_frames // 2, dtype=np.int16).tobytes()
    pkts = []
    for seq, off in enumerate(range(0, len(blob), 1456), start=1):
        pkts.append(seq.to_bytes(4, "little") + off.to_bytes(6, "little") + blob[off : off + 1456])
    order = np.arange(len(pkts))
    swaps = rng.random(len(pkts) - 1) < 0.05
    for i in np.flatnonzero(swaps):
        order[i], order[i + 1] = order[i + 1], order[i]
    return [pkts[i] for i in order]


def bench_parsers(*, n_frames: int = 2000, repeats: int = 5) -> dict[str, Any]:
    """Parser throughput per demo format, DCA1000 reassembly and ADC layout, with openradar peers."""
    res: dict[str, Any] = {"rows": []}
    ti = _openradar_process()
    for fmt in ("oob", "pc3d", "tracking"):
        blob, n = _stream(fmt, n_frames)
        run = _ours(fmt, blob)
        assert run() == n, f"{fmt}: parser lost frames"
        t = _median_time(run, repeats)
        mbps = len(blob) / t / 1e6
        res[f"uart_{fmt}_mb_per_s"] = mbps
        res[f"uart_{fmt}_frames_per_s"] = n / t
        res["rows"].append(
            (f"UART {fmt} points+tracks", mbps, None, "no peer (openradar has no SDK 3.x / pc3d / tracking decoder)")
        )
    blob, n = _stream("oob", n_frames, profiles_only=True)
    run = _ours("oob", blob)
    t_ours = _median_time(run, repeats)
    res["uart_oob_profiles_mb_per_s"] = len(blob) / t_ours / 1e6
    if ti is not None:
        theirs = _theirs(ti, blob)
        got = theirs()
        t_peer = _median_time(theirs, repeats)
        res["peer_uart_oob_profiles_mb_per_s"] = len(blob) / t_peer / 1e6
        res["ratio_uart_oob_profiles"] = t_peer / t_ours
        res["peer_uart_oob_profiles_frames"] = got
        res["rows"].append(
            (
                "UART oob range/noise profiles",
                len(blob) / t_ours / 1e6,
                len(blob) / t_peer / 1e6,
                "openradar TI._process (skips these TLVs; we decode them)",
            )
        )
    else:
        res["rows"].append(
            ("UART oob range/noise profiles", len(blob) / t_ours / 1e6, None, "openradar not importable")
        )

    layout = AdcLayout("xwr18xx", 2, True, False, loops=64, num_tx=3, num_rx=4, samples=256)
    frames = 20
    pkts = _packets(layout.frame_bytes, frames)

    def reasm() -> int:
        r = Reassembler(layout.frame_bytes)
        n = 0
        for p in pkts:
            n += len(r.feed_packet(p))
        return n + len(r.flush())

    assert reasm() == frames
    t = _median_time(reasm, repeats)
    total = layout.frame_bytes * frames
    res["dca_reassembly_mb_per_s"] = total / t / 1e6
    res["rows"].append(
        ("DCA1000 reassembly (5% reordered)", total / t / 1e6, None, "no peer (openradar's reader is socket-bound)")
    )

    raw = np.random.default_rng(1).integers(-2000, 2000, layout.frame_bytes // 2, dtype=np.int16)
    t_ours = _median_time(lambda: adc_to_cube(raw, layout), repeats * 4)
    res["dca_layout_mb_per_s"] = layout.frame_bytes / t_ours / 1e6
    try:
        from mmwave.dataloader.adc import DCA1000  # type: ignore[import-untyped]

        chirps = layout.loops * layout.num_tx
        ref = DCA1000.organize(raw, chirps, layout.num_rx, layout.samples)
        ours = adc_to_cube(raw, layout).reshape(chirps, layout.num_rx, layout.samples)
        assert np.array_equal(ours, ref.astype(np.complex64)), "layout disagrees with openradar's organize"
        t_peer = _median_time(lambda: DCA1000.organize(raw, chirps, layout.num_rx, layout.samples), repeats * 4)
        res["peer_dca_layout_mb_per_s"] = layout.frame_bytes / t_peer / 1e6
        res["ratio_adc_layout"] = t_peer / t_ours
        res["rows"].append(
            (
                "DCA1000 2-lane I/Q layout",
                layout.frame_bytes / t_ours / 1e6,
                layout.frame_bytes / t_peer / 1e6,
                "openradar DCA1000.organize (same output, checked)",
            )
        )
    except ImportError:
        res["rows"].append(
            ("DCA1000 2-lane I/Q layout", layout.frame_bytes / t_ours / 1e6, None, "openradar not importable")
        )
    return res


def main() -> None:
    res = bench_parsers()
    print(f"{'row':38s} {'ours MB/s':>10s} {'peer MB/s':>10s} {'ratio':>7s}  peer")
    for name, ours, peer, note in res["rows"]:
        ratio = f"{ours / peer:7.1f}" if peer else "      -"
        print(f"{name:38s} {ours:10.1f} {peer if peer else float('nan'):10.1f} {ratio}  {note}")
    out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in res.items() if k != "rows"}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
