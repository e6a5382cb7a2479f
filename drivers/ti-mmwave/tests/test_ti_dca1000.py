"""DCA1000: the real capture, the cfg layout, reassembly, and the driver against a UDP emulator."""

from __future__ import annotations

import dataclasses
import os
import socket
import struct
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sensorfusion_ti_mmwave import (
    AdcLayout,
    Command,
    Dca1000Driver,
    Reassembler,
    adc_layout_from_cfg,
    adc_to_cube,
    cube_from_openradar,
    cube_to_adc,
    encode_command,
    iter_pcap_udp,
    parse_cfg,
    parse_reply,
)
from sensorfusion_ti_mmwave.emulator import Dca1000Emulator

from sensorfusion import ConfigError, DriverContext
from sensorfusion.testing import DriverContract

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
DCA = DATA / "radar" / "dca1000"
CFG = DCA / "xwr18xx_profile_2023_01_01T00_00_00_000.cfg"
OPENRADAR = DATA / "radar" / "openradar"
needs_dca = pytest.mark.skipif(not CFG.is_file(), reason=f"DCA1000 capture not found under {DCA}")


@needs_dca
def test_cfg_to_radar_model() -> None:
    model, cmds = parse_cfg(CFG.read_text())
    assert model.start_freq_ghz == 77 and model.freq_slope_mhz_per_us == 70 and model.adc_samples == 256
    assert model.sample_rate_ksps == 5209 and model.chirps_per_frame == 16 and model.frame_period_ms == 100
    assert model.tx_positions == ((0.0, 0.0), (4.0, 0.0))  # TX1 then TX3 (chirpCfg masks 1, 4)
    assert len(model.rx_positions) == 4
    assert model.range_resolution_m == pytest.approx(0.0436, abs=1e-4)  # the cfg header says 0.044 m
    assert cmds["chirpCfg"][1][7] == "4"
    lay = adc_layout_from_cfg(CFG.read_text())
    assert (lay.lanes, lay.q_first, lay.complex_samples, lay.frame_bytes) == (2, True, True, 131072)


def test_cfg_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"cfg\.frameCfg"):
        parse_cfg("channelCfg 15 1 0\nprofileCfg 0 77 7 7 60 0 0 70 1 256 5000 0 0 30\nchirpCfg 0 0 0 0 0 0 0 1\n")
    with pytest.raises(ConfigError, match=r"cfg.profileCfg\[9\]"):
        parse_cfg(
            "channelCfg 15 1 0\nprofileCfg 0 77 7 7 60 0 0 70 1 x 5000\nchirpCfg 0 0 0 0 0 0 0 1\nframeCfg 0 0 16 0 100 1 0\n"
        )
    with pytest.raises(ConfigError, match="part"):
        parse_cfg("", part="awr9999")


@needs_dca
def test_real_config_packets() -> None:
    n = 0
    for sport, dport, payload in iter_pcap_udp(DCA / "test_cmd.pcap"):
        assert dport == 4096 and sport == 1024
        head, code, status, foot = struct.unpack("<4H", payload[:8])
        assert head == 0xA55A and foot == 0xEEAA
        assert parse_reply(payload[:8]) == (code, status)
        assert code in set(Command)
        n += 1
    assert n == 10


@needs_dca
def test_real_frame_assembly_and_layout() -> None:
    text = CFG.read_text()
    layout = adc_layout_from_cfg(text)
    seqs, counts, total = [], [], 0
    reasm = Reassembler(layout.frame_bytes)
    for _s, dport, payload in iter_pcap_udp(DCA / "test_one_frame.pcap"):
        if dport == 4096:
            assert parse_reply(payload[:8]) is not None
            continue
        seq, lo, hi = struct.unpack_from("<IIH", payload)
        seqs.append(seq)
        counts.append(lo | hi << 32)
        assert counts[-1] == total  # byte count = bytes before this packet
        total += len(payload) - 10
        assert reasm.feed_packet(payload) == []
    assert seqs == list(range(1, 13))
    assert total == 16384
    # the capture holds the first 4 chirps (2 loops x 2 TX) of a 131072-byte frame of this cfg
    assert layout.frame_bytes == 8 * total
    (frame,) = reasm.flush()
    assert frame.index == 0 and frame.lost_bytes == layout.frame_bytes - 16384
    assert frame.lost_mask is not None and not frame.lost_mask[:16384].any() and frame.lost_mask[16384:].all()
    cube = adc_to_cube(frame.data, layout)
    assert cube.shape == (16, 2, 4, 256) and cube.dtype == np.complex64
    flat = cube.reshape(-1)
    # values the upstream project (mmwave-capture-std) checks for this capture, Q-first order
    for i, v in {4065: 223 + 120j, 3293: -90 - 615j, 415: -88 + 193j, 1255: 366 - 21j, 2394: 745 - 301j}.items():
        assert flat[i] == v
    assert not cube[2:].any()  # zero fill where the capture has no bytes
    assert cube_to_adc(cube, layout) == bytes(frame.data)  # the layout round-trips the real bytes


@pytest.mark.parametrize("lanes", [2, 4])
@pytest.mark.parametrize("q_first", [False, True])
def test_layout_orders(lanes: int, q_first: bool) -> None:
    lay = AdcLayout("x", lanes, True, q_first, loops=2, num_tx=3, num_rx=4, samples=8)
    cube = np.zeros(lay.cube_shape, np.complex64)
    cube[1, 2, 3, 5] = 7 + 9j  # loop 1, TX 2, RX 3, sample 5
    raw = np.frombuffer(cube_to_adc(cube, lay), "<i2")
    chirp = (1 * 3 + 2) * 4 * 8 * 2  # int16 offset of the chirp
    if lanes == 2:  # RX blocks of 8 samples; pairs (I0 I1 Q0 Q1)
        base = chirp + 3 * 16 + (5 // 2) * 4 + 5 % 2
        i_at, q_at = (base + 2, base) if q_first else (base, base + 2)
    else:  # per sample: I of RX0..3, then Q of RX0..3
        base = chirp + 5 * 8 + 3
        i_at, q_at = (base + 4, base) if q_first else (base, base + 4)
    assert raw[i_at] == 7 and raw[q_at] == 9 and np.count_nonzero(raw) == 2
    np.testing.assert_array_equal(adc_to_cube(raw.tobytes(), lay), cube)


def test_real_samples_layout() -> None:
    lay = AdcLayout("x", 2, False, False, loops=1, num_tx=1, num_rx=2, samples=4)
    cube = adc_to_cube(np.arange(8, dtype=np.int16), lay)
    np.testing.assert_array_equal(cube[0, 0].real, [[0, 1, 2, 3], [4, 5, 6, 7]])


@pytest.mark.skipif(not (OPENRADAR / "simple_frame_1.npy").is_file(), reason="openradar sample frame absent")
def test_openradar_frame() -> None:
    raw = np.load(OPENRADAR / "simple_frame_1.npy")
    cube = cube_from_openradar(raw)
    assert cube.shape == (128, 1, 1, 128) and cube.dtype == np.complex64
    assert cube[0, 0, 0, 0] == 18 - 136j  # 65400 wraps to -136
    assert np.abs(cube.real).max() < 32768 and cube.imag.min() < 0
    # chirp.txt: another chirp of the same scene, stored the same way
    values = [complex(v.strip("()")) for v in (OPENRADAR / "chirp.txt").read_text().split()]
    chirp = cube_from_openradar(np.array(values)[None, :])[0, 0, 0]
    assert chirp.shape == (128,)
    frame_profile = np.abs(np.fft.fft(cube[:, 0, 0], axis=1)).mean(0)
    chirp_profile = np.abs(np.fft.fft(chirp))
    # with the int16 cast the strongest range bins agree and DC does not dominate (read as
    # uint16 the 65536 offsets would make bin 0 the peak)
    assert set(np.argsort(frame_profile)[-2:]) == set(np.argsort(chirp_profile)[-2:]) == {1, 107}
    assert np.argmax(np.abs(np.fft.fft(raw, axis=1)).mean(0)) != np.argmax(frame_profile)


def _reasm_run(frames: list[bytes], *, drop: float, reorder: float, seed: int) -> tuple[list[Any], set[int]]:
    rng = np.random.default_rng(seed)
    pkts: list[tuple[int, int, bytes]] = []
    count = 0
    blob = b"".join(frames)
    for seq, off in enumerate(range(0, len(blob), 1456), start=1):
        pkts.append((seq, count, blob[off : off + 1456]))
        count += len(blob[off : off + 1456])
    lost = {i for i in range(len(pkts)) if rng.random() < drop}
    order = [i for i in range(len(pkts)) if i not in lost]
    for i in range(len(order) - 1):  # local swaps
        if rng.random() < reorder:
            order[i], order[i + 1] = order[i + 1], order[i]
    r = Reassembler(len(frames[0]), window_bytes=8 * 1456)
    out = []
    for i in order:
        seq, c, p = pkts[i]
        out += r.feed(seq, c, p)
        if rng.random() < 0.05:
            out += r.feed(seq, c, p)  # duplicate
    out += r.flush()
    return out, lost


def test_reassembly_reorder_drop_zero_fill() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(1, 255, 20000, dtype=np.uint8).tobytes() for _ in range(6)]
    out, lost = _reasm_run(frames, drop=0.05, reorder=0.3, seed=1)
    assert [f.index for f in out] == list(range(6))
    blob = b"".join(frames)
    lost_bytes = 0
    for f in out:
        ref = np.frombuffer(frames[f.index], np.uint8)
        got = np.frombuffer(bytes(f.data), np.uint8)
        mask = f.lost_mask if f.lost_mask is not None else np.zeros(len(ref), bool)
        np.testing.assert_array_equal(got[~mask], ref[~mask])
        assert not got[mask].any()  # zero fill
        assert f.lost_bytes == mask.sum()
        lost_bytes += f.lost_bytes
    assert lost_bytes == sum(min(1456, len(blob) - i * 1456) for i in lost)


def test_reassembly_whole_frame_lost() -> None:
    frames = [bytes([k + 1]) * 3000 for k in range(5)]
    r = Reassembler(3000, window_bytes=3000)
    out = []
    off = 0
    for k, fr in enumerate(frames):
        if k != 2:
            out += r.feed(k + 1, off, fr)
        off += len(fr)
    out += r.flush()
    assert [f.index for f in out] == [0, 1, 3, 4]
    assert all(f.lost_bytes == 0 and bytes(f.data) == frames[f.index] for f in out)
    assert r.counters.lost_frames == 1


def test_reassembly_joins_mid_stream_and_straddles_frames() -> None:
    r = Reassembler(1000, window_bytes=1000)
    blob = bytes(range(250)) * 40  # 10 frames
    out = []
    for seq, off in enumerate(range(2300, len(blob), 700), start=50):  # packets straddle frames
        out += r.feed(seq, off, blob[off : off + 700])
    out += r.flush()
    assert [f.index for f in out] == list(range(2, 10))
    assert out[0].lost_bytes == 300 and out[0].lost_mask is not None and out[0].lost_mask[:300].all()
    for f in out[1:]:
        assert f.lost_bytes == 0 and bytes(f.data) == blob[f.index * 1000 : (f.index + 1) * 1000]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tiny_cfg(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.cfg"
    p.write_text(
        "% Platform:xWR18xx\nsensorStop\nchannelCfg 15 5 0\nadcCfg 2 1\nadcbufCfg -1 0 1 1 1\n"
        "profileCfg 0 77 7 6 40 0 0 70 1 64 5000 0 0 30\nchirpCfg 0 0 0 0 0 0 0 1\n"
        "chirpCfg 1 1 0 0 0 0 0 4\nframeCfg 0 1 8 0 40 1 0\nsensorStart\n"
    )
    return p


def _cubes(layout: AdcLayout, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    while True:
        yield (rng.integers(-2000, 2000, layout.cube_shape) + 1j * rng.integers(-2000, 2000, layout.cube_shape)).astype(
            np.complex64
        )


def test_driver_against_udp_emulator_with_loss(tmp_path: Path) -> None:
    cfg = _tiny_cfg(tmp_path)
    layout = adc_layout_from_cfg(cfg.read_text())
    gen = _cubes(layout)
    cubes = [next(gen) for _ in range(6)]
    port = _free_port()
    emu = Dca1000Emulator(
        [cube_to_adc(c, layout) for c in cubes], data_port=port, reorder=0.2, drop=0.05, seed=4, packet_gap_s=0.0002
    ).start()
    drv = Dca1000Driver(
        Dca1000Driver.Params.model_validate(
            {
                "cfg": str(cfg),
                "dca_address": "127.0.0.1",
                "dca_config_port": emu.listen_port,
                "host_address": "127.0.0.1",
                "host_config_port": 0,
                "data_port": port,
                "reorder_window_packets": 4,
                "read_timeout_s": 0.3,
            }
        ),
        DriverContext(sensor_id="dca", realtime=False),
    )
    try:
        drv.open()
        got = []
        for _ in range(40):
            got += drv.read()
            if emu.exhausted.is_set() and len(got) >= 5:
                break
        drv.close()
    finally:
        emu.close()
    assert emu.commands[:4] == [
        Command.SYSTEM_CONNECT,
        Command.CONFIG_FPGA_GEN,
        Command.CONFIG_PACKET_DATA,
        Command.RECORD_START,
    ]
    assert emu.commands[-1] == Command.RECORD_STOP
    assert len(got) >= 5 and [f.seq for f in got] == sorted({f.seq for f in got})
    total_lost = 0
    for f in got:
        cube, lost = f.data["cube"], int(f.data["lost_bytes"])
        total_lost += lost
        ref = cubes[f.seq]
        ok = cube != 0
        np.testing.assert_array_equal(cube[ok], ref[ok])
        assert np.count_nonzero(~ok) * 4 >= lost * 0.9  # zero-filled samples cover the lost bytes
        assert f.t_sensor_ns - got[0].t_sensor_ns == (f.seq - got[0].seq) * 40_000_000
    assert emu.dropped_packets > 0, "the seed must drop packets"
    assert 0 < total_lost <= emu.dropped_bytes
    assert drv.summary()["out_of_order"] > 0


def test_config_commands_round_trip() -> None:
    pkt = encode_command(Command.CONFIG_FPGA_GEN, bytes([1, 2, 1, 2, 3, 30]))
    assert pkt[:2] == b"\x5a\xa5" and pkt[-2:] == b"\xaa\xee" and pkt[4:6] == b"\x06\x00"


class TestDca1000Contract(DriverContract):
    driver_class = Dca1000Driver
    plugin_name = "ti_mmwave"
    sensor_id = "dca"
    frames_to_read = 4
    params: ClassVar[dict[str, Any]] = {"cfg": "x.cfg"}
    _emulators: ClassVar[list[Dca1000Emulator]] = []

    @pytest.fixture(autouse=True)
    def _setup(self, tmp_path: Path) -> Any:
        cfg = _tiny_cfg(tmp_path)
        type(self).params = {
            "cfg": str(cfg),
            "dca_address": "127.0.0.1",
            "host_address": "127.0.0.1",
            "host_config_port": 0,
            "read_timeout_s": 0.3,
        }
        # no board answers on this config port: open() fails
        type(self).failing_params = {
            **type(self).params,
            "dca_config_port": _free_port(),
            "data_port": _free_port(),
            "command_timeout_s": 0.2,
        }
        yield
        while self._emulators:
            self._emulators.pop().close()

    def make_driver(self, *, realtime: bool = False) -> Dca1000Driver:
        cfg = Path(self.params["cfg"])
        layout = adc_layout_from_cfg(cfg.read_text())
        port = _free_port()
        emu = Dca1000Emulator(
            (cube_to_adc(c, layout) for c in _cubes(layout)), data_port=port, packet_gap_s=0.0005
        ).start()
        self._emulators.append(emu)
        params = Dca1000Driver.Params.model_validate(
            {**self.params, "dca_config_port": emu.listen_port, "data_port": port}
        )
        return Dca1000Driver(params, DriverContext(sensor_id=self.sensor_id, realtime=realtime))


def test_layout_dataclass_replace() -> None:
    lay = AdcLayout("xwr14xx", 4, True, False, 16, 3, 4, 128)
    assert dataclasses.replace(lay, complex_samples=False).frame_bytes == lay.frame_bytes // 2


_CFG_WORDS = ["channelCfg", "profileCfg", "chirpCfg", "frameCfg", "adcbufCfg", "sensorStart", "%", "1", "0", "15", "-1",
              "77", "nan", "inf", "1e9", "x", "4", "256", "0.5"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_CFG_WORDS), min_size=1, max_size=16), max_size=8))
def test_fuzz_cfg_raises_only_config_errors(lines: list[list[str]]) -> None:
    text = "\n".join(" ".join(words) for words in lines)
    try:
        model, _ = parse_cfg(text)
    except ConfigError:
        return
    assert model.adc_samples > 0 and model.chirps_per_frame > 0
