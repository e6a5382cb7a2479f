"""Device emulators that speak the real protocols, for tests, demos and benchmarks.

* :class:`UartEmulator` - an mmWave demo board on two pseudo-terminals: the configuration
  port answers the CLI like the firmware (echo, ``Done`` / ``Error``, the ``mmwDemo:/>``
  prompt) and the data port streams frames after ``sensorStart`` until ``sensorStop``.
* :class:`FaultInjector` - wraps an iterator of encoded frames and injects garbage bytes,
  truncated frames and corrupted headers/checksums, counting what it did.
* :class:`Dca1000Emulator` - a DCA1000EVM on UDP: answers the config port (4096) commands and
  streams raw ADC frames as data-port (4098) packets, optionally reordered and dropped.

The emulators take *payloads* from the caller: an iterator of already encoded frames
(:func:`~sensorfusion_ti_mmwave.encode_frame`) or of raw ADC frame bytes, so a simulation
can stream its own point clouds or cubes through the real protocol.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from ._dca1000 import DATA_HEADER, Command, encode_reply, parse_command
from ._tlv import MAGIC, FrameFormat, RadarFrame, encode_frame

__all__ = ["Dca1000Emulator", "FaultInjector", "FaultLog", "UartEmulator", "encode_stream", "random_clouds"]

PROMPT = "mmwDemo:/>"

#: CLI commands of the SDK 3.x out-of-box / people-tracking demos the emulator accepts.
KNOWN_COMMANDS = frozenset(
    """sensorStop sensorStart flushCfg dfeDataOutputMode channelCfg adcCfg adcbufCfg profileCfg
    chirpCfg frameCfg advFrameCfg subFrameCfg lowPower guiMonitor cfarCfg multiObjBeamForming
    clutterRemoval calibDcRangeSig extendedMaxVelocity lvdsStreamCfg compRangeBiasAndRxChanPhase
    measureRangeBiasAndRxChanPhase CQRxSatMonitor CQSigImgMonitor analogMonitor aoaFovCfg
    cfarFovCfg calibData bpmCfg configDataPort queryDemoStatus dynamicRACfarCfg staticRACfarCfg
    dynamicRangeAngleCfg dynamicVelocityAngleCfg staticRangeAngleCfg antGeometry0 antGeometry1
    antPhaseRot fovCfg trackingCfg SceneryParam GatingParam StateParam AllocationParam
    MaxAcceleration sensorPosition boundaryBox staticBoundaryBox presenceBoundaryBox
    fineMotionCfg compressionCfg mpdBoundaryBox clusterCfg""".split()
)


def encode_stream(fmt: FrameFormat, frames: Iterable[RadarFrame]) -> Iterator[bytes]:
    """Encode each frame of ``frames`` for the data UART (lazily)."""
    for f in frames:
        yield encode_frame(fmt, f)


def random_clouds(
    *, seed: int = 0, format: str = "oob", frame_period_s: float = 0.1, max_points: int = 30, frames: int | None = None
) -> Iterator[RadarFrame]:
    """Uniformly random point clouds (and two tracks for the tracking formats) in front of the
    radar: a stand-in source for ``UartDriver(emulate=...)`` in tests and protocol demos. It
    carries no scene; simulations supply their own callable returning :class:`RadarFrame`s."""
    rng = np.random.default_rng(seed)
    i = 0
    while frames is None or i < frames:
        k = int(rng.integers(0, max_points + 1))
        pts = np.column_stack(
            [rng.uniform(-2, 2, k), rng.uniform(1, 5, k), rng.uniform(-1, 1, k), rng.uniform(-2, 2, k)]
        ).astype(np.float32)
        f = RadarFrame(i, points=pts, snr_db=rng.uniform(5, 40, k).astype(np.float32))
        if format != "oob":
            f.tracks = RadarFrame.empty_tracks(2)
            f.tracks["tid"] = [0, 1]
            f.tracks["pos"] = rng.normal(size=(2, 3))
        yield f
        i += 1


@dataclass
class FaultLog:
    """What a :class:`FaultInjector` did: frames passed, and each kind of fault injected."""

    frames: int = 0
    garbage: int = 0
    garbage_bytes: int = 0
    truncated: int = 0
    corrupted: int = 0
    faulty_numbers: list[int] = field(default_factory=list)
    truncated_numbers: list[int] = field(default_factory=list)
    corrupted_numbers: list[int] = field(default_factory=list)


class FaultInjector:
    """Iterate ``frames`` (encoded frames) injecting faults at random, reproducibly.

    Args:
        frames: encoded frames.
        seed: random seed.
        garbage: probability of random bytes (never containing the magic word) before a frame.
        truncate: probability a frame is cut at a random point (the rest never sent).
        corrupt: probability of a corrupted frame: the ``pc3d`` header checksum is flipped,
            other formats get an impossible TLV length.
        fmt: the frame format (for ``corrupt``).
    """

    def __init__(
        self,
        frames: Iterable[bytes],
        *,
        seed: int = 0,
        garbage: float = 0.0,
        truncate: float = 0.0,
        corrupt: float = 0.0,
        fmt: FrameFormat = "oob",
    ) -> None:
        self._frames = iter(frames)
        self._rng = np.random.default_rng(seed)
        self.p_garbage, self.p_truncate, self.p_corrupt = garbage, truncate, corrupt
        self.fmt = fmt
        self.log = FaultLog()

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        frame = next(self._frames)
        rng, log = self._rng, self.log
        log.frames += 1
        number = int.from_bytes(frame[20:24], "little")  # frameNumber: same offset in both headers
        out = b""
        if rng.random() < self.p_garbage:
            junk = (
                rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8)
                .tobytes()
                .replace(MAGIC[:2], b"\x00\x00")
            )
            out += junk
            log.garbage += 1
            log.garbage_bytes += len(junk)
        u = rng.random()
        if u < self.p_truncate:
            cut = int(rng.integers(9, max(10, len(frame) - 1)))
            out += frame[:cut]
            log.truncated += 1
            log.faulty_numbers.append(number)
            log.truncated_numbers.append(number)
        elif u < self.p_truncate + self.p_corrupt:
            b = bytearray(frame)
            if self.fmt == "pc3d":
                b[46] ^= 0x5A  # checksum field
            else:
                hs = 40
                b[hs + 4 : hs + 8] = (0x7FFFFFF0).to_bytes(4, "little")  # first TLV length overruns
            out += bytes(b)
            log.corrupted += 1
            log.faulty_numbers.append(number)
            log.corrupted_numbers.append(number)
        else:
            out += frame
        return out


def _open_raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class UartEmulator:
    """An mmWave demo board on two pseudo-terminals (config CLI + data UART).

    Args:
        payloads: the encoded frames to stream after ``sensorStart`` (any iterator of bytes).
        frame_period_s: pace frames at this period; None: as fast as the reader takes them.
        require_start: stream only between ``sensorStart`` and ``sensorStop`` (a firmware
            does); False streams from :meth:`start` on (a board flashed to autostart).
        fail_commands: command names answered with ``Error -1`` (to test error handling).
        silent_commands: command names never answered (to test timeouts).

    Use as a context manager, or call :meth:`start` / :meth:`close`. ``config_path`` and
    ``data_path`` are the slave ends a driver opens with pyserial.
    """

    def __init__(
        self,
        payloads: Iterable[bytes],
        *,
        frame_period_s: float | None = None,
        require_start: bool = True,
        fail_commands: Iterable[str] = (),
        silent_commands: Iterable[str] = (),
    ) -> None:
        self._payloads = iter(payloads)
        self.frame_period_s = frame_period_s
        self.require_start = require_start
        self.fail_commands = frozenset(fail_commands)
        self.silent_commands = frozenset(silent_commands)
        self._cfg_master, self._cfg_slave, self.config_path = _open_raw_pty()
        self._data_master, self._data_slave, self.data_path = _open_raw_pty()
        self._stop = threading.Event()
        self._streaming = threading.Event()
        self._threads: list[threading.Thread] = []
        self.commands: list[str] = []
        self.frames_sent = 0
        self.bytes_sent = 0
        self.exhausted = threading.Event()

    # -- lifecycle
    def start(self) -> UartEmulator:
        if not self.require_start:
            self._streaming.set()
        for target in (self._config_loop, self._data_loop):
            t = threading.Thread(target=target, daemon=True, name=f"uart-emulator-{target.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        for fd in (self._cfg_master, self._cfg_slave, self._data_master, self._data_slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> UartEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_streaming(self) -> None:
        """Start streaming as if ``sensorStart`` had been received."""
        self._streaming.set()

    @property
    def streaming(self) -> bool:
        return self._streaming.is_set()

    # -- config CLI
    def _write(self, fd: int, data: bytes) -> bool:
        view = memoryview(data)
        while view:
            if self._stop.is_set():
                return False
            _, w, _ = select.select([], [fd], [], 0.05)
            if not w:
                continue
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                continue
            except OSError:
                return False
            view = view[n:]
        return True

    def _answer(self, line: str) -> None:
        fd = self._cfg_master
        text = line.strip()
        self._write(fd, (line.rstrip("\r\n") + "\r\n").encode())  # the firmware echoes
        if not text or text.startswith("%"):
            self._write(fd, PROMPT.encode())
            return
        cmd = text.split()[0]
        self.commands.append(text)
        if cmd in self.silent_commands:
            return
        if cmd in self.fail_commands:
            reply = "Error -1\r\n"
        elif cmd not in KNOWN_COMMANDS:
            reply = f"'{cmd}' is not recognized as a CLI command\r\n"
        else:
            if cmd == "sensorStart":
                self._streaming.set()
            elif cmd == "sensorStop":
                self._streaming.clear()
            reply = "Done\r\n"
        self._write(fd, (reply + PROMPT).encode())

    def _config_loop(self) -> None:
        pending = b""
        while not self._stop.is_set():
            r, _, _ = select.select([self._cfg_master], [], [], 0.05)
            if not r:
                continue
            try:
                chunk = os.read(self._cfg_master, 4096)
            except OSError:
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self._answer(line.decode("ascii", "replace"))

    # -- data UART
    def _data_loop(self) -> None:
        next_t = time.monotonic()
        while not self._stop.is_set():
            if not self._streaming.wait(0.05):
                next_t = time.monotonic()
                continue
            try:
                payload = next(self._payloads)
            except StopIteration:
                self.exhausted.set()
                return
            if self.frame_period_s:
                delay = next_t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                next_t += self.frame_period_s
            if not self._write(self._data_master, payload):
                return
            self.frames_sent += 1
            self.bytes_sent += len(payload)


class Dca1000Emulator:
    """A DCA1000EVM on UDP loopback: config-port replies and data-port ADC packets.

    Args:
        frames: raw ADC frames (bytes, ``AdcLayout.frame_bytes`` each) streamed after
            ``RECORD_START`` until ``RECORD_STOP`` or exhaustion.
        host: the address both ends use (127.0.0.1).
        config_port / data_port: the *host's* ports the emulator sends to (replies go to the
            sender's address).
        payload_bytes: bytes of ADC data per packet (the DCA1000 sends up to 1456).
        reorder: probability a packet is held back and sent after the next one.
        drop: probability a packet is never sent.
        seed: random seed of the reordering and drops.
        packet_gap_s: pause between packets (UDP on loopback drops when the reader lags).

    ``listen_port`` is the emulator's own config port (the DCA1000's 4096); ``dropped_bytes``
    counts the ADC bytes of dropped packets.
    """

    def __init__(
        self,
        frames: Iterable[bytes],
        *,
        host: str = "127.0.0.1",
        data_port: int = 4098,
        payload_bytes: int = 1456,
        reorder: float = 0.0,
        drop: float = 0.0,
        seed: int = 0,
        packet_gap_s: float = 0.0,
        listen_port: int = 0,
        fpga_version: int = 0x0402,
    ) -> None:
        self._frames = iter(frames)
        self.host = host
        self.data_port = data_port
        self.payload_bytes = payload_bytes
        self.reorder, self.drop = reorder, drop
        self.packet_gap_s = packet_gap_s
        self.fpga_version = fpga_version
        self._rng = np.random.default_rng(seed)
        self._cfg = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._cfg.bind((host, listen_port))
        self._cfg.settimeout(0.05)
        self.listen_port = self._cfg.getsockname()[1]
        self._data = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._stop = threading.Event()
        self._recording = threading.Event()
        self._threads: list[threading.Thread] = []
        self.commands: list[int] = []
        self.packets_sent = 0
        self.dropped_packets = 0
        self.dropped_bytes = 0
        self.frames_sent = 0
        self.exhausted = threading.Event()
        self._seq = 1
        self._byte_count = 0

    def start(self) -> Dca1000Emulator:
        for target in (self._config_loop, self._data_loop):
            t = threading.Thread(target=target, daemon=True, name=f"dca-emulator-{target.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._cfg.close()
        self._data.close()

    def __enter__(self) -> Dca1000Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _config_loop(self) -> None:
        while not self._stop.is_set():
            try:
                pkt, addr = self._cfg.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            parsed = parse_command(pkt)
            if parsed is None:
                continue  # the board ignores malformed commands
            code, _data = parsed
            self.commands.append(code)
            status = 0
            if code == Command.READ_FPGA_VERSION:
                status = self.fpga_version
            elif code == Command.RECORD_START:
                self._recording.set()
            elif code == Command.RECORD_STOP:
                self._recording.clear()
            elif code not in set(Command):
                status = 1
            with contextlib.suppress(OSError):
                self._cfg.sendto(encode_reply(code, status), addr)

    def _send(self, seq: int, byte_count: int, payload: bytes) -> None:
        pkt = DATA_HEADER.pack(seq, byte_count & 0xFFFFFFFF, byte_count >> 32) + payload
        with contextlib.suppress(OSError):
            self._data.sendto(pkt, (self.host, self.data_port))
        self.packets_sent += 1
        if self.packet_gap_s:
            time.sleep(self.packet_gap_s)

    def _data_loop(self) -> None:
        held: tuple[int, int, bytes] | None = None
        while not self._stop.is_set():
            if not self._recording.wait(0.05):
                continue
            try:
                frame = next(self._frames)
            except StopIteration:
                if held is not None:
                    self._send(*held)
                self.exhausted.set()
                return
            view = memoryview(frame)
            for off in range(0, len(view), self.payload_bytes):
                chunk = bytes(view[off : off + self.payload_bytes])
                seq, count = self._seq, self._byte_count
                self._seq += 1
                self._byte_count += len(chunk)
                if self._rng.random() < self.drop:
                    self.dropped_packets += 1
                    self.dropped_bytes += len(chunk)
                    continue
                if held is None and self._rng.random() < self.reorder:
                    held = (seq, count, chunk)
                    continue
                self._send(seq, count, chunk)
                if held is not None:
                    self._send(*held)
                    held = None
            self.frames_sent += 1
        if held is not None:
            self._send(*held)
