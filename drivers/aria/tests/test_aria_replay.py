"""examples/aria_replay.yaml on the real ADT sample: the wearer's skeleton in the glasses' frame and
back in the world, checked against the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp
from sensorfusion_aria import ADT51, read_adt_skeleton, read_mps_trajectory

from sensorfusion.run import main as run_main
from sensorfusion.store import Session

pytest.importorskip("sensorfusion_egocentric", reason="the egocentric plugin (plugins/egocentric) is not installed")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "aria_replay.yaml"


def _run(rig_text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict, Session]:
    rig = EXAMPLE.parent / f"_test_{tmp_path.name}.yaml"  # relative paths resolve from examples/
    rig.write_text(rig_text)
    try:
        out = tmp_path / "aria.zarr"
        assert run_main([str(rig), "--fast", "--out", str(out), "--json", "--quiet"]) == 0
    finally:
        rig.unlink()
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    return summary, Session.open(str(out))


def _check_wearer(summary: dict, s: Session, adt: Path) -> None:
    sk = read_adt_skeleton(adt / "Skeleton_T.json")
    tr = read_mps_trajectory(adt / "aria_trajectory.csv")
    assert summary["framesets"] == 20
    dev = list(s.read("wearer_device/skeleton3d", stage="wearer_device"))
    back = list(s.read("wearer_world/skeleton3d", stage="wearer_world"))
    assert len(dev) == len(back) == 20
    assert s.streams()["gt/skeleton3d"].spec.skeleton == "adt51"
    # independent reference: the trajectory SLERP-interpolated at each skeleton time
    slerp = Slerp(tr.t_ns, Rotation.from_matrix(tr.world_from_device[:, :3, :3]))
    rot = slerp(sk.t_ns).as_matrix()
    trans = np.stack([np.interp(sk.t_ns, tr.t_ns, tr.world_from_device[:, i, 3]) for i in range(3)], axis=-1)
    expected = np.einsum("tji,tkj->tki", rot, sk.joints_m - trans[:, None])  # R^T (p - t)
    got = np.stack([f.data["joints"][0] for f in dev]).astype(np.float64)
    assert [f.t_sensor_ns for f in dev] == list(sk.t_ns)
    # the stage interpolates when it has seen the poses on both sides, else takes the nearest one
    # (at most half a 30 Hz period away): the head barely moves in that time
    err = np.linalg.norm(got - expected, axis=-1)
    assert np.median(err) < 0.002 and err.max() < 0.02, (np.median(err), err.max())
    # the glasses sit on the head: the top of the neck stays put in the device frame, ~17 cm away
    neck = got[:, ADT51.index("upper_neck")]
    assert np.linalg.norm(neck - neck.mean(0), axis=-1).max() < 0.005
    assert 0.1 < np.linalg.norm(neck.mean(0)) < 0.25
    # back in the world: the file's skeleton to float32 precision
    world = np.stack([f.data["joints"][0] for f in back]).astype(np.float64)
    assert np.abs(world - sk.joints_m).max() < 2e-6
    assert summary["sinks"]["roundtrip"]["mpjpe_mm"] < 0.01
    assert summary["sinks"]["roundtrip"]["matched_person_frames"] == 20


def test_wearer_skeleton_through_the_device_frame(adt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    text = "\n".join(line for line in EXAMPLE.read_text().splitlines() if "vrs:" not in line and "cameras:" not in line)
    summary, s = _run(text, tmp_path, capsys)
    _check_wearer(summary, s, adt)


def test_the_example_as_written_with_vrs_frames(
    adt: Path, projectaria: None, fisheye624: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    summary, s = _run(EXAMPLE.read_text(), tmp_path, capsys)
    _check_wearer(summary, s, adt)
    assert s.streams()["camera-slam-left/image"].count == 3
    cal = s.calibration.sensors["camera-slam-left"]
    assert cal.camera.model == "fisheye624" and cal.mount.device == "aria"


def test_a_gap_in_the_poses_is_an_event_in_the_session(adt: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    lines = (adt / "aria_trajectory.csv").read_text().splitlines()
    holed = tmp_path / "traj.csv"
    holed.write_text("\n".join(lines[:3] + lines[4:]) + "\n")  # one 30 Hz pose missing: a 67 ms step
    text = "\n".join(line for line in EXAMPLE.read_text().splitlines() if "vrs:" not in line and "cameras:" not in line)
    text = text.replace("../../shared/data/aria/adt_test/aria_trajectory.csv", str(holed))
    text = text.replace("params: {to: device}", "params: {to: device, max_pose_gap_ms: 50}")
    summary, s = _run(text, tmp_path, capsys)
    gaps = [e for e in s.events if e["kind"] == "device_pose_gap"]
    assert len(gaps) == 1 and gaps[0]["source"] == "wearer_device" and gaps[0]["stream"] == "aria/device_pose"
    assert summary["estimators"]["wearer_device"]["device_pose"]["aria"]["gap"] == 1
