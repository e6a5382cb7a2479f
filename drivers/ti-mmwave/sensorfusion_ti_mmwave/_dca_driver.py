"""``ti_mmwave.dca1000``: raw ADC cubes from a DCA1000EVM over UDP."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    DriverContext,
    DriverError,
    FieldSpec,
    Frame,
    FrameKind,
    RigCalibration,
    StreamSpec,
)
from sensorfusion import Driver as _Driver
from sensorfusion.schema import SensorCalibration

from ._cfg import adc_layout_from_cfg, parse_cfg
from ._dca1000 import Command, Reassembler, adc_to_cube, encode_command, parse_reply

__all__ = ["Dca1000Client", "Dca1000Driver", "Dca1000Params"]


class Dca1000Client:
    """The DCA1000's config port: send a command, check the reply (header, code, footer,
    status). Raises :class:`DriverError` naming the command on timeout or a bad reply."""

    def __init__(self, sock: socket.socket, address: tuple[str, int], *, timeout_s: float = 1.0) -> None:
        self.sock = sock
        self.address = address
        self.timeout_s = timeout_s

    def command(self, code: Command, data: bytes = b"", *, check: bool = True) -> int:
        self.sock.settimeout(self.timeout_s)
        self.sock.sendto(encode_command(code, data), self.address)
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                pkt, _ = self.sock.recvfrom(2048)
            except TimeoutError:
                raise DriverError(
                    f"DCA1000 at {self.address[0]}:{self.address[1]}: no reply to {code.name} within {self.timeout_s} s"
                ) from None
            reply = parse_reply(pkt)
            if reply is None:
                raise DriverError(
                    f"DCA1000: malformed reply to {code.name}: {pkt.hex()} (expected 5aa5 <code> <status> aaee)"
                )
            rcode, status = reply
            if rcode != code:
                if time.monotonic() > deadline:
                    raise DriverError(f"DCA1000: no reply to {code.name} (only replies to other commands)")
                continue  # an asynchronous status (e.g. SYSTEM_ERROR_STATUS) - keep waiting
            if check and status != 0:
                raise DriverError(f"DCA1000 rejected {code.name}: status {status:#06x}")
            return status

    def connect(self) -> None:
        self.command(Command.SYSTEM_CONNECT)

    def fpga_version(self) -> tuple[int, int, bool]:
        """(major, minor, playback mode) from READ_FPGA_VERSION's status bits."""
        s = self.command(Command.READ_FPGA_VERSION, check=False)
        return s & 0x7F, (s >> 7) & 0x7F, bool(s & 0x4000)

    def configure_fpga(self, *, lanes: int) -> None:
        """CONFIG_FPGA_GEN: raw logging (1), LVDS mode (1: 4 lanes, 2: 2 lanes), LVDS capture
        (1), Ethernet streaming (2), 16-bit data format (3), timer 30 s."""
        self.command(Command.CONFIG_FPGA_GEN, struct.pack("<6B", 1, 1 if lanes == 4 else 2, 1, 2, 3, 30))

    def configure_packet_delay(self, delay_us: int = 25) -> None:
        """CONFIG_PACKET_DATA: packet size (1472) and delay in 8 ns FPGA clock units."""
        self.command(Command.CONFIG_PACKET_DATA, struct.pack("<3H", 1472, delay_us * 1000 // 8, 0))

    def start(self) -> None:
        self.command(Command.RECORD_START)

    def stop(self) -> None:
        self.command(Command.RECORD_STOP)


class Dca1000Params(BaseModel):
    """Parameters of ``ti_mmwave.dca1000``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cfg: str = Field(description="the radar's .cfg (gives the cube layout and frame size)")
    part: str | None = Field(
        default=None, description="radar part (xwr18xx...); default from the cfg's Platform comment"
    )
    dca_address: str = Field(default="192.168.33.180", description="the DCA1000's IP address")
    dca_config_port: int = Field(default=4096, ge=0, le=65535, description="the DCA1000's config port")
    host_address: str = Field(default="192.168.33.30", description="the host address to bind")
    host_config_port: int = Field(default=4096, ge=0, le=65535, description="local config port (0: any)")
    data_port: int = Field(default=4098, ge=0, le=65535, description="local data port the DCA1000 streams to")
    configure: bool = Field(
        default=True, description="send CONNECT, FPGA config, packet delay and RECORD_START on open"
    )
    reorder_window_packets: int = Field(
        default=256, ge=1, description="how far past a frame's end a lost packet is given up"
    )
    read_timeout_s: float = Field(default=0.5, gt=0, description="read() returns empty after this long without a frame")
    command_timeout_s: float = Field(default=1.0, gt=0, description="timeout of each config command")


class Dca1000Driver(_Driver):
    """Raw ADC frames from a DCA1000EVM: ``<id>/adc`` (RADAR_ADC_CUBE) with fields ``cube``
    (complex64 ``[loops, tx, rx, samples]``) and ``lost_bytes`` (int64, zero-filled bytes).
    ``t_sensor_ns`` = host time of the first frame + frame index x frame period; ``seq`` is
    the frame index in the capture (a gap: frames lost entirely)."""

    name = "ti_mmwave.dca1000"
    Params = Dca1000Params

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        p: Dca1000Params = self.params  # type: ignore[assignment]
        self.p = p
        path = Path(self.context.resolve(p.cfg))
        if not path.is_file():
            raise ConfigError("cfg file not found", field_path=self.context.param_path("cfg"), value=p.cfg)
        text = path.read_text()
        self.model, _ = parse_cfg(text, part=p.part)
        self.layout = adc_layout_from_cfg(text, part=p.part)
        self.period_ns = round(self.model.frame_period_ms * 1e6)
        self._cfg_sock: socket.socket | None = None
        self._data_sock: socket.socket | None = None
        self._client: Dca1000Client | None = None
        self._reasm = Reassembler(self.layout.frame_bytes, window_bytes=p.reorder_window_packets * 1456)
        self._t0_ns: int | None = None
        self._last_seq = -1
        self._foreign = 0  # data packets from another sender than the board: counted, never used
        self._pending: list[Frame] = []

    def streams(self) -> list[StreamSpec]:
        return [
            StreamSpec(
                name=f"{self.context.sensor_id}/adc",
                kind=FrameKind.RADAR_ADC_CUBE,
                rate_hz=1e9 / self.period_ns,
                queue_size=8,
                fields={
                    "cube": FieldSpec(dtype="complex64", shape=self.layout.cube_shape),
                    "lost_bytes": FieldSpec(dtype="int64"),
                },
                attrs={
                    "layout": "[loops, tx, rx, samples]",
                    "part": self.layout.part,
                    "lanes": self.layout.lanes,
                    "q_first": self.layout.q_first,
                    "frame_bytes": self.layout.frame_bytes,
                },
            )
        ]

    def calibration(self) -> RigCalibration | None:
        return RigCalibration(sensors={self.context.sensor_id: SensorCalibration(radar=self.model)})

    def open(self) -> None:
        p = self.p
        try:
            self._data_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._data_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            self._data_sock.bind((p.host_address, p.data_port))
            self._data_sock.settimeout(0.05)
            if p.configure:
                self._cfg_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._cfg_sock.bind((p.host_address, p.host_config_port))
        except OSError as exc:
            self.close()
            raise DriverError(f"{self.name}: cannot bind UDP sockets on {p.host_address}: {exc}") from exc
        if self._cfg_sock is not None:
            self._client = Dca1000Client(
                self._cfg_sock, (p.dca_address, p.dca_config_port), timeout_s=p.command_timeout_s
            )
            self._client.connect()
            self._client.configure_fpga(lanes=self.layout.lanes)
            self._client.configure_packet_delay()
            self._client.start()

    def read(self) -> Sequence[Frame]:
        if self._data_sock is None:
            raise DriverError(f"{self.name}: read() before open()")
        if self._pending:
            out, self._pending = self._pending, []
            return out
        deadline = time.monotonic() + self.p.read_timeout_s
        while not self.context.stop.is_set() and time.monotonic() < deadline:
            try:
                pkt, (sender, _) = self._data_sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError as exc:
                raise DriverError(f"{self.name}: data socket failed: {exc}") from exc
            if sender != self.p.dca_address:
                self._foreign += 1
                if self._foreign == 1:
                    self.context.event(
                        "foreign_packets",
                        f"data packets from {sender}, not the board at {self.p.dca_address}: ignored (counted)",
                    )
                continue
            frames = self._reasm.feed_packet(pkt)
            if frames:
                t_host = self.context.now_ns()
                out = []
                for fr in frames:
                    if self._t0_ns is None:
                        self._t0_ns = t_host - fr.index * self.period_ns
                    if fr.index <= self._last_seq:
                        continue
                    self._last_seq = fr.index
                    if fr.lost_bytes:
                        self.context.log.warning(
                            "%s: frame %d lost %d bytes (zero-filled)", self.context.sensor_id, fr.index, fr.lost_bytes
                        )
                    out.append(
                        Frame(
                            f"{self.context.sensor_id}/adc",
                            self._t0_ns + fr.index * self.period_ns,
                            t_host,
                            fr.index,
                            {
                                "cube": adc_to_cube(fr.data, self.layout),
                                "lost_bytes": np.array(fr.lost_bytes, np.int64),
                            },
                        )
                    )
                return out
        return []

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.stop()
            except Exception:
                self.context.log.debug("RECORD_STOP on close failed", exc_info=True)
            self._client = None
        for s in (self._cfg_sock, self._data_sock):
            if s is not None:
                s.close()
        self._cfg_sock = self._data_sock = None

    def summary(self) -> dict[str, Any]:
        """Reassembly counters: packets, duplicates, out_of_order, late, frames, incomplete_frames, lost_bytes;
        and foreign_packets (data packets from another address than ``dca_address``, ignored)."""
        return {**self._reasm.counters.as_dict(), "foreign_packets": self._foreign}
