"""The rest of the hostile-input matrix: OpenPose JSON that is not what it claims, outputs on a
read-only disk (one line, exit 1, before the work), and a radar data socket that must only
listen to its board."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from faultkit import fault_env

from sensorfusion.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]
DEMO = Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT.parent / "shared" / "data")) / "pose2sim-demo-single"
CALIB = DEMO / "calibration" / "Calib_qualisys.toml"
needs_demo = pytest.mark.skipif(not CALIB.exists(), reason=f"Pose2Sim demo data not found at {DEMO}")


def _views(tmp_path: Path, frames: int = 5) -> list[str]:
    pytest.importorskip("sensorfusion_calibration", reason="the calibration distribution is not installed")
    args = []
    for cam in ("cam01", "cam02"):
        src = DEMO / "trial" / "pose-associated" / f"{cam}_json"
        dst = tmp_path / f"{cam}_json"
        dst.mkdir()
        for f in sorted(src.glob("*.json"))[:frames]:
            shutil.copy(f, dst / f.name)
        args += ["--view", f"{cam}={dst}"]
    return args


def _spoil(tmp_path: Path, change: object) -> None:
    f = sorted((tmp_path / "cam01_json").glob("*.json"))[2]
    doc = json.loads(f.read_text())
    if callable(change):
        change(doc)
    f.write_text(json.dumps(doc))


def _set_people(doc: dict) -> None:
    doc["people"] = "nobody"


def _string_keypoints(doc: dict) -> None:
    doc["people"][0]["pose_keypoints_2d"] = [str(v) for v in doc["people"][0]["pose_keypoints_2d"]]


def _fifty_values(doc: dict) -> None:
    doc["people"][0]["pose_keypoints_2d"] = doc["people"][0]["pose_keypoints_2d"][:50]


@needs_demo
@pytest.mark.parametrize(
    ("change", "expect"),
    [(_set_people, "'people' must be a list"), (_string_keypoints, "list of numbers"), (_fifty_values, "50 values")],
)
def test_openpose_json_that_lies_is_a_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: object, expect: str
) -> None:
    views = _views(tmp_path)
    _spoil(tmp_path, change)
    rc = cli_main(["triangulate", "--calibration", str(CALIB), *views, "--quiet", "--out", str(tmp_path / "x.trc")])
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in err, err
    if _fifty_values is change:
        assert "16 keypoints" not in lines[0]


def _unshare_ok() -> bool:
    if shutil.which("unshare") is None:
        return False
    return (
        subprocess.run(
            ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o ro tmpfs /mnt"], capture_output=True
        ).returncode
        == 0
    )


needs_mount = pytest.mark.skipif(not _unshare_ok(), reason="cannot mount a tmpfs in a user+mount namespace here")


def _on_read_only_mount(tmp_path: Path, command: str) -> subprocess.CompletedProcess[str]:
    mnt = tmp_path / "ro"
    mnt.mkdir()
    script = f"mount -t tmpfs -o ro tmpfs {mnt} || exit 99\n{command.replace('RO', str(mnt))}\n"
    env = {k: v for k, v in fault_env().items() if k != "SENSORFUSION_PLUGINS"}  # every installed plugin
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env, timeout=120)


@needs_demo
@needs_mount
def test_triangulate_onto_a_read_only_folder_fails_before_the_work(tmp_path: Path) -> None:
    views = " ".join(_views(tmp_path, frames=100))
    cmd = f"{sys.executable} -m sensorfusion triangulate --calibration {CALIB} {views} --quiet --out RO/x.trc"
    res = _on_read_only_mount(tmp_path, cmd)
    assert res.returncode == 1, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "x.trc" in lines[0] and "EROFS" in lines[0], res.stderr[-2000:]
    assert "frames" not in res.stdout  # nothing was triangulated first


@needs_demo
@needs_mount
def test_calibrate_convert_onto_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("sensorfusion_calibration", reason="the calibration distribution is not installed")
    res = _on_read_only_mount(tmp_path, f"{sys.executable} -m sensorfusion calibrate convert {CALIB} RO/rig.json")
    assert res.returncode == 1, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "rig.json" in lines[0] and "Traceback" not in res.stderr, res.stderr[-2000:]


def test_dca1000_data_socket_ignores_other_senders(tmp_path: Path) -> None:
    ti = pytest.importorskip("sensorfusion_ti_mmwave", reason="the TI mmWave driver distribution is not installed")
    from sensorfusion_ti_mmwave import adc_layout_from_cfg, cube_to_adc
    from sensorfusion_ti_mmwave.emulator import Dca1000Emulator

    from sensorfusion import DriverContext

    cfg = tmp_path / "tiny.cfg"
    cfg.write_text(
        textwrap.dedent(
            """\
            % Platform:xWR18xx
            sensorStop
            channelCfg 15 5 0
            adcCfg 2 1
            adcbufCfg -1 0 1 1 1
            profileCfg 0 77 7 6 40 0 0 70 1 64 5000 0 0 30
            chirpCfg 0 0 0 0 0 0 0 1
            chirpCfg 1 1 0 0 0 0 0 4
            frameCfg 0 1 8 0 40 1 0
            sensorStart
            """
        )
    )
    layout = adc_layout_from_cfg(cfg.read_text())
    rng = np.random.default_rng(0)
    cubes = [
        (rng.integers(-2000, 2000, layout.cube_shape) + 1j * rng.integers(-2000, 2000, layout.cube_shape)).astype(
            np.complex64
        )
        for _ in range(6)
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    emu = Dca1000Emulator([cube_to_adc(c, layout) for c in cubes], data_port=port, packet_gap_s=0.0005).start()
    drv = ti.Dca1000Driver(
        ti.Dca1000Driver.Params.model_validate(
            {
                "cfg": str(cfg),
                "dca_address": "127.0.0.1",
                "dca_config_port": emu.listen_port,
                "host_address": "127.0.0.1",
                "host_config_port": 0,
                "data_port": port,
                "read_timeout_s": 0.3,
            }
        ),
        DriverContext(sensor_id="dca", realtime=False),
    )
    stop = threading.Event()
    forged = [0]

    def intruder() -> None:  # another host on the network sending well-formed data packets
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.2", 0))
            while not stop.is_set():
                seq = 1 + forged[0]
                s.sendto(
                    struct.pack("<I", seq) + (forged[0] * 1456).to_bytes(6, "little") + b"\x7f" * 1456,
                    ("127.0.0.1", port),
                )
                forged[0] += 1
                stop.wait(0.001)

    t = threading.Thread(target=intruder)
    try:
        drv.open()
        t.start()
        got = []
        for _ in range(60):
            got += drv.read()
            if emu.exhausted.is_set() and len(got) >= 5:
                break
    finally:
        stop.set()
        t.join()
        drv.close()
        emu.close()
    figures = drv.summary()
    assert forged[0] > 0 and figures["foreign_packets"] > 0
    assert figures["packets"] <= emu.packets_sent  # only the board's packets were reassembled
    assert len(got) >= 5
    for f in got:
        np.testing.assert_array_equal(f.data["cube"], cubes[f.seq])
