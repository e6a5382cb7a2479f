"""``ti_mmwave.uart``: an mmWave demo board over its two UARTs (pyserial)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sensorfusion import (
    ConfigError,
    DriverContext,
    DriverError,
    FieldSpec,
    Frame,
    FrameKind,
    MissingDependencyError,
    RigCalibration,
    StreamSpec,
)
from sensorfusion import Driver as _Driver
from sensorfusion.schema import SensorCalibration

from ._cfg import parse_cfg
from ._tlv import RadarFrame, StreamParser, encode_frame

__all__ = ["OPENCV_FROM_TI", "ConfigPort", "UartDriver", "UartParams", "prepare_cfg_lines"]

PROMPT = b"mmwDemo:/>"

#: Rotation taking TI radar axes (x right, y boresight, z up) to OpenCV-like axes
#: (x right, y down, z forward): ``p_opencv = OPENCV_FROM_TI @ p_ti``.
OPENCV_FROM_TI = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]], np.float32)


def _serial() -> Any:
    try:
        import serial  # type: ignore[import-untyped,unused-ignore]  # types-pyserial may be absent
    except ImportError as exc:  # pragma: no cover - pyserial is a declared dependency
        raise MissingDependencyError("ti_mmwave.uart", install="pip install pyserial") from exc
    return serial


def prepare_cfg_lines(text: str) -> list[str]:
    """The command lines to send: comments and blanks removed, ``sensorStop`` first and
    ``sensorStart`` last (added when missing, moved when elsewhere)."""
    lines = [ln.split("%", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    body = [ln for ln in lines if ln.split()[0] not in ("sensorStop", "sensorStart")]
    start = next((ln for ln in lines if ln.split()[0] == "sensorStart"), "sensorStart")
    return ["sensorStop", *body, start]


class ConfigPort:
    """The CLI UART: send one command, wait for its echo, ``Done`` / ``Error`` and the prompt."""

    def __init__(self, port: Any, *, timeout_s: float = 2.0) -> None:
        self.port = port
        self.timeout_s = timeout_s
        self.transcript: list[str] = []

    def command(self, line: str, *, lineno: int | None = None) -> str:
        """Send ``line``; return the firmware's reply text. Raises :class:`DriverError` naming
        the line on ``Error`` / an unrecognised command / no prompt within ``timeout_s``."""
        where = f"cfg line {lineno} " if lineno is not None else ""
        self.port.reset_input_buffer()
        self.port.write((line + "\n").encode("ascii"))
        self.port.flush()
        deadline = time.monotonic() + self.timeout_s
        buf = b""
        while PROMPT not in buf:
            if time.monotonic() > deadline:
                raise DriverError(
                    f"mmWave config port: no reply to {where}{line!r} within {self.timeout_s} s (got {buf.decode('ascii', 'replace')!r})"
                )
            chunk = self.port.read(max(1, self.port.in_waiting))
            buf += chunk
        text = buf.decode("ascii", "replace")
        self.transcript.append(text)
        reply = text.replace("\r", "")
        body = reply.split("\n", 1)[1] if "\n" in reply else reply  # drop the echo
        if "Error" in body or "not recognized" in body:
            msg = " ".join(s for s in body.replace("mmwDemo:/>", "").split("\n") if s.strip())
            raise DriverError(f"mmWave firmware rejected {where}{line!r}: {msg.strip()}")
        if "Done" not in body and line.split()[0] not in ("sensorStop",):
            raise DriverError(f"mmWave config port: {where}{line!r} got no 'Done' (reply {body.strip()!r})")
        return body

    def send_cfg(self, text: str) -> None:
        for i, line in enumerate(prepare_cfg_lines(text), start=1):
            self.command(line, lineno=i)


class UartParams(BaseModel):
    """Parameters of ``ti_mmwave.uart``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data_port: str | None = Field(
        default=None, description="serial device of the data UART (e.g. /dev/ttyACM1); None with emulate"
    )
    config_port: str | None = Field(default=None, description="serial device of the CLI UART; None: do not configure")
    cfg: str | None = Field(
        default=None, description="path of the .cfg sent to the config port (also gives the radar model)"
    )
    format: Literal["oob", "pc3d", "tracking"] = Field(default="oob", description="the demo's frame format")
    part: str | None = Field(
        default=None, description="radar part (xwr18xx...); default from the cfg's Platform comment"
    )
    data_baud: int = Field(default=921600, gt=0, description="data UART baud rate")
    config_baud: int = Field(default=115200, gt=0, description="CLI UART baud rate")
    frame_period_ms: float | None = Field(default=None, gt=0, description="frame period when no cfg gives it")
    axes: Literal["ti", "opencv"] = Field(
        default="ti",
        description="output axes: TI (x right, y boresight, z up) or OpenCV-like (x right, y down, z forward)",
    )
    command_timeout_s: float = Field(default=2.0, gt=0, description="timeout of each CLI command")
    read_timeout_s: float = Field(default=0.5, gt=0, description="read() returns empty after this long without a frame")
    stop_on_close: bool = Field(default=True, description="send sensorStop when closing")
    clock: Literal["host", "device"] = Field(
        default="host",
        description="t_sensor_ns: 'host' = host time of the first frame + frames x period; 'device' = the "
        "board's frame number x period (starts at 0 with the board, as the simulated rig's clock does)",
    )
    emulate: str | None = Field(
        default=None,
        description="'module:callable' giving the frames of an in-process UartEmulator the driver talks to "
        "over its pty pair (demos, simulated rigs); None: a real board",
    )
    emulate_params: dict[str, Any] = Field(
        default_factory=dict, description="keyword arguments of the emulate callable"
    )


class UartDriver(_Driver):
    """An mmWave demo board: optionally configures it, then decodes the data UART.

    Streams: ``<id>/points`` (ragged: ``xyz_m (3,)``, ``velocity_m_per_s``, ``snr_db``) and,
    for the people-counting/tracking formats, ``<id>/tracks`` (ragged: ``track_id``,
    ``position_m (3,)``, ``velocity_m_per_s (3,)``, ``acceleration_m_per_s2 (3,)``,
    ``confidence``). ``t_sensor_ns`` = host time of the first frame + (frame number - first
    frame number) x frame period (``clock: host``), or frame number x frame period
    (``clock: device``); ``seq`` follows the frame number (gaps are lost frames).
    Corrupt, truncated and dropped frames are counted (:meth:`summary`) and logged.
    """

    name = "ti_mmwave.uart"
    Params = UartParams

    def __init__(self, params: BaseModel, context: DriverContext) -> None:
        super().__init__(params, context)
        p: UartParams = self.params  # type: ignore[assignment]
        self.p = p
        self.model = None
        if p.cfg is not None:
            path = Path(self.context.resolve(p.cfg))
            if not path.is_file():
                raise ConfigError("cfg file not found", field_path=self.context.param_path("cfg"), value=p.cfg)
            self._cfg_text: str | None = path.read_text()
            self.model, _ = parse_cfg(self._cfg_text, part=p.part)
        else:
            self._cfg_text = None
        period_ms = self.model.frame_period_ms if self.model is not None else p.frame_period_ms
        if period_ms is None:
            raise ConfigError("give a cfg or frame_period_ms", field_path=self.context.param_path("frame_period_ms"))
        self.period_ns = round(period_ms * 1e6)
        self._data: Any = None
        self._config: Any = None
        self._parser = StreamParser(p.format)
        self._t0_ns: int | None = None
        self._fn0 = 0
        self._last_seq = -1
        self._seq_offset = 0
        self._reported_corrupt = 0
        self._emulator: Any = None
        self._payloads: Iterator[bytes] | None = None
        if p.emulate is None and p.data_port is None:
            raise ConfigError(
                "give data_port (a board) or emulate (an emulated one)", field_path=self.context.param_path("data_port")
            )
        if p.emulate is not None and (":" not in p.emulate):
            raise ConfigError(
                "emulate must be 'module:callable'", field_path=self.context.param_path("emulate"), value=p.emulate
            )

    def streams(self) -> list[StreamSpec]:
        sid = self.context.sensor_id
        rate = 1e9 / self.period_ns
        attrs = {"axes": self.p.axes, "format": self.p.format, "sensor_kind": "radar"}
        specs = [
            StreamSpec(
                name=f"{sid}/points",
                kind=FrameKind.POINT_CLOUD,
                ragged=True,
                rate_hz=rate,
                fields={
                    "xyz_m": FieldSpec(dtype="float32", shape=(3,)),
                    "velocity_m_per_s": FieldSpec(dtype="float32"),
                    "snr_db": FieldSpec(dtype="float32"),
                },
                attrs=attrs,
            )
        ]
        if self.p.format != "oob":
            specs.append(
                StreamSpec(
                    name=f"{sid}/tracks",
                    kind=FrameKind.POINT_CLOUD,
                    ragged=True,
                    rate_hz=rate,
                    fields={
                        "track_id": FieldSpec(dtype="int32"),
                        "position_m": FieldSpec(dtype="float32", shape=(3,)),
                        "velocity_m_per_s": FieldSpec(dtype="float32", shape=(3,)),
                        "acceleration_m_per_s2": FieldSpec(dtype="float32", shape=(3,)),
                        "confidence": FieldSpec(dtype="float32"),
                    },
                    attrs={**attrs, "content": "tracks"},
                )
            )
        return specs

    def calibration(self) -> RigCalibration | None:
        if self.model is None:
            return None
        return RigCalibration(sensors={self.context.sensor_id: SensorCalibration(radar=self.model)})

    def _start_emulator(self) -> tuple[str, str]:
        from .emulator import UartEmulator

        p = self.p
        if self._payloads is None:
            module, _, attr = str(p.emulate).partition(":")
            try:
                source = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise ConfigError(
                    f"cannot import the emulate callable: {exc}",
                    field_path=self.context.param_path("emulate"),
                    value=p.emulate,
                ) from exc
            items = source(
                seed=self.context.seed, format=p.format, frame_period_s=self.period_ns / 1e9, **p.emulate_params
            )
            fmt = p.format
            self._payloads = (encode_frame(fmt, it) if isinstance(it, RadarFrame) else bytes(it) for it in items)
        period = self.period_ns / 1e9 if self.context.realtime else None
        # the board streams only once told to: sensorStart over the config port, or (no .cfg)
        # open() starts it after the ports are open — pyserial flushes the input when it opens
        # a port, so frames written before that would be lost
        self._emulator = UartEmulator(self._payloads, frame_period_s=period, require_start=True)
        self._emulator.start()
        return self._emulator.config_path, self._emulator.data_path

    def open(self) -> None:
        serial = _serial()
        p = self.p
        config_port, data_port = p.config_port, p.data_port
        if p.emulate is not None:
            config_port, data_port = self._start_emulator()
        try:
            if config_port is not None and self._cfg_text is not None:
                self._config = serial.Serial(config_port, p.config_baud, timeout=0.05)
            self._data = serial.Serial(data_port, p.data_baud, timeout=0.05)
        except (OSError, serial.SerialException) as exc:
            self.close()
            raise DriverError(f"{self.name}: cannot open serial port: {exc}") from exc
        if self._config is not None and self._cfg_text is not None:
            ConfigPort(self._config, timeout_s=p.command_timeout_s).send_cfg(self._cfg_text)
        elif self._emulator is not None:
            self._emulator.start_streaming()  # an autostarting board, from now on
        self._parser.resync()
        self._t0_ns = None
        self._seq_offset = self._last_seq + 1

    def _transform(self, xyz: np.ndarray) -> np.ndarray:
        return xyz if self.p.axes == "ti" else (xyz @ OPENCV_FROM_TI.T).astype(np.float32)

    def _frames_of(self, rf: RadarFrame, t_host: int) -> list[Frame]:
        if self._t0_ns is None:
            if self.p.clock == "device":
                self._t0_ns, self._fn0 = 0, 0
            else:
                self._t0_ns = t_host
                self._fn0 = rf.frame_number
        rel = (rf.frame_number - self._fn0) & 0xFFFFFFFF
        if rel >= 1 << 31:  # the firmware restarted its counter: start a new epoch
            self._t0_ns, self._fn0, rel = t_host, rf.frame_number, 0
            self._seq_offset = self._last_seq + 1
        seq = self._seq_offset + rel
        if seq <= self._last_seq:
            return []
        self._last_seq = seq
        t_sensor = self._t0_ns + rel * self.period_ns
        sid = self.context.sensor_id
        pts = rf.points
        snr = rf.snr_db if rf.snr_db is not None else np.full(len(pts), np.nan, np.float32)
        out = [
            Frame(
                f"{sid}/points",
                t_sensor,
                t_host,
                seq,
                {
                    "xyz_m": np.ascontiguousarray(self._transform(pts[:, :3].astype(np.float32))),
                    "velocity_m_per_s": np.ascontiguousarray(pts[:, 3], np.float32),
                    "snr_db": np.ascontiguousarray(snr, np.float32),
                },
            )
        ]
        if self.p.format != "oob":
            tr = rf.tracks if rf.tracks is not None else RadarFrame.empty_tracks()
            out.append(
                Frame(
                    f"{sid}/tracks",
                    t_sensor,
                    t_host,
                    seq,
                    {
                        "track_id": tr["tid"].astype(np.int32),
                        "position_m": np.ascontiguousarray(self._transform(tr["pos"].astype(np.float32))),
                        "velocity_m_per_s": np.ascontiguousarray(self._transform(tr["vel"].astype(np.float32))),
                        "acceleration_m_per_s2": np.ascontiguousarray(self._transform(tr["acc"].astype(np.float32))),
                        "confidence": tr["confidence"].astype(np.float32),
                    },
                )
            )
        return out

    def read(self) -> Sequence[Frame]:
        if self._data is None:
            raise DriverError(f"{self.name}: read() before open()")
        deadline = time.monotonic() + self.p.read_timeout_s
        while not self.context.stop.is_set():
            try:
                chunk = self._data.read(max(1, min(self._data.in_waiting, 1 << 16)))
            except Exception as exc:
                raise DriverError(f"{self.name}: data port read failed: {exc}") from exc
            frames = self._parser.feed(chunk) if chunk else []
            c = self._parser.counters
            if c.corrupt > self._reported_corrupt:
                self.context.log.warning(
                    "%s: %d corrupt/truncated frame(s) skipped (total %d)",
                    self.context.sensor_id,
                    c.corrupt - self._reported_corrupt,
                    c.corrupt,
                )
                self._reported_corrupt = c.corrupt
            if frames:
                t_host = self.context.now_ns()
                out: list[Frame] = []
                for rf in frames:
                    out.extend(self._frames_of(rf, t_host))
                return out
            if time.monotonic() > deadline:
                return []
        return []

    def close(self) -> None:
        if self._config is not None:
            try:
                if self.p.stop_on_close:
                    ConfigPort(self._config, timeout_s=self.p.command_timeout_s).command("sensorStop")
            except Exception:
                self.context.log.debug("sensorStop on close failed", exc_info=True)
            self._config.close()
            self._config = None
        if self._data is not None:
            self._data.close()
            self._data = None
        if self._emulator is not None:
            self._emulator.close()
            self._emulator = None

    def summary(self) -> dict[str, Any]:
        """Parser counters: frames, corrupt, truncated, dropped, garbage_bytes, bytes_in."""
        return self._parser.counters.as_dict()
