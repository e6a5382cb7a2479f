"""Frame encoders/parsers: round trips, checksums, and hypothesis fuzzing (never raise)."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sensorfusion_ti_mmwave import FORMATS, MAGIC, RadarFrame, StreamParser, encode_frame, parse_frame
from sensorfusion_ti_mmwave._tlv import FrameCorrupt, header_checksum


def _frame(fmt: str, seed: int = 0, n: int = 7) -> RadarFrame:
    rng = np.random.default_rng(seed)
    pts = np.column_stack(
        [rng.uniform(-3, 3, n), rng.uniform(0.5, 8, n), rng.uniform(-1, 1, n), rng.uniform(-3, 3, n)]
    ).astype(np.float32)
    f = RadarFrame(42, points=pts, snr_db=rng.uniform(0, 50, n).astype(np.float32))
    if fmt == "oob":
        f.noise_db = rng.uniform(0, 20, n).astype(np.float32)
        f.range_profile = rng.integers(0, 60000, 64).astype(np.uint16)
        f.noise_profile = rng.integers(0, 60000, 64).astype(np.uint16)
        f.range_doppler = rng.integers(0, 60000, 64 * 16).astype(np.uint16)
        f.azimuth_heatmap = rng.integers(-3000, 3000, 64 * 8 * 2).astype(np.int16)
        f.azel_heatmap = rng.integers(-3000, 3000, 64 * 12 * 2).astype(np.int16)
        f.stats = {"inter_frame_processing_time": 123, "transmit_output_time": 45, "active_frame_cpu_load": 30}
        f.temperature = {"valid": 0, "time_ms": 999, "rx0": 40, "dig1": 41}
    else:
        f.tracks = RadarFrame.empty_tracks(3)
        f.tracks["tid"] = [1, 2, 3]
        f.tracks["pos"] = rng.normal(size=(3, 3))
        f.tracks["ec"] = rng.normal(size=(3, 16))
        f.target_index = rng.integers(0, 4, n).astype(np.uint8)
        if fmt == "tracking":
            f.heights = RadarFrame.empty_heights(3)
            f.heights["tid"] = [1, 2, 3]
            f.heights["max_z"] = [1.8, 1.7, 1.2]
            f.presence = 1
    return f


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(fmt: str) -> None:
    f = _frame(fmt)
    raw = encode_frame(fmt, f)  # type: ignore[arg-type]
    assert raw[:8] == MAGIC
    g, used = parse_frame(fmt, raw)  # type: ignore[arg-type]
    assert used == len(raw) and g.frame_number == 42
    tol = 0 if fmt == "oob" else 0.02 * 8  # 0.01 rad at 8 m
    np.testing.assert_allclose(g.points[:, :3], f.points[:, :3], atol=tol + 1e-6)
    np.testing.assert_allclose(g.snr_db, f.snr_db, atol=0.05)
    if fmt == "oob":
        assert len(raw) % 32 == 0
        assert g.noise_db is not None
        np.testing.assert_allclose(g.noise_db, f.noise_db, atol=0.05)
        for k in ("range_profile", "noise_profile", "range_doppler", "azimuth_heatmap", "azel_heatmap"):
            np.testing.assert_array_equal(getattr(g, k), getattr(f, k))
        assert g.stats is not None and g.stats["transmit_output_time"] == 45
        assert g.temperature is not None and g.temperature["time_ms"] == 999 and g.temperature["dig1"] == 41
    else:
        assert g.tracks is not None and f.tracks is not None
        np.testing.assert_array_equal(g.tracks, f.tracks)
        np.testing.assert_array_equal(g.target_index, f.target_index)
    if fmt == "tracking":
        assert g.presence == 1
        np.testing.assert_array_equal(g.heights, f.heights)


def test_oob_header_layout() -> None:
    raw = encode_frame("oob", _frame("oob"))
    _magic, _version, total, _platform, number, _cpu, ndet, _ntlv, sub = struct.unpack_from("<8s8I", raw)
    assert (total, number, ndet, sub) == (len(raw), 42, 7, 0)
    t, length = struct.unpack_from("<2I", raw, 40)
    assert (t, length) == (1, 7 * 16)  # TLV length excludes the TLV header


def test_pc3d_header_checksum_and_inclusive_tlv_length() -> None:
    raw = bytearray(encode_frame("pc3d", _frame("pc3d")))
    assert struct.unpack_from("<9I", raw, 8)[1] == len(raw)
    t, length = struct.unpack_from("<2I", raw, 48)
    assert t == 6 and length == 8 + 20 + 7 * 8  # TLV length includes the TLV header
    head = bytes(raw[:46]) + b"\0\0"
    assert struct.unpack_from("<H", raw, 46)[0] == header_checksum(head)
    raw[30] ^= 1
    with pytest.raises(FrameCorrupt, match="checksum"):
        parse_frame("pc3d", raw)


def test_spherical_points_decode_to_ti_axes() -> None:
    f = RadarFrame(
        1,
        points=np.array([[0.0, 2.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]], np.float32),
        snr_db=np.zeros(3, np.float32),
    )
    g, _ = parse_frame("tracking", encode_frame("tracking", f))
    np.testing.assert_allclose(g.points, f.points, atol=0.01)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dropped_frames_counted_from_numbers(fmt: str) -> None:
    sp = StreamParser(fmt)  # type: ignore[arg-type]
    raw = b"".join(encode_frame(fmt, RadarFrame(n)) for n in (5, 6, 9, 10))  # type: ignore[arg-type]
    assert [f.frame_number for f in sp.feed(raw)] == [5, 6, 9, 10]
    assert sp.counters.dropped == 2 and sp.counters.corrupt == 0


def test_byte_by_byte_feed() -> None:
    sp = StreamParser("oob")
    raw = encode_frame("oob", _frame("oob")) * 2
    out = []
    for i in range(len(raw)):
        out += sp.feed(raw[i : i + 1])
    assert len(out) == 2 and sp.counters.garbage_bytes == 0


_VALID = {fmt: encode_frame(fmt, _frame(fmt, n=3)) for fmt in FORMATS}  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(FORMATS), data=st.binary(max_size=600))
def test_fuzz_random_bytes_never_raise(fmt: str, data: bytes) -> None:
    sp = StreamParser(fmt)  # type: ignore[arg-type]
    sp.feed(MAGIC + data)
    sp.feed(data)
    c = sp.counters
    assert c.bytes_in == 8 + 2 * len(data)
    try:
        parse_frame(fmt, MAGIC + data)  # type: ignore[arg-type]
    except FrameCorrupt:
        pass


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(FORMATS),
    pos=st.integers(0, 10_000),
    value=st.integers(0, 255),
    cut=st.integers(1, 10_000),
    chunk=st.integers(1, 97),
)
def test_fuzz_mutated_frames(fmt: str, pos: int, value: int, cut: int, chunk: int) -> None:
    good = _VALID[fmt]
    bad = bytearray(good)
    pos %= len(bad)
    flipped = bad[pos] != value
    bad[pos] = value
    stream = bytes(bad) + good[: cut % len(good)] + good + good
    sp = StreamParser(fmt)  # type: ignore[arg-type]
    out = []
    for i in range(0, len(stream), chunk):
        out += sp.feed(stream[i : i + chunk])
    c = sp.counters
    # the two intact frames at the end are always recovered
    assert len(out) >= 2 and out[-1].frame_number == 42
    # the truncated copy is detected (it contains the next magic word)
    assert c.corrupt >= 1 or cut % len(good) < 8
    if fmt == "pc3d" and flipped and 8 <= pos < 48:
        assert c.corrupt >= 1  # any header change breaks the checksum


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("cut", [1, 5, 7])
def test_frame_cut_by_a_few_bytes_does_not_lose_the_next(fmt: str, cut: int) -> None:
    a, b, c = (encode_frame(fmt, _frame(fmt, seed=n)) for n in range(3))  # type: ignore[arg-type]
    stream = a[:-cut] + b + c
    for chunk in (len(stream), 3):
        sp = StreamParser(fmt)  # type: ignore[arg-type]
        out = []
        for i in range(0, len(stream), chunk):
            out += sp.feed(stream[i : i + chunk])
        # the cut frame may be decoded (its tail is the next magic's first bytes) but it is
        # counted as truncated once the magic completes, and both following frames are kept
        assert len(out) in (2, 3)
        assert sp.counters.truncated == 1
        np.testing.assert_array_equal(out[-1].points, parse_frame(fmt, c)[0].points)  # type: ignore[arg-type]
        np.testing.assert_array_equal(out[-2].points, parse_frame(fmt, b)[0].points)  # type: ignore[arg-type]
