"""UART frame formats of TI's mmWave demos: encoders, parsers and a resynchronising stream parser.

Three formats (all little-endian, all starting with the magic word ``02 01 04 03 06 05 08 07``):

``oob`` - the SDK 3.x out-of-box demo. 40-byte header ``<8s 8I``: magic, version,
    totalPacketLen, platform, frameNumber, timeCpuCycles, numDetectedObj, numTLVs,
    subFrameNumber. TLV header ``<2I`` (type, length) where *length excludes the 8-byte TLV
    header*. The packet is padded to a multiple of 32 bytes (totalPacketLen includes it).
    TLVs: 1 detected points ``<4f`` (x, y, z, v); 2 range profile and 3 noise profile
    (``uint16`` per range bin, Q9 log2 magnitude); 4 azimuth static heatmap and 8
    azimuth/elevation static heatmap (``int16`` pairs imag, real per range bin x virtual
    antenna); 5 range-Doppler heatmap (``uint16``); 6 stats ``<6I``; 7 side info ``<2h``
    per point (snr, noise in 0.1 dB); 9 temperature stats ``<iI10H``.

``pc3d`` - the legacy 3D people-counting demo. 48-byte header ``<8s 9I 2H``: magic,
    version, totalPacketLen, platform, frameNumber, subFrameNumber, chirpProcessingMargin,
    frameProcessingMargin, trackProcessTime, uartSentTime, numTLVs, checksum. The checksum
    makes the 16-bit one's-complement sum of the 24 header half-words 0xFFFF (IP style).
    TLV length *includes* the 8-byte TLV header. TLVs: 6 point cloud = point unit ``<5f``
    (elevation rad, azimuth rad, doppler m/s, range m, snr) then ``<2bh2H`` per point
    (elevation, azimuth, doppler, range, snr, each times its unit); 7 target list ``<I27f``
    per target (tid, pos xyz, vel xyz, acc xyz, 16 error-covariance, gating gain,
    confidence); 8 target index (``uint8`` per point of the previous frame).

``tracking`` - the current people-tracking demo: the ``oob`` header and TLV rule, with TLVs
    1010 tracks ``<I27f`` (as above), 1011 target index ``uint8``, 1012 target height
    ``<I2f`` (tid, maxZ, minZ), 1020 compressed spherical point cloud (unit ``<5f`` then
    ``<2bh2H`` per point, as in ``pc3d``), 1021 presence ``<I``.

Assumptions (no device at hand; layouts from TI's published demo documentation and GUIs as
remembered, see the README): spherical SNR values times their unit are treated as dB; the
``pc3d`` padding rule is none (totalPacketLen is the exact sum); the spherical point axes are
TI's (x right, y boresight, z up): ``x = r cos(el) sin(az)``, ``y = r cos(el) cos(az)``,
``z = r sin(el)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sensorfusion import SchemaError

__all__ = [
    "FORMATS",
    "MAGIC",
    "FrameCorrupt",
    "FrameFormat",
    "ParseCounters",
    "PointUnits",
    "RadarFrame",
    "StreamParser",
    "encode_frame",
    "header_checksum",
    "parse_frame",
]

MAGIC = bytes([2, 1, 4, 3, 6, 5, 8, 7])
FrameFormat = Literal["oob", "pc3d", "tracking"]
FORMATS: tuple[str, ...] = ("oob", "pc3d", "tracking")

_OOB_HEADER = struct.Struct("<8s8I")  # 40 bytes
_PC3D_HEADER = struct.Struct("<8s9I2H")  # 48 bytes
_TLV = struct.Struct("<2I")
_UNITS = struct.Struct("<5f")
_SPH_POINT = np.dtype([("el", "i1"), ("az", "i1"), ("doppler", "<i2"), ("range", "<u2"), ("snr", "<u2")])
_TRACK = np.dtype(
    [
        ("tid", "<u4"),
        ("pos", "<f4", 3),
        ("vel", "<f4", 3),
        ("acc", "<f4", 3),
        ("ec", "<f4", 16),
        ("g", "<f4"),
        ("confidence", "<f4"),
    ]
)
_HEIGHT = np.dtype([("tid", "<u4"), ("max_z", "<f4"), ("min_z", "<f4")])
_MAX_PACKET = 1 << 20
_NO_POINTS_F32 = np.zeros(0, np.float32)
_NO_POINTS_F32.flags.writeable = False
_NO_POINTS_XYZV = np.zeros((0, 4), np.float32)
_NO_POINTS_XYZV.flags.writeable = False
_MAX_TLVS = 64

# TLV type numbers
OOB_POINTS, OOB_RANGE, OOB_NOISE, OOB_AZ_HEAT, OOB_RD_HEAT, OOB_STATS, OOB_SIDE, OOB_AZEL_HEAT, OOB_TEMP = range(1, 10)
PC3D_POINTS, PC3D_TARGETS, PC3D_INDEX = 6, 7, 8
TRK_TRACKS, TRK_INDEX, TRK_HEIGHT, TRK_POINTS, TRK_PRESENCE = 1010, 1011, 1012, 1020, 1021


@dataclass(frozen=True)
class PointUnits:
    """Quantisation steps of the compressed spherical point cloud (``pc3d``, ``tracking``)."""

    elevation_rad: float = 0.01
    azimuth_rad: float = 0.01
    doppler_m_per_s: float = 0.05
    range_m: float = 0.00025
    snr_db: float = 0.04


@dataclass(slots=True)
class RadarFrame:
    """One decoded (or to-be-encoded) UART frame; every field is optional except the number.

    Points are in TI radar axes (x right, y boresight, z up), metres and m/s.

    Attributes:
        frame_number: the firmware's frame counter.
        points: ``(N, 4)`` float32 x, y, z, radial velocity.
        snr_db / noise_db: ``(N,)`` float32 per point (NaN where the format sends none).
        tracks: ``(T,)`` structured array (tid, pos, vel, acc, ec, g, confidence).
        target_index: ``(N,)`` uint8, track per point (253/254/255: TI's special values).
        heights: ``(T,)`` structured (tid, max_z, min_z).
        presence: presence flag, or None.
        range_profile / noise_profile / range_doppler: raw uint16 arrays.
        azimuth_heatmap / azel_heatmap: raw int16 arrays (imag, real pairs).
        stats / temperature: dicts of the stats and temperature TLVs.
        subframe: the subframe number; version / platform: header fields.
        units: the spherical point units used (spherical formats).
    """

    frame_number: int
    points: np.ndarray = field(default_factory=lambda: _NO_POINTS_XYZV)
    snr_db: np.ndarray | None = None
    noise_db: np.ndarray | None = None
    tracks: np.ndarray | None = None
    target_index: np.ndarray | None = None
    heights: np.ndarray | None = None
    presence: int | None = None
    range_profile: np.ndarray | None = None
    noise_profile: np.ndarray | None = None
    range_doppler: np.ndarray | None = None
    azimuth_heatmap: np.ndarray | None = None
    azel_heatmap: np.ndarray | None = None
    stats: dict[str, int] | None = None
    temperature: dict[str, int] | None = None
    subframe: int = 0
    version: int = 0x03060000
    platform: int = 0xA1843
    units: PointUnits = PointUnits()

    @staticmethod
    def empty_tracks(n: int = 0) -> np.ndarray:
        return np.zeros(n, _TRACK)

    @staticmethod
    def empty_heights(n: int = 0) -> np.ndarray:
        return np.zeros(n, _HEIGHT)


_STATS_KEYS = (
    "inter_frame_processing_time",
    "transmit_output_time",
    "inter_frame_processing_margin",
    "inter_chirp_processing_margin",
    "active_frame_cpu_load",
    "inter_frame_cpu_load",
)
_TEMP_KEYS = ("rx0", "rx1", "rx2", "rx3", "tx0", "tx1", "tx2", "pm", "dig0", "dig1")


def header_checksum(header: bytes) -> int:
    """The ``pc3d`` header checksum: one's complement of the folded 16-bit sum (field = 0)."""
    s = int(np.frombuffer(header, "<u2").sum(dtype=np.uint64))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


_HALF_WORDS = struct.Struct("<24H")


def _checksum_ok(header: bytes | memoryview) -> bool:
    s: int = sum(_HALF_WORDS.unpack_from(header, 0))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


# ---------------------------------------------------------------------------------------- encode
def _spherical(points: np.ndarray, snr: np.ndarray | None, u: PointUnits) -> bytes:
    p = np.asarray(points, np.float64).reshape(-1, 4)
    x, y, z, v = p[:, 0], p[:, 1], p[:, 2], p[:, 3]
    r = np.sqrt(x * x + y * y + z * z)
    el = np.arcsin(np.divide(z, r, out=np.zeros_like(z), where=r > 0))
    az = np.arctan2(x, y)
    s = np.zeros(len(p)) if snr is None else np.nan_to_num(np.asarray(snr, np.float64))
    out = np.zeros(len(p), _SPH_POINT)
    out["el"] = np.clip(np.rint(el / u.elevation_rad), -128, 127)
    out["az"] = np.clip(np.rint(az / u.azimuth_rad), -128, 127)
    out["doppler"] = np.clip(np.rint(v / u.doppler_m_per_s), -32768, 32767)
    out["range"] = np.clip(np.rint(r / u.range_m), 0, 65535)
    out["snr"] = np.clip(np.rint(s / u.snr_db), 0, 65535)
    head = _UNITS.pack(u.elevation_rad, u.azimuth_rad, u.doppler_m_per_s, u.range_m, u.snr_db)
    return head + out.tobytes()


def _tracks_bytes(tracks: np.ndarray) -> bytes:
    return np.ascontiguousarray(tracks, dtype=_TRACK).tobytes()


def encode_frame(fmt: FrameFormat, frame: RadarFrame) -> bytes:
    """Encode ``frame`` as the bytes the demo firmware sends on the data UART.

    ``oob`` sends TLV 1 (and TLV 7 when ``snr_db`` is given) for the points plus every other
    array present; ``pc3d`` sends TLV 6 (spherical, ``frame.units``), 7 and 8 when present;
    ``tracking`` sends 1020, 1010, 1011, 1012 and 1021 when present.
    """
    tlvs: list[tuple[int, bytes]] = []
    n = len(frame.points)
    if fmt == "oob":
        if n:
            tlvs.append((OOB_POINTS, np.ascontiguousarray(frame.points, "<f4").reshape(-1, 4).tobytes()))
            if frame.snr_db is not None:
                side = np.zeros((n, 2), "<i2")
                side[:, 0] = np.clip(np.rint(np.nan_to_num(frame.snr_db) * 10), -32768, 32767)
                if frame.noise_db is not None:
                    side[:, 1] = np.clip(np.rint(np.nan_to_num(frame.noise_db) * 10), -32768, 32767)
                tlvs.append((OOB_SIDE, side.tobytes()))
        for t, arr, dt in (
            (OOB_RANGE, frame.range_profile, "<u2"),
            (OOB_NOISE, frame.noise_profile, "<u2"),
            (OOB_AZ_HEAT, frame.azimuth_heatmap, "<i2"),
            (OOB_RD_HEAT, frame.range_doppler, "<u2"),
            (OOB_AZEL_HEAT, frame.azel_heatmap, "<i2"),
        ):
            if arr is not None:
                tlvs.append((t, np.ascontiguousarray(arr, dt).tobytes()))
        if frame.stats is not None:
            tlvs.append((OOB_STATS, struct.pack("<6I", *(int(frame.stats.get(k, 0)) for k in _STATS_KEYS))))
        if frame.temperature is not None:
            temp = frame.temperature
            tlvs.append(
                (
                    OOB_TEMP,
                    struct.pack(
                        "<iI10H",
                        int(temp.get("valid", 1)),
                        int(temp.get("time_ms", 0)),
                        *(int(temp.get(k, 0)) for k in _TEMP_KEYS),
                    ),
                )
            )
    elif fmt == "pc3d":
        if n or frame.tracks is not None:
            tlvs.append((PC3D_POINTS, _spherical(frame.points, frame.snr_db, frame.units)))
        if frame.tracks is not None:
            tlvs.append((PC3D_TARGETS, _tracks_bytes(frame.tracks)))
        if frame.target_index is not None:
            tlvs.append((PC3D_INDEX, np.ascontiguousarray(frame.target_index, "u1").tobytes()))
    elif fmt == "tracking":
        tlvs.append((TRK_POINTS, _spherical(frame.points, frame.snr_db, frame.units)))
        if frame.tracks is not None:
            tlvs.append((TRK_TRACKS, _tracks_bytes(frame.tracks)))
        if frame.target_index is not None:
            tlvs.append((TRK_INDEX, np.ascontiguousarray(frame.target_index, "u1").tobytes()))
        if frame.heights is not None:
            tlvs.append((TRK_HEIGHT, np.ascontiguousarray(frame.heights, _HEIGHT).tobytes()))
        if frame.presence is not None:
            tlvs.append((TRK_PRESENCE, struct.pack("<I", int(frame.presence))))
    else:
        raise ValueError(f"unknown frame format {fmt!r}; valid: {', '.join(FORMATS)}")

    if fmt == "pc3d":
        body = b"".join(_TLV.pack(t, len(b) + _TLV.size) + b for t, b in tlvs)
        total = _PC3D_HEADER.size + len(body)
        fields = [
            MAGIC,
            frame.version,
            total,
            frame.platform,
            frame.frame_number & 0xFFFFFFFF,
            frame.subframe,
            0,
            0,
            0,
            0,
            len(tlvs),
            0,
        ]
        head = _PC3D_HEADER.pack(*fields)
        fields[-1] = header_checksum(head)
        return _PC3D_HEADER.pack(*fields) + body
    body = b"".join(_TLV.pack(t, len(b)) + b for t, b in tlvs)
    total = _OOB_HEADER.size + len(body)
    pad = (-total) % 32
    head = _OOB_HEADER.pack(
        MAGIC,
        frame.version,
        total + pad,
        frame.platform,
        frame.frame_number & 0xFFFFFFFF,
        0,
        n if fmt == "oob" else 0,
        len(tlvs),
        frame.subframe,
    )
    return head + body + b"\x00" * pad


# ----------------------------------------------------------------------------------------- parse
class FrameCorrupt(SchemaError):
    """The bytes at a magic word are not a valid frame (bad length, checksum or TLV)."""


def _decode_spherical(payload: bytes | memoryview) -> tuple[np.ndarray, np.ndarray, PointUnits]:
    if len(payload) < _UNITS.size or (len(payload) - _UNITS.size) % _SPH_POINT.itemsize:
        raise FrameCorrupt("spherical point cloud length is not units + k * 8 bytes")
    units = PointUnits(*_UNITS.unpack_from(payload, 0))
    if not all(
        np.isfinite(v)
        for v in (units.elevation_rad, units.azimuth_rad, units.doppler_m_per_s, units.range_m, units.snr_db)
    ):
        raise FrameCorrupt("point units are not finite")
    p = np.frombuffer(payload, _SPH_POINT, offset=_UNITS.size)
    r = p["range"] * np.float64(units.range_m)
    el = p["el"] * np.float64(units.elevation_rad)
    az = p["az"] * np.float64(units.azimuth_rad)
    out = np.empty((len(p), 4), np.float32)
    cos_el = np.cos(el)
    out[:, 0] = r * cos_el * np.sin(az)
    out[:, 1] = r * cos_el * np.cos(az)
    out[:, 2] = r * np.sin(el)
    out[:, 3] = p["doppler"] * np.float64(units.doppler_m_per_s)
    snr = (p["snr"] * np.float64(units.snr_db)).astype(np.float32)
    return out, snr, units


_I2 = np.dtype("<i2")
_U2 = np.dtype("<u2")


def _records(payload: bytes | memoryview, dtype: np.dtype, what: str | int) -> np.ndarray:
    if len(payload) % dtype.itemsize:
        name = f"TLV {what}" if isinstance(what, int) else what
        raise FrameCorrupt(f"{name} length {len(payload)} is not a multiple of {dtype.itemsize}")
    return np.frombuffer(payload, dtype).copy()


def parse_frame(fmt: FrameFormat, buf: bytes | bytearray | memoryview) -> tuple[RadarFrame, int]:
    """Parse one complete frame at the start of ``buf``.

    Returns ``(frame, bytes_used)``. Raises :class:`FrameCorrupt` when the header, a length,
    the checksum or a TLV is inconsistent (the fuzz tests check that nothing else escapes).
    ``buf`` must already hold the whole frame (``totalPacketLen`` bytes) - see
    :class:`StreamParser` for streams.
    """
    mv = memoryview(buf)
    if fmt == "pc3d":
        hs = _PC3D_HEADER
        if len(mv) < hs.size:
            raise FrameCorrupt("short header")
        magic, version, total, platform, fnum, sub, _c, _f, _t, _u, ntlv, _ck = hs.unpack_from(mv, 0)
        if not _checksum_ok(mv):
            raise FrameCorrupt("header checksum mismatch")
        ndet = -1
    else:
        hs = _OOB_HEADER
        if len(mv) < hs.size:
            raise FrameCorrupt("short header")
        magic, version, total, platform, fnum, _cyc, ndet, ntlv, sub = hs.unpack_from(mv, 0)
    if magic != MAGIC:
        raise FrameCorrupt("no magic word")
    if total < hs.size or total > _MAX_PACKET or ntlv > _MAX_TLVS:
        raise FrameCorrupt(f"implausible header (length {total}, {ntlv} TLVs)")
    if len(mv) < total:
        raise FrameCorrupt("frame shorter than its declared length")
    frame = RadarFrame(frame_number=int(fnum), subframe=int(sub), version=int(version), platform=int(platform))
    off = hs.size
    include_header = fmt == "pc3d"
    side = None
    for _ in range(ntlv):
        if off + _TLV.size > total:
            raise FrameCorrupt("TLV header beyond the frame")
        ttype, tlen = _TLV.unpack_from(mv, off)
        plen = tlen - _TLV.size if include_header else tlen
        start = off + _TLV.size
        if plen < 0 or start + plen > total:
            raise FrameCorrupt(f"TLV {ttype} length {tlen} overruns the frame")
        payload = mv[start : start + plen]
        off = start + plen
        if fmt == "oob":
            if ttype == OOB_POINTS:
                if plen != 16 * ndet:
                    raise FrameCorrupt(f"TLV 1 has {plen} bytes for {ndet} points")
                frame.points = np.frombuffer(payload, "<f4").reshape(-1, 4).astype(np.float32)
            elif ttype == OOB_SIDE:
                side = _records(payload, _I2, "side info").reshape(-1, 2)
            elif ttype in (OOB_RANGE, OOB_NOISE, OOB_RD_HEAT):
                arr = _records(payload, _U2, ttype)
                if ttype == OOB_RANGE:
                    frame.range_profile = arr
                elif ttype == OOB_NOISE:
                    frame.noise_profile = arr
                else:
                    frame.range_doppler = arr
            elif ttype in (OOB_AZ_HEAT, OOB_AZEL_HEAT):
                arr = _records(payload, _I2, ttype)
                if ttype == OOB_AZ_HEAT:
                    frame.azimuth_heatmap = arr
                else:
                    frame.azel_heatmap = arr
            elif ttype == OOB_STATS:
                if plen != 24:
                    raise FrameCorrupt("stats TLV is not 24 bytes")
                frame.stats = dict(zip(_STATS_KEYS, struct.unpack_from("<6I", payload), strict=True))
            elif ttype == OOB_TEMP:
                if plen != 28:
                    raise FrameCorrupt("temperature TLV is not 28 bytes")
                vals = struct.unpack_from("<iI10H", payload)
                frame.temperature = {
                    "valid": vals[0],
                    "time_ms": vals[1],
                    **dict(zip(_TEMP_KEYS, vals[2:], strict=True)),
                }
        elif fmt == "pc3d":
            if ttype == PC3D_POINTS:
                frame.points, frame.snr_db, frame.units = _decode_spherical(payload)
            elif ttype == PC3D_TARGETS:
                frame.tracks = _records(payload, _TRACK, "target list")
            elif ttype == PC3D_INDEX:
                frame.target_index = np.frombuffer(payload, np.uint8).copy()
        else:
            if ttype == TRK_POINTS:
                frame.points, frame.snr_db, frame.units = _decode_spherical(payload)
            elif ttype == TRK_TRACKS:
                frame.tracks = _records(payload, _TRACK, "track list")
            elif ttype == TRK_INDEX:
                frame.target_index = np.frombuffer(payload, np.uint8).copy()
            elif ttype == TRK_HEIGHT:
                frame.heights = _records(payload, _HEIGHT, "target height")
            elif ttype == TRK_PRESENCE:
                if plen != 4:
                    raise FrameCorrupt("presence TLV is not 4 bytes")
                frame.presence = struct.unpack_from("<I", payload)[0]
    if fmt == "oob":
        if ndet and len(frame.points) != ndet:
            raise FrameCorrupt(f"header announces {ndet} points, TLV 1 has {len(frame.points)}")
        if side is not None:
            if len(side) != len(frame.points):
                raise FrameCorrupt("side info does not match the point count")
            frame.snr_db = side[:, 0].astype(np.float32) * np.float32(0.1)
            frame.noise_db = side[:, 1].astype(np.float32) * np.float32(0.1)
    if frame.snr_db is None:
        frame.snr_db = np.full(len(frame.points), np.nan, np.float32) if len(frame.points) else _NO_POINTS_F32
    return frame, int(total)


@dataclass
class ParseCounters:
    """What a :class:`StreamParser` has seen.

    Attributes:
        frames: valid frames decoded.
        corrupt: frames found at a magic word that failed validation (bad length, checksum,
            TLV) or were cut short by the next magic word (truncated).
        truncated: the subset of ``corrupt`` cut short by the next magic word. When the cut
            removed fewer than 8 bytes the frame is decoded before the next magic word is
            complete; it is counted here after the fact and the next frame is still recovered.
        dropped: frames missing from the frame-number sequence between valid frames.
        garbage_bytes: bytes skipped while searching for the magic word.
        bytes_in: bytes fed.
    """

    frames: int = 0
    corrupt: int = 0
    truncated: int = 0
    dropped: int = 0
    garbage_bytes: int = 0
    bytes_in: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class StreamParser:
    """Turns an unframed byte stream into :class:`RadarFrame` objects; never raises on bad bytes.

    Feed it whatever the port returns; it searches the magic word, waits for the declared
    length, validates and decodes. A frame whose bytes contain the next magic word before its
    declared end is a truncated frame: counted and skipped, parsing resumes at that magic.
    """

    def __init__(self, fmt: FrameFormat) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown frame format {fmt!r}; valid: {', '.join(FORMATS)}")
        self.fmt: FrameFormat = fmt
        self.counters = ParseCounters()
        self._buf = bytearray()
        self._last_number: int | None = None
        self._header = _PC3D_HEADER if fmt == "pc3d" else _OOB_HEADER
        self._len_offset = 12  # totalPacketLen sits right after magic + version in both headers
        self._overlap = 0

    def feed(self, data: bytes | bytearray | memoryview) -> list[RadarFrame]:
        c = self.counters
        c.bytes_in += len(data)
        buf = self._buf
        buf += data
        out: list[RadarFrame] = []
        hsize = self._header.size
        m = len(MAGIC)
        # buf[:pos] is the tail (< 8 bytes) of the last accepted frame, kept so that a magic word
        # starting inside it (that frame was cut short and ate the next frame's first bytes)
        # is still found
        pos = self._overlap
        search = 0
        while True:
            k = buf.find(MAGIC, search)
            if k < 0:
                keep = max(pos, len(buf) - (m - 1))  # a partial magic word may end the buffer
                c.garbage_bytes += keep - pos
                pos = keep
                break
            if k < pos:
                # found after the fact: the frame accepted last was truncated
                c.corrupt += 1
                c.truncated += 1
            else:
                c.garbage_bytes += k - pos
            pos = search = k
            if len(buf) - pos < hsize:
                break
            total = int.from_bytes(buf[pos + self._len_offset : pos + self._len_offset + 4], "little")
            if total < hsize or total > _MAX_PACKET:
                c.corrupt += 1
                pos = search = pos + 1
                continue
            end = pos + total
            # a magic word starting inside the declared span means this frame was cut short
            nxt = buf.find(MAGIC, pos + 1, min(end + m - 1, len(buf)))
            if nxt >= 0:
                c.corrupt += 1
                c.truncated += 1
                pos = search = nxt
                continue
            if len(buf) < end:
                break
            try:
                frame, _ = parse_frame(self.fmt, memoryview(buf)[pos:end])
            except Exception:  # FrameCorrupt; and bytes from a device must never crash the reader
                c.corrupt += 1
                pos = search = pos + 1
                continue
            search = max(pos + 1, end - (m - 1))
            pos = end
            c.frames += 1
            if self._last_number is not None:
                gap = (frame.frame_number - self._last_number) & 0xFFFFFFFF
                if 1 < gap < 1 << 31:
                    c.dropped += gap - 1
            self._last_number = frame.frame_number
            out.append(frame)
        cut = min(pos, search)
        del buf[:cut]
        self._overlap = pos - cut
        return out

    def resync(self) -> None:
        """Forget buffered bytes and the last frame number (after a port reopen); keep counters."""
        self._buf.clear()
        self._overlap = 0
        self._last_number = None

    @property
    def pending_bytes(self) -> int:
        return len(self._buf)
