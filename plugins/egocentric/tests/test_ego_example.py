"""examples/egocentric_rig.yaml runs end to end (with a small trained model), reports MPJPE per
estimator, and its recorded session replays byte-identically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sensorfusion.run import main as run_main
from sensorfusion.store import Session

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "egocentric_rig.yaml"


@pytest.fixture(scope="module")
def recorded(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("ego_example")
    text = EXAMPLE.read_text().replace("sessions/egocentric_model.pt", str(tiny_model))
    assert str(tiny_model) in text
    rig = d / "egocentric_rig.yaml"
    rig.write_text(text)
    out = d / "demo.zarr"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert run_main([str(rig), "--fast", "--duration", "1.5", "--out", str(out), "--json", "--quiet"]) == 0
    return rig, out, json.loads(buf.getvalue().strip().splitlines()[-1])


def test_the_example_reports_mpjpe_per_estimator(recorded: tuple[Path, Path, dict]):
    _, out, summary = recorded
    sinks = summary["sinks"]
    assert set(sinks) == {"mpjpe_geometric", "mpjpe_learned", "mpjpe_fused", "mpjpe_room"}
    for name in ("mpjpe_geometric", "mpjpe_learned", "mpjpe_fused"):
        assert sinks[name]["matched_person_frames"] == 2 * summary["framesets"]  # both wearers, every frameset
        assert sinks[name]["mpjpe_mm"] is not None and sinks[name]["mpjpe_mm"] > 0
    assert sinks["mpjpe_learned"]["joint_coverage"] == 1.0 and sinks["mpjpe_geometric"]["joint_coverage"] < 0.9
    # the room measures the wearers' limbs better than a barely trained model: fusion uses it
    assert sinks["mpjpe_fused"]["mpjpe_mm"] < sinks["mpjpe_learned"]["mpjpe_mm"]
    s = Session.open(out)
    assert {"hmd0_left/image", "hmd1_right/image", "hmd0/device_pose", "cam0/image"} <= set(s.streams())
    assert s.calibration.sensors["hmd1_left"].mount.device == "hmd1"
    fused = list(s.read("fused/skeleton3d", stage="fused"))
    assert all({0, 1} <= set(f["person_id"].tolist()) for f in fused)


def test_the_recorded_session_replays_byte_identically(recorded: tuple[Path, Path, dict], tmp_path: Path):
    rig, orig, _ = recorded
    out = tmp_path / "replay.zarr"
    assert run_main([str(rig), "--fast", "--replay", str(orig), "--out", str(out), "--quiet"]) == 0
    a, b = Session.open(orig), Session.open(out)
    keys = sorted(a.estimates())
    assert keys == sorted(b.estimates()) and any(k.startswith("learned:") for k in keys)
    for key in keys:
        stage, name = key.split(":")
        fa, fb = list(a.read(name, stage=stage)), list(b.read(name, stage=stage))
        assert len(fa) == len(fb) > 0, key
        for x, y in zip(fa, fb, strict=True):
            assert (x.t_sensor_ns, x.t_host_ns, x.seq) == (y.t_sensor_ns, y.t_host_ns, y.seq)
            for f in x.data:
                assert x.data[f].tobytes() == y.data[f].tobytes(), f"{key}.{f} differs at seq {x.seq}"
