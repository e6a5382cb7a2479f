"""The DCA1000EVM capture card: UDP config and data protocols, frame reassembly, ADC layouts.

Config port (the card's UDP 4096). A command is ``<HHH`` header 0xA55A, command code, data
size, then the data, then ``<H`` footer 0xEEAA (on the wire ``5A A5 .. .. AA EE``). The reply
is ``<HHHH``: 0xA55A, the command code, a status (0 = success; READ_FPGA_VERSION returns the
version bits instead), 0xEEAA. Command codes per TI's DCA1000 CLI (RF_API ``defines.h``):
1 RESET_FPGA, 2 RESET_AR_DEV, 3 CONFIG_FPGA_GEN, 4 CONFIG_EEPROM, 5 RECORD_START,
6 RECORD_STOP, 7 PLAYBACK_START, 8 PLAYBACK_STOP, 9 SYSTEM_CONNECT, 10 SYSTEM_ERROR_STATUS,
11 CONFIG_PACKET_DATA, 12 CONFIG_DATA_MODE_AR_DEV, 13 INIT_FPGA_PLAYBACK, 14 READ_FPGA_VERSION.

Data port (the host's UDP 4098). Each packet: ``uint32`` sequence number (1, 2, ...), a
48-bit byte count (ADC bytes sent *before* this packet), then up to 1456 bytes of ADC data.
Packets are not aligned to frames: the byte count places every byte in the stream, so
``frame = byte_count // frame_bytes``.

ADC layouts (16-bit samples; chirps in transmit order: loop 0 TX a, TX b, ..., loop 1, ...):

* 2-lane parts (xWR16xx/18xx/68xx), complex, non-interleaved: per chirp, RX0's samples, then
  RX1's, ...; samples go in pairs as ``I0 I1 Q0 Q1`` (TI's mmWave Studio / DCA1000 raw data
  guide), or ``Q0 Q1 I0 I1`` when ``adcbufCfg`` sampleSwap is 1 (Q in the LSB). The real
  capture in ``shared/data/radar/dca1000`` uses sampleSwap 1; its upstream reference values
  match that order.
* 4-lane parts (xWR12xx/14xx), complex: per chirp, per sample, the I of RX0..RX3 then the Q
  of RX0..RX3 (one LVDS lane per receiver; ``Q`` first with sampleSwap 1).
* Real output (``adcOutputFmt`` 1): one int16 per sample, same orders without the Q half.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sensorfusion import DriverError

from ._cfg import AdcLayout

__all__ = [
    "DATA_HEADER",
    "AdcFrame",
    "Command",
    "Reassembler",
    "adc_to_cube",
    "cube_from_openradar",
    "cube_to_adc",
    "encode_command",
    "encode_reply",
    "iter_pcap_udp",
    "parse_command",
    "parse_data_packet",
    "parse_reply",
]

HEADER = 0xA55A
FOOTER = 0xEEAA
DATA_HEADER = struct.Struct("<IIH")  # seq, byte count low 32 bits, high 16 bits
MAX_PAYLOAD = 1456


class Command(enum.IntEnum):
    RESET_FPGA = 0x01
    RESET_AR_DEV = 0x02
    CONFIG_FPGA_GEN = 0x03
    CONFIG_EEPROM = 0x04
    RECORD_START = 0x05
    RECORD_STOP = 0x06
    PLAYBACK_START = 0x07
    PLAYBACK_STOP = 0x08
    SYSTEM_CONNECT = 0x09
    SYSTEM_ERROR_STATUS = 0x0A
    CONFIG_PACKET_DATA = 0x0B
    CONFIG_DATA_MODE_AR_DEV = 0x0C
    INIT_FPGA_PLAYBACK = 0x0D
    READ_FPGA_VERSION = 0x0E


def encode_command(code: int, data: bytes = b"") -> bytes:
    """A config-port command: header, code, size, data, footer."""
    return struct.pack("<3H", HEADER, int(code), len(data)) + data + struct.pack("<H", FOOTER)


def parse_command(pkt: bytes) -> tuple[int, bytes] | None:
    """``(code, data)`` of a command packet, or None when header/size/footer are wrong."""
    if len(pkt) < 8:
        return None
    head, code, size = struct.unpack_from("<3H", pkt, 0)
    if head != HEADER or len(pkt) != 8 + size or struct.unpack_from("<H", pkt, 6 + size)[0] != FOOTER:
        return None
    return code, bytes(pkt[6 : 6 + size])


def encode_reply(code: int, status: int) -> bytes:
    return struct.pack("<4H", HEADER, int(code), status & 0xFFFF, FOOTER)


def parse_reply(pkt: bytes) -> tuple[int, int] | None:
    """``(code, status)`` of an 8-byte reply, or None when header/footer are wrong."""
    if len(pkt) != 8:
        return None
    head, code, status, foot = struct.unpack("<4H", pkt)
    if head != HEADER or foot != FOOTER:
        return None
    return code, status


def parse_data_packet(pkt: bytes | memoryview) -> tuple[int, int, memoryview] | None:
    """``(seq, byte_count, payload)`` of a data packet, or None when shorter than its header."""
    if len(pkt) < 10:
        return None
    seq, lo, hi = DATA_HEADER.unpack_from(pkt, 0)
    return seq, lo | (hi << 32), memoryview(pkt)[10:]


def iter_pcap_udp(path: str | Path) -> Iterator[tuple[int, int, bytes]]:
    """``(src_port, dst_port, udp_payload)`` of every IPv4/UDP packet of a classic pcap file.

    Reads the pcap global header (either byte order, micro- or nanosecond magic), each record
    header, and the Ethernet (with optional 802.1Q tag), IPv4 and UDP headers with ``struct``.
    """
    data = Path(path).read_bytes()
    if len(data) < 24:
        raise DriverError(f"{path}: not a pcap file (shorter than the global header)")
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise DriverError(f"{path}: not a pcap file (magic {magic.hex()})")
    linktype = struct.unpack_from(e + "I", data, 20)[0]
    if linktype != 1:
        raise DriverError(f"{path}: link type {linktype} is not Ethernet (1)")
    off = 24
    rec = struct.Struct(e + "4I")
    while off + rec.size <= len(data):
        _ts, _us, incl, _orig = rec.unpack_from(data, off)
        off += rec.size
        pkt = data[off : off + incl]
        off += incl
        if len(pkt) < 14:
            continue
        eth = 12
        ethertype = struct.unpack_from(">H", pkt, eth)[0]
        eth += 2
        if ethertype == 0x8100 and len(pkt) >= 18:
            ethertype = struct.unpack_from(">H", pkt, eth + 2)[0]
            eth += 4
        if ethertype != 0x0800 or len(pkt) < eth + 20:
            continue
        ihl = (pkt[eth] & 0x0F) * 4
        total_len = struct.unpack_from(">H", pkt, eth + 2)[0]
        if pkt[eth + 9] != 17 or len(pkt) < eth + ihl + 8:
            continue
        udp = eth + ihl
        sport, dport, ulen = struct.unpack_from(">3H", pkt, udp)
        end = min(udp + ulen, eth + total_len, len(pkt))
        yield sport, dport, pkt[udp + 8 : end]


@dataclass
class AdcFrame:
    """One reassembled raw ADC frame.

    Attributes:
        index: frame number in the capture (byte_count // frame_bytes).
        data: ``frame_bytes`` bytes, zero where packets were lost.
        lost_bytes: bytes of the frame no packet delivered (zero-filled).
        lost_mask: per byte, True where lost (None when nothing was lost).
    """

    index: int
    data: bytearray
    lost_bytes: int
    lost_mask: np.ndarray | None = None


@dataclass
class _Partial:
    data: bytearray
    covered: np.ndarray
    received: int = 0


@dataclass
class ReassemblyCounters:
    packets: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    malformed: int = 0
    late: int = 0
    frames: int = 0
    incomplete_frames: int = 0
    lost_frames: int = 0
    lost_bytes: int = 0
    bytes_in: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class Reassembler:
    """Rebuild frames from DCA1000 data packets arriving in any order, some never.

    A frame is emitted once every byte arrived, or once packets more than ``window_bytes``
    past its end have arrived (the missing ones are then taken as lost: zero-filled, counted
    in ``lost_bytes``). A frame of which no byte arrived is not emitted (``lost_frames``; the
    gap shows in the frame indices). The first packet fixes the first frame (a capture may
    join a stream). :meth:`flush` emits what is left at the end of a capture. Packets for
    frames already emitted are counted as ``late`` and ignored; duplicates (same sequence
    number) are ignored.
    """

    frame_bytes: int
    window_bytes: int = 256 * MAX_PAYLOAD
    counters: ReassemblyCounters = field(default_factory=ReassemblyCounters)
    _partial: dict[int, _Partial] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set)
    _max_seq: int = 0
    _max_end: int = 0
    _next_emit: int = 0

    def __post_init__(self) -> None:
        if self.frame_bytes <= 0:
            raise ValueError(f"frame_bytes must be positive, got {self.frame_bytes}")

    def _frame(self, idx: int) -> _Partial:
        p = self._partial.get(idx)
        if p is None:
            p = _Partial(bytearray(self.frame_bytes), np.zeros(self.frame_bytes, bool))
            self._partial[idx] = p
        return p

    def feed_packet(self, pkt: bytes | memoryview) -> list[AdcFrame]:
        """Add one UDP data packet; return the frames it completed (in order)."""
        parsed = parse_data_packet(pkt)
        if parsed is None:
            self.counters.malformed += 1
            return []
        return self.feed(*parsed)

    def feed(self, seq: int, byte_count: int, payload: bytes | memoryview) -> list[AdcFrame]:
        c = self.counters
        c.packets += 1
        c.bytes_in += len(payload)
        if seq in self._seen:
            c.duplicates += 1
            return []
        if c.packets == 1:
            # a capture joined mid-stream starts at the frame of its first packet
            self._next_emit = byte_count // self.frame_bytes
        self._seen.add(seq)
        if seq < self._max_seq:
            c.out_of_order += 1
        self._max_seq = max(self._max_seq, seq)
        fb = self.frame_bytes
        pos, end = byte_count, byte_count + len(payload)
        src = 0
        while pos < end:
            idx = pos // fb
            start = pos - idx * fb
            n = min(fb - start, end - pos)
            if idx < self._next_emit:
                c.late += 1
            else:
                p = self._frame(idx)
                p.data[start : start + n] = payload[src : src + n]
                p.covered[start : start + n] = True
                p.received += n
            pos += n
            src += n
        self._max_end = max(self._max_end, end)
        if len(self._seen) > 1 << 16:
            floor = self._max_seq - (1 << 15)
            self._seen = {s for s in self._seen if s > floor}
        return self._emit(final=False)

    def _ready(self, idx: int) -> bool:
        """Packets far enough past frame ``idx`` arrived that its missing bytes count as lost."""
        return self._max_end > (idx + 1) * self.frame_bytes + self.window_bytes

    def _emit(self, *, final: bool) -> list[AdcFrame]:
        out = []
        fb = self.frame_bytes
        while self._partial:
            idx = self._next_emit
            p = self._partial.get(idx)
            if p is None:
                # no byte of frame idx arrived: skip it (and the following empty frames that
                # are also given up); the gap shows in the frame indices, lost_frames counts it
                nxt = min(self._partial)
                last = nxt if final else min(nxt, max(idx, (self._max_end - self.window_bytes) // fb))
                if last <= idx:
                    break
                self.counters.lost_frames += last - idx
                self._next_emit = last
                continue
            complete = p.received >= fb and bool(p.covered.all())
            if not complete and not final and not self._ready(idx):
                break
            del self._partial[idx]
            lost = fb - int(np.count_nonzero(p.covered))
            self.counters.frames += 1
            if lost:
                self.counters.incomplete_frames += 1
                self.counters.lost_bytes += lost
            out.append(AdcFrame(idx, p.data, lost, ~p.covered if lost else None))
            self._next_emit = idx + 1
        return out

    def flush(self) -> list[AdcFrame]:
        """Emit every frame still buffered (end of capture), lost bytes zero-filled."""
        return self._emit(final=True)


def adc_to_cube(raw: bytes | bytearray | memoryview | np.ndarray, layout: AdcLayout) -> np.ndarray:
    """Raw ADC bytes of one frame -> complex64 cube ``[loops, tx, rx, samples]``.

    See the module docstring for the orders. ``raw`` must hold ``layout.frame_bytes`` bytes
    (int16 little-endian), or be an int16 array of that many values.
    """
    a = np.frombuffer(raw, "<i2") if not isinstance(raw, np.ndarray) else raw.astype("<i2", copy=False).ravel()
    L, T, R, S = layout.cube_shape
    per_value = 2 if layout.complex_samples else 1
    expected = L * T * R * S * per_value
    if a.size != expected:
        raise ValueError(f"raw ADC frame has {a.size} int16 values, expected {expected} for cube {layout.cube_shape}")
    chirps = L * T
    if not layout.complex_samples:
        if layout.lanes == 4:
            cube = a.reshape(chirps, S, R).transpose(0, 2, 1)
        else:
            cube = a.reshape(chirps, R, S)
        return cube.astype(np.complex64).reshape(L, T, R, S)
    ia, qa = (1, 0) if layout.q_first else (0, 1)
    if layout.lanes == 4:
        v = a.reshape(chirps, S, 2, R)  # per sample: [half-block kind][rx]
        out = np.empty((chirps, R, S, 2), np.float32)
        out[..., 0] = v[:, :, ia, :].transpose(0, 2, 1)
        out[..., 1] = v[:, :, qa, :].transpose(0, 2, 1)
        return out.view(np.complex64).reshape(L, T, R, S)
    # 2 lanes: groups of 4 half-words (A0 A1 B0 B1) -> float32 (I0 Q0 I1 Q1), viewed as complex64
    g = a.reshape(-1, 4)
    out = np.empty((g.shape[0], 4), np.float32)
    out[:, 0] = g[:, 2 * ia]
    out[:, 1] = g[:, 2 * qa]
    out[:, 2] = g[:, 2 * ia + 1]
    out[:, 3] = g[:, 2 * qa + 1]
    return out.view(np.complex64).reshape(L, T, R, S)


def cube_to_adc(cube: np.ndarray, layout: AdcLayout) -> bytes:
    """The inverse of :func:`adc_to_cube` (values rounded and clipped to int16): what the
    DCA1000 would stream for ``cube``. Used by the emulator and by simulations."""
    L, T, R, S = layout.cube_shape
    c = np.asarray(cube).reshape(L * T, R, S)
    i = np.clip(np.rint(c.real), -32768, 32767).astype("<i2")
    if not layout.complex_samples:
        return bytes((i.transpose(0, 2, 1) if layout.lanes == 4 else i).tobytes())
    q = np.clip(np.rint(c.imag), -32768, 32767).astype("<i2")
    a, b = (q, i) if layout.q_first else (i, q)
    if layout.lanes == 4:
        out = np.stack([a.transpose(0, 2, 1), b.transpose(0, 2, 1)], axis=2)  # chirps, S, 2, R
        return out.tobytes()
    out = np.stack([a.reshape(L * T, R, S // 2, 2), b.reshape(L * T, R, S // 2, 2)], axis=3)
    return out.tobytes()


def cube_from_openradar(frame: np.ndarray) -> np.ndarray:
    """OpenRadar's sample frame (``simple_frame_1.npy``: complex128 ``[chirps, samples]`` of
    one TX/RX pair, each part stored as *wrapped uint16*) -> complex64 ``[chirps, 1, 1, samples]``.
    """
    f = np.asarray(frame)
    if f.ndim != 2:
        raise ValueError(f"expected a 2-D [chirps, samples] frame, got shape {f.shape}")
    re = np.rint(f.real).astype(np.int64).astype(np.uint16).view(np.int16)
    im = np.rint(f.imag).astype(np.int64).astype(np.uint16).view(np.int16)
    out = np.empty(f.shape, np.complex64)
    out.real, out.imag = re, im
    return out[:, None, None, :]
