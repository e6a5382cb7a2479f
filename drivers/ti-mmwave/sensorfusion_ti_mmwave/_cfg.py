"""The TI mmWave SDK ``.cfg`` file: parse it into a :class:`~sensorfusion.schema.RadarModel`.

A ``.cfg`` is one CLI command per line (``%`` starts a comment). The commands that shape the
radar cube are read here:

* ``channelCfg rxMask txMask cascading`` - the enabled antennas.
* ``adcCfg numADCBits adcOutputFmt`` - 16-bit, complex (1/2) or real (0).
* ``adcbufCfg subFrame adcOutputFmt sampleSwap chanInterleave chirpThreshold`` - the ADC
  buffer format: ``adcOutputFmt`` 0 complex / 1 real, ``sampleSwap`` 1 means *Q in the LSB
  half-word, I in the MSB* (so Q comes first in memory), ``chanInterleave`` 1 non-interleaved.
* ``profileCfg id startFreq_GHz idle_us adcStart_us rampEnd_us txPower txPhase
  slope_MHz_per_us txStart_us numAdcSamples sampleRate_ksps hpf1 hpf2 rxGain``.
* ``chirpCfg startIdx endIdx profile startFreqVar slopeVar idleVar adcStartVar txMask``.
* ``frameCfg chirpStartIdx chirpEndIdx numLoops numFrames framePeriod_ms trigger delay_ms``.

TX positions come from the part's antenna diagram (units of half a wavelength, ``(x, z)``
with x along azimuth and z up). The chirps of a frame (``chirpStartIdx..chirpEndIdx`` of
``frameCfg``) give the TDM order of the TX antennas; ``RadarModel.tx_positions[i]`` is the
antenna of chirp ``i`` of a loop, so cube axis ``tx`` follows the transmit order.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from sensorfusion import ConfigError
from sensorfusion.schema import RadarModel

__all__ = [
    "PARTS",
    "AdcLayout",
    "adc_layout_from_cfg",
    "detect_part",
    "frame_size_bytes",
    "parse_cfg",
]

Part = Literal["xwr12xx", "xwr14xx", "xwr16xx", "xwr18xx", "xwr68xx"]

#: TX antenna positions (half wavelengths, (x, z)) per part, indexed by TX number 0..2.
#: xWR14xx/18xx/68xx-ISK boards: TX1 and TX3 are 2 wavelengths apart in azimuth, TX2 sits
#: between them one wavelength from TX1 and half a wavelength higher (the elevation TX).
#: xWR16xx has two azimuth TX 2 wavelengths apart. xWR12xx as xWR14xx.
_TX_LAYOUTS: dict[str, tuple[tuple[float, float], ...]] = {
    "xwr12xx": ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0)),
    "xwr14xx": ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0)),
    "xwr16xx": ((0.0, 0.0), (4.0, 0.0)),
    "xwr18xx": ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0)),
    "xwr68xx": ((0.0, 0.0), (2.0, 1.0), (4.0, 0.0)),
}
_RX_LAYOUT: tuple[tuple[float, float], ...] = ((0.0, 0.0), (1.0, 0.0), (2.0, 0.0), (3.0, 0.0))

#: LVDS lanes the DCA1000 receives from each part (2-lane complex parts vs 4-lane parts).
_LANES: dict[str, int] = {"xwr12xx": 4, "xwr14xx": 4, "xwr16xx": 2, "xwr18xx": 2, "xwr68xx": 2}

PARTS: tuple[str, ...] = tuple(_TX_LAYOUTS)


@dataclass(frozen=True)
class AdcLayout:
    """How a frame of raw ADC samples is laid out on the LVDS / DCA1000 stream.

    Attributes:
        part: the radar part (``xwr18xx`` ...).
        lanes: LVDS lanes (2 for xWR16xx/18xx/68xx, 4 for xWR12xx/14xx).
        complex_samples: complex (I/Q) or real ADC output.
        q_first: ``adcbufCfg`` sampleSwap = 1 (Q in the LSB): Q precedes I in each pair.
        loops: chirp loops per frame.
        num_tx: chirps per loop (one TX each, TDM).
        num_rx: enabled receivers.
        samples: ADC samples per chirp.
    """

    part: str
    lanes: int
    complex_samples: bool
    q_first: bool
    loops: int
    num_tx: int
    num_rx: int
    samples: int

    @property
    def frame_bytes(self) -> int:
        return self.loops * self.num_tx * self.num_rx * self.samples * (4 if self.complex_samples else 2)

    @property
    def cube_shape(self) -> tuple[int, int, int, int]:
        return (self.loops, self.num_tx, self.num_rx, self.samples)


def _split(text: str) -> list[tuple[int, str, list[str]]]:
    out = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("%", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        out.append((lineno, parts[0], parts[1:]))
    return out


def detect_part(text: str) -> str | None:
    """The part named by the Visualizer's ``% Platform:xWR18xx`` comment, if any."""
    m = re.search(r"%\s*Platform\s*:\s*[xXaAiI]?WR?(\d\d)[xX0-9]{2}", text)
    if m is None:
        return None
    name = f"xwr{m.group(1)}xx"
    return name if name in _TX_LAYOUTS else None


def _num(cmd: str, lineno: int, args: list[str], i: int) -> float:
    """Argument ``i`` of a command as a number; a ConfigError naming ``cfg.<cmd>[i]`` otherwise."""
    try:
        v = float(args[i])
        if not math.isfinite(v):
            raise ValueError(v)
        return v
    except (IndexError, ValueError):
        raise ConfigError(
            f"line {lineno}: {cmd} argument {i + 1} missing or not a number",
            field_path=f"cfg.{cmd}[{i}]",
            value=args[i] if i < len(args) else None,
        ) from None


def _int(cmd: str, lineno: int, args: list[str], i: int) -> int:
    v = _num(cmd, lineno, args, i)
    if not math.isfinite(v) or v != int(v) or abs(v) > 1 << 31:
        raise ConfigError(
            f"line {lineno}: {cmd} argument {i + 1} must be an integer", field_path=f"cfg.{cmd}[{i}]", value=args[i]
        )
    return int(v)


def parse_cfg(text: str, *, part: str | None = None) -> tuple[RadarModel, dict[str, list[list[str]]]]:
    """Parse a ``.cfg`` into a :class:`RadarModel` and every command's arguments.

    Args:
        text: the file's text.
        part: the radar part (one of :data:`PARTS`); default: the ``% Platform:`` comment,
            else ``xwr18xx``.

    Returns:
        ``(model, commands)`` where ``commands`` maps each command name to the list of its
        argument lists in file order (``commands["chirpCfg"][1] == ["1", "1", ...]``).

    Raises:
        ConfigError: a required command is missing, or an argument is missing or invalid
            (the field path is ``cfg.<command>[<index>]``).
    """
    commands: dict[str, list[list[str]]] = {}
    lines: dict[str, list[int]] = {}
    for lineno, cmd, args in _split(text):
        commands.setdefault(cmd, []).append(args)
        lines.setdefault(cmd, []).append(lineno)
    part = (part or detect_part(text) or "xwr18xx").lower()
    if part not in _TX_LAYOUTS:
        raise ConfigError("unknown radar part", field_path="part", value=part, choices=list(PARTS))
    for required in ("channelCfg", "profileCfg", "chirpCfg", "frameCfg"):
        if required not in commands:
            raise ConfigError(f"the .cfg has no {required} command", field_path=f"cfg.{required}")

    ch, ch_line = commands["channelCfg"][0], lines["channelCfg"][0]
    rx_mask = _int("channelCfg", ch_line, ch, 0)
    tx_mask = _int("channelCfg", ch_line, ch, 1)
    rx_positions = tuple(p for i, p in enumerate(_RX_LAYOUT) if rx_mask >> i & 1)
    if not rx_positions:
        raise ConfigError("channelCfg enables no receiver", field_path="cfg.channelCfg[0]", value=rx_mask)

    prof, p_line = commands["profileCfg"][0], lines["profileCfg"][0]
    start_freq = _num("profileCfg", p_line, prof, 1)
    idle_us = _num("profileCfg", p_line, prof, 2)
    ramp_end_us = _num("profileCfg", p_line, prof, 4)
    slope = _num("profileCfg", p_line, prof, 7)
    samples = _int("profileCfg", p_line, prof, 9)
    rate_ksps = _num("profileCfg", p_line, prof, 10)

    fr, f_line = commands["frameCfg"][0], lines["frameCfg"][0]
    c0 = _int("frameCfg", f_line, fr, 0)
    c1 = _int("frameCfg", f_line, fr, 1)
    loops = _int("frameCfg", f_line, fr, 2)
    period_ms = _num("frameCfg", f_line, fr, 4)

    chirp_tx: dict[int, int] = {}
    for args, lineno in zip(commands["chirpCfg"], lines["chirpCfg"], strict=True):
        a = _int("chirpCfg", lineno, args, 0)
        b = _int("chirpCfg", lineno, args, 1)
        mask = _int("chirpCfg", lineno, args, 7)
        for idx in range(a, b + 1):
            chirp_tx[idx] = mask
    layout = _TX_LAYOUTS[part]
    tx_positions: list[tuple[float, float]] = []
    for idx in range(c0, c1 + 1):
        if idx not in chirp_tx:
            raise ConfigError(
                f"line {f_line}: frameCfg uses chirp {idx} but no chirpCfg defines it",
                field_path="cfg.frameCfg[0]",
                value=idx,
            )
        mask = chirp_tx[idx]
        bits = [i for i in range(len(layout)) if mask >> i & 1]
        if len(bits) != 1:
            raise ConfigError(
                f"chirp {idx} transmits on TX mask {mask}; only TDM chirps with one TX each are supported",
                field_path="cfg.chirpCfg[7]",
                value=mask,
            )
        if not tx_mask >> bits[0] & 1:
            raise ConfigError(
                f"chirp {idx} uses TX{bits[0] + 1}, which channelCfg does not enable",
                field_path="cfg.chirpCfg[7]",
                value=mask,
            )
        tx_positions.append(layout[bits[0]])
    try:
        model = RadarModel(
            start_freq_ghz=start_freq,
            freq_slope_mhz_per_us=slope,
            adc_samples=samples,
            sample_rate_ksps=rate_ksps,
            idle_time_us=idle_us,
            ramp_end_time_us=ramp_end_us,
            chirps_per_frame=loops,
            frame_period_ms=period_ms,
            tx_positions=tuple(tx_positions),
            rx_positions=rx_positions,
        )
    except ValueError as exc:
        raise ConfigError(f"the .cfg describes an invalid radar: {exc}", field_path="cfg.profileCfg") from None
    return model, commands


def adc_layout_from_cfg(text: str, *, part: str | None = None) -> AdcLayout:
    """The raw ADC layout of a ``.cfg`` (what the DCA1000 receives per frame)."""
    model, commands = parse_cfg(text, part=part)
    part = (part or detect_part(text) or "xwr18xx").lower()
    complex_samples = True
    q_first = False
    if "adcbufCfg" in commands:
        buf = commands["adcbufCfg"][0]
        if len(buf) >= 3:
            complex_samples = buf[1] == "0"
            q_first = buf[2] == "1"
    elif "adcCfg" in commands and len(commands["adcCfg"][0]) >= 2:
        complex_samples = commands["adcCfg"][0][1] != "0"
    return AdcLayout(
        part=part,
        lanes=_LANES[part],
        complex_samples=complex_samples,
        q_first=q_first,
        loops=model.chirps_per_frame,
        num_tx=len(model.tx_positions),
        num_rx=len(model.rx_positions),
        samples=model.adc_samples,
    )


def frame_size_bytes(text: str, *, part: str | None = None) -> int:
    """Bytes of raw ADC data per frame for a ``.cfg`` (16-bit samples)."""
    return adc_layout_from_cfg(text, part=part).frame_bytes
