"""The UART driver against the pty emulator, opened with pyserial."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import serial
from sensorfusion_ti_mmwave import ConfigPort, RadarFrame, StreamParser, UartDriver, encode_frame, prepare_cfg_lines
from sensorfusion_ti_mmwave.emulator import FaultInjector, UartEmulator, encode_stream

from sensorfusion import DriverContext, DriverError
from sensorfusion.testing import DriverContract

DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
CFG = DATA / "radar" / "dca1000" / "xwr18xx_profile_2023_01_01T00_00_00_000.cfg"


def _cfg_path(tmp_path: Path) -> Path:
    if CFG.is_file():
        return CFG
    p = tmp_path / "x.cfg"  # a real-looking fallback when the shared data is absent
    p.write_text(
        "sensorStop\nflushCfg\nchannelCfg 15 5 0\nadcbufCfg -1 0 1 1 1\n"
        "profileCfg 0 77 429 7 57.14 0 0 70 1 256 5209 0 0 30\nchirpCfg 0 0 0 0 0 0 0 1\n"
        "chirpCfg 1 1 0 0 0 0 0 4\nframeCfg 0 1 16 0 100 1 0\nsensorStart\n"
    )
    return p


def known_frames(fmt: str, n: int | None = None, seed: int = 0) -> list[RadarFrame] | Any:
    """Frames of known point clouds (people-like blobs 1-5 m ahead) and tracks."""

    def gen() -> Any:
        rng = np.random.default_rng(seed)
        for i in itertools.count():
            k = int(rng.integers(0, 30))
            pts = np.zeros((k, 4), np.float32)
            pts[:, 0] = rng.uniform(-2, 2, k)
            pts[:, 1] = rng.uniform(1, 5, k)
            pts[:, 2] = rng.uniform(-1, 1, k)
            pts[:, 3] = rng.uniform(-2, 2, k)
            snr = rng.uniform(5, 40, k).astype(np.float32)
            tracks = RadarFrame.empty_tracks(2) if fmt != "oob" else None
            if tracks is not None:
                tracks["tid"] = [i % 7, 9]
                tracks["pos"] = rng.normal(size=(2, 3))
                tracks["vel"] = rng.normal(size=(2, 3))
                tracks["confidence"] = [0.5, 0.9]
            yield RadarFrame(i + 100, points=pts, snr_db=snr, tracks=tracks)

    g = gen()
    return list(itertools.islice(g, n)) if n is not None else g


def make(fmt: str, emu: UartEmulator, cfg: Path | None, **kw: Any) -> UartDriver:
    params = UartDriver.Params.model_validate(
        {
            "data_port": emu.data_path,
            "config_port": emu.config_path if cfg else None,
            "cfg": str(cfg) if cfg else None,
            "format": fmt,
            "frame_period_ms": 50.0,
            "read_timeout_s": 0.1,
            **kw,
        }
    )
    return UartDriver(params, DriverContext(sensor_id="radar0", realtime=False))


def read_n(
    drv: UartDriver, n: int, stream: str = "radar0/points", tries: int = 40, into: list[Any] | None = None
) -> list[Any]:
    got = []
    for _ in range(tries):
        frames = drv.read()
        if into is not None:
            into += frames
        got += [f for f in frames if f.stream == stream]
        if len(got) >= n:
            break
    return got


@pytest.mark.parametrize("fmt", ["oob", "pc3d", "tracking"])
def test_configures_and_decodes_known_clouds(fmt: str, tmp_path: Path) -> None:
    frames = known_frames(fmt, 12)
    emu = UartEmulator(encode_stream(fmt, frames)).start()
    try:
        drv = make(fmt, emu, _cfg_path(tmp_path))
        drv.open()
        assert emu.streaming
        everything: list[Any] = []
        got = read_n(drv, 10, into=everything)
        assert emu.commands[0] == "sensorStop" and emu.commands[-1] == "sensorStart"
        assert len(got) >= 10
        tol = 1e-6 if fmt == "oob" else 0.03  # spherical formats quantise (0.01 rad, 0.25 mm)
        for f in got:
            ref = frames[f.seq]
            assert f.data["xyz_m"].shape == (len(ref.points), 3)
            np.testing.assert_allclose(f.data["xyz_m"], ref.points[:, :3], atol=tol)
            np.testing.assert_allclose(
                f.data["velocity_m_per_s"], ref.points[:, 3], atol=0.05 if fmt != "oob" else 1e-6
            )
            np.testing.assert_allclose(f.data["snr_db"], ref.snr_db, atol=0.05)
        for a, b in itertools.pairwise(got):
            assert b.t_sensor_ns - a.t_sensor_ns == (b.seq - a.seq) * 100_000_000
        tracks = [f for f in everything if f.stream == "radar0/tracks"]
        if fmt == "oob":
            assert not tracks
        else:
            assert len(tracks) == len(got)
            for f in tracks:
                ref = frames[f.seq].tracks
                assert ref is not None
                assert f.data["track_id"].tolist() == ref["tid"].tolist()
                np.testing.assert_allclose(f.data["position_m"], ref["pos"], atol=1e-6)
                np.testing.assert_allclose(f.data["velocity_m_per_s"], ref["vel"], atol=1e-6)
        drv.close()
        assert emu.commands[-1] == "sensorStop"
    finally:
        emu.close()


def test_cfg_period_drives_sensor_time(tmp_path: Path) -> None:
    emu = UartEmulator(encode_stream("oob", known_frames("oob"))).start()
    try:
        drv = make("oob", emu, _cfg_path(tmp_path))
        drv.open()
        got = read_n(drv, 4)
        drv.close()
    finally:
        emu.close()
    period = int(drv.period_ns)
    assert period == 100_000_000  # frameCfg periodicity of the cfg
    for a, b in itertools.pairwise(got):
        assert b.t_sensor_ns - a.t_sensor_ns == (b.seq - a.seq) * period


def test_axes_opencv_transform(tmp_path: Path) -> None:
    frames = known_frames("oob", 5)
    emu = UartEmulator(encode_stream("oob", frames)).start()
    try:
        drv = make("oob", emu, None, axes="opencv")
        drv.open()
        emu.start_streaming()
        f = read_n(drv, 1)[0]
        drv.close()
    finally:
        emu.close()
    ref = frames[f.seq].points
    np.testing.assert_allclose(f.data["xyz_m"], np.stack([ref[:, 0], -ref[:, 2], ref[:, 1]], 1), atol=1e-6)


@pytest.mark.parametrize("fmt", ["oob", "pc3d", "tracking"])
def test_garbage_truncation_and_corruption_are_counted_and_skipped(fmt: str) -> None:
    frames = known_frames(fmt, 200, seed=3)
    inj = FaultInjector(encode_stream(fmt, frames), seed=1, garbage=0.3, truncate=0.1, corrupt=0.1, fmt=fmt)  # type: ignore[arg-type]
    emu = UartEmulator(inj).start()
    try:
        drv = make(fmt, emu, None)
        drv.open()
        emu.start_streaming()
        got = []
        for _ in range(400):
            batch = drv.read()
            got += [f for f in batch if f.stream == "radar0/points"]
            if not batch and emu.exhausted.is_set():
                break
        drv.close()
    finally:
        emu.close()
    s = drv.summary()
    log = inj.log
    bad = set(log.faulty_numbers)
    decoded = {frames[f.seq].frame_number for f in got}
    # a frame with a bad checksum / impossible length is never decoded
    assert not decoded & set(log.corrupted_numbers)
    # a truncated frame followed by garbage long enough to fill its declared length cannot be
    # told apart without a payload CRC (none of the formats has one): allow at most one
    assert len(decoded & set(log.truncated_numbers)) <= 1
    for f in got:
        if frames[f.seq].frame_number not in bad:
            np.testing.assert_allclose(f.data["velocity_m_per_s"], frames[f.seq].points[:, 3], atol=0.05)
    assert s["corrupt"] >= log.corrupted + log.truncated - 2
    assert s["frames"] >= 200 - len(bad) - 2
    assert s["garbage_bytes"] >= log.garbage_bytes
    assert s["dropped"] >= len(bad) - 2


def test_error_reply_names_the_line(tmp_path: Path) -> None:
    emu = UartEmulator([], fail_commands={"frameCfg"}).start()
    try:
        drv = make("oob", emu, _cfg_path(tmp_path))
        with pytest.raises(DriverError, match=r"cfg line \d+ 'frameCfg 0 1 16 0 100 1 0'.*Error -1"):
            drv.open()
        drv.close()
    finally:
        emu.close()


def test_timeout_names_the_line(tmp_path: Path) -> None:
    emu = UartEmulator([], silent_commands={"channelCfg"}).start()
    try:
        drv = make("oob", emu, _cfg_path(tmp_path), command_timeout_s=0.3)
        with pytest.raises(DriverError, match=r"no reply to cfg line \d+ 'channelCfg 15 5 0' within 0.3 s"):
            drv.open()
        drv.close()
    finally:
        emu.close()


def test_unknown_command_is_rejected() -> None:
    with UartEmulator([]) as emu, serial.Serial(emu.config_path, 115200, timeout=0.05) as port:
        cp = ConfigPort(port, timeout_s=1.0)
        assert "Done" in cp.command("sensorStop")
        with pytest.raises(DriverError, match="not recognized"):
            cp.command("frobnicate 1 2")


def test_cfg_lines_stop_first_start_last() -> None:
    lines = prepare_cfg_lines("% c\nsensorStart\nchannelCfg 15 5 0\n\nframeCfg 0 1 16 0 100 1 0 % tail\n")
    assert lines == ["sensorStop", "channelCfg 15 5 0", "frameCfg 0 1 16 0 100 1 0", "sensorStart"]


def test_parser_on_raw_pty_bytes_with_pyserial() -> None:
    frames = known_frames("tracking", 5)
    blob = b"".join(encode_frame("tracking", f) for f in frames)
    with UartEmulator([blob[:700], blob[700:]]) as emu, serial.Serial(emu.data_path, 921600, timeout=0.1) as port:
        emu.start_streaming()
        sp = StreamParser("tracking")
        out: list[RadarFrame] = []
        for _ in range(50):
            out += sp.feed(port.read(4096))
            if len(out) == 5:
                break
    assert [f.frame_number for f in out] == [100, 101, 102, 103, 104]
    assert sp.counters.corrupt == 0


class TestUartContract(DriverContract):
    driver_class = UartDriver
    plugin_name = "ti_mmwave"
    sensor_id = "radar0"
    frames_to_read = 6
    params: ClassVar[dict[str, Any]] = {"data_port": "/dev/null", "format": "tracking", "frame_period_ms": 50.0}
    failing_params: ClassVar[dict[str, Any] | None] = {**params, "data_port": "/dev/no-such-sensorfusion-tty"}
    _emulators: ClassVar[list[UartEmulator]] = []

    def make_driver(self, *, realtime: bool = False) -> UartDriver:
        emu = UartEmulator(encode_stream("tracking", known_frames("tracking")), frame_period_s=0.002).start()
        self._emulators.append(emu)
        cfg = CFG if CFG.is_file() else None
        params = UartDriver.Params.model_validate(
            {
                **self.params,
                "data_port": emu.data_path,
                "config_port": emu.config_path if cfg else None,
                "cfg": str(cfg) if cfg else None,
            }
        )
        if cfg is None:
            emu.start_streaming()
        return UartDriver(params, DriverContext(sensor_id=self.sensor_id, realtime=realtime))

    @pytest.fixture(autouse=True)
    def _close_emulators(self) -> Any:
        yield
        while self._emulators:
            self._emulators.pop().close()


def test_rig_run_through_the_emulated_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A rig file with ``emulate``: the scheduler runs the driver, which configures and reads an
    in-process board over its pty pair with pyserial."""
    import json

    from sensorfusion.run import main

    cfg = _cfg_path(tmp_path)
    rig = tmp_path / "rig.yaml"
    rig.write_text(
        "name: ti-uart-emulated\nsensors:\n  - id: radar0\n    driver: ti_mmwave.uart\n    params:\n"
        f"      cfg: {cfg}\n      format: tracking\n"
        "      emulate: sensorfusion_ti_mmwave.emulator:random_clouds\n      emulate_params: {max_points: 20}\n"
    )
    code = main([str(rig), "--max-frames", "30", "--no-record", "--fast", "--quiet", "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, out
    assert out["framesets"] == 30
    assert out["streams"]["radar0/points"]["count"] >= 30 and out["streams"]["radar0/tracks"]["count"] >= 30


def test_params_need_a_port_or_an_emulator() -> None:
    from sensorfusion import ConfigError

    with pytest.raises(ConfigError, match="data_port"):
        UartDriver(UartDriver.Params.model_validate({"frame_period_ms": 50.0}), DriverContext(sensor_id="r"))


@pytest.mark.parametrize("clock", ["device", "host"])
def test_clock_device_counts_from_the_board_frame_number(tmp_path: Path, clock: str) -> None:
    """``clock: device`` stamps frame number x period (the board's clock, like the simulated
    rig's); ``host`` anchors the first frame at host time."""
    from sensorfusion.run import main
    from sensorfusion.store import Session

    cfg = _cfg_path(tmp_path)
    rig = tmp_path / "rig.yaml"
    out = tmp_path / "s.zarr"
    rig.write_text(
        "name: ti-clock\nsensors:\n  - id: radar0\n    driver: ti_mmwave.uart\n    params:\n"
        f"      cfg: {cfg}\n      format: oob\n      clock: {clock}\n"
        "      emulate: sensorfusion_ti_mmwave.emulator:random_clouds\n      emulate_params: {max_points: 5}\n"
    )
    assert main([str(rig), "--max-frames", "10", "--out", str(out), "--fast", "--quiet"]) == 0
    ts = Session.open(str(out)).timestamps("radar0/points")
    period = np.diff(ts["t_sensor_ns"])
    assert np.all(period > 0)
    if clock == "device":
        assert np.array_equal(ts["t_sensor_ns"] % period[0], np.zeros_like(ts["t_sensor_ns"]))
        assert ts["t_sensor_ns"][0] < 10 * period[0]
    else:
        assert abs(int(ts["t_sensor_ns"][0]) - int(ts["t_host_ns"][0])) < 5_000_000_000


def test_emulated_board_without_cfg_loses_no_frame_to_the_port_opening(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyserial flushes a port's input when it opens it: an autostarting emulated board must
    not stream before the driver has its ports open. The emulator's threads get a head start
    here (as on a loaded machine); every frame must still arrive."""
    import time

    from sensorfusion_ti_mmwave import emulator

    start = emulator.UartEmulator.start

    def slow_start(self: Any) -> Any:
        out = start(self)
        time.sleep(0.3)  # the emulator runs while the driver has not opened its ports yet
        return out

    monkeypatch.setattr(emulator.UartEmulator, "start", slow_start)
    params = UartDriver.Params.model_validate(
        {
            "emulate": "sensorfusion_ti_mmwave.emulator:random_clouds",
            "emulate_params": {"frames": 30, "max_points": 8},
            "frame_period_ms": 100.0,
            "read_timeout_s": 1.0,
        }
    )
    drv = UartDriver(params, DriverContext("uart0", seed=3, realtime=False))
    drv.open()
    seqs: list[int] = []
    try:
        for _ in range(200):
            got = drv.read()
            if not got:
                break
            seqs += [f.seq for f in got if f.stream == "uart0/points"]
            if len(seqs) == 30:
                break
    finally:
        drv.close()
    assert len(seqs) == 30, f"{30 - len(seqs)} frame(s) lost"
    assert seqs == list(range(seqs[0], seqs[0] + 30))
    assert drv.summary()["dropped"] == 0
