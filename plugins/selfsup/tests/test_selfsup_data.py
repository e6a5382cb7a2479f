"""2D-only recordings: loading sessions and OpenPose folders, person tracks, bad input, and the
structural guarantee that no 3D ground truth reaches training."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sensorfusion_selfsup._loading import load_session
from sensorfusion_selfsup._recording import GroundTruthAccessError, Keypoints2DReader, Recording
from sensorfusion_selfsup._train import TrainSettings, train

from sensorfusion import ConfigError
from sensorfusion.store import Session

_spec = importlib.util.spec_from_file_location("_selfsup_conftest", Path(__file__).with_name("conftest.py"))
assert _spec and _spec.loader
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

TINY = TrainSettings(
    epochs=2, batch_chunks=3, chunk_frames=12, min_steps_per_epoch=2, seed=3, refiner_hidden=32, hidden=16
)


def test_session_becomes_tracks_with_oracle_ids(sim_session: Path) -> None:
    rec = load_session(sim_session, views=["cam0", "cam1", "cam2"], identities=True)
    assert rec.views == ("cam0", "cam1", "cam2") and rec.skeleton.name == "coco17"
    assert set(rec.calibration.sensors) == {"cam0", "cam1", "cam2"}
    assert len(rec.t_ns) == 91 and abs(rec.rate_hz - 30.0) < 1e-3  # frames 0 .. 3 s
    assert sorted(t.track_id for t in rec.tracks) == [0, 1]
    for t in rec.tracks:
        assert t.keypoints.shape[1:] == (3, 17, 3)
        seen = np.isfinite(t.keypoints[..., 0])
        assert seen.mean() > 0.5
        assert (t.keypoints[..., 2][~seen] == 0).all()  # a miss is NaN with confidence 0


def test_association_recovers_the_same_people_without_ids(sim_session_no_ids: Path) -> None:
    """Without ids the SDK's multi-person fusion associates people; each track holds one person's
    detections (checked against the simulator's identities, read here for the test only)."""
    rec = load_session(sim_session_no_ids, views=["cam0", "cam1", "cam2", "cam3"], identities=False)
    long = [t for t in rec.tracks if t.num_frames > 40]
    assert len(long) == 2
    s = Session.open(sim_session_no_ids)
    gt: dict[int, np.ndarray] = {}
    index = {int(t): k for k, t in enumerate(rec.t_ns)}
    for f in s.read("gt/skeleton3d"):
        k = index.get(f.t_sensor_ns)
        if k is None:
            continue
        for x, pid in zip(f["joints"], f["person_id"], strict=True):
            gt.setdefault(int(pid), np.full((len(rec.t_ns), 17, 3), np.nan))[k] = x
    from sensorfusion.geometry import world_to_pixels

    for t in long:
        errs = {}
        for pid, G in gt.items():
            e = []
            for v, cam in enumerate(rec.views):
                cal = rec.calibration.sensors[cam]
                g = G[t.start : t.start + t.num_frames]
                proj = world_to_pixels(cal.camera, cal.world_from_sensor, g.reshape(1, -1, 3)).reshape(
                    g.shape[0], 17, 2
                )
                e.append(np.linalg.norm(t.keypoints[:, v, :, :2] - proj, axis=-1))
            errs[pid] = np.nanmedian(np.stack(e))
        assert min(errs.values()) < 5.0 and max(errs.values()) > 50.0  # one person, not a mix


def test_reader_refuses_anything_but_2d(sim_session: Path) -> None:
    r = Keypoints2DReader(sim_session)
    assert set(r.keypoint_streams()) == {f"detector:cam{i}/keypoints2d" for i in range(4)}
    assert "gt/skeleton3d" in r.all_stream_names()  # it knows the name, never the content
    with pytest.raises(GroundTruthAccessError, match="not a 2D keypoint stream"):
        next(iter(r.read("gt/skeleton3d")))


def test_no_ground_truth_reaches_training(sim_session: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 1. every stream the training path reads is a 2D keypoint stream
    read: list[str] = []
    original = Session.read

    def spy(self: Session, name: str, **kw: object) -> object:
        read.append(name if kw.get("stage") is None else f"{kw['stage']}:{name}")
        return original(self, name, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Session, "read", spy)
    rec = load_session(sim_session, views=["cam0", "cam1", "cam2"], identities=True)
    a = train([rec], TINY)
    assert read and all(n.endswith("/keypoints2d") for n in read), read
    monkeypatch.setattr(Session, "read", original)
    # 2. the same session with its ground truth deleted trains the very same model
    stripped = helpers.copy_session(sim_session, tmp_path / "no_gt.zarr", drop=("streams/gt",))
    assert "gt/skeleton3d" not in Session.open(stripped).streams()
    b = train([load_session(stripped, views=["cam0", "cam1", "cam2"], identities=True)], TINY)
    sa, sb = a.checkpoint.model.state_dict(), b.checkpoint.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # 3. train() takes nothing but Recording objects
    with pytest.raises(TypeError, match="Recording"):
        train([Session.open(sim_session)], TINY)  # type: ignore[list-item]
    # 4. the training modules do not even import the ground-truth readers
    code = (
        "import sys, sensorfusion_selfsup._train, sensorfusion_selfsup._loading, sensorfusion_selfsup._infer;"
        "bad = [m for m in sys.modules if m.endswith(('_evaluate', '_scoring'))];"
        "print('IMPORTED', bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "IMPORTED []" in out.stdout, out.stdout + out.stderr
    assert isinstance(rec, Recording)


def test_session_without_2d_streams_is_a_clear_error(sim_session: Path, tmp_path: Path) -> None:
    only_gt = helpers.copy_session(sim_session, tmp_path / "only_gt.zarr", drop=("estimates",))
    with pytest.raises(ConfigError, match=r"no 2D keypoint streams.*gt/skeleton3d") as e:
        load_session(only_gt)
    assert e.value.field_path == "SESSION"


def test_session_without_calibration_is_a_clear_error(sim_session: Path, tmp_path: Path) -> None:
    nocal = helpers.copy_session(sim_session, tmp_path / "nocal.zarr", no_calibration=True)
    with pytest.raises(ConfigError, match=r"no camera calibration for cam0, cam1.*--calibration") as e:
        load_session(nocal)
    assert e.value.field_path == "--calibration"
    # a calibration file fixes it
    cal = Session.open(sim_session).calibration
    rec = load_session(nocal, calibration=cal, identities=True)
    assert rec.num_views == 4 and rec.tracks


def test_unknown_view_and_missing_session(sim_session: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no 2D keypoint stream for this camera") as e:
        load_session(sim_session, views=["cam0", "cam9"])
    assert e.value.field_path == "--views" and "cam3" in str(e.value)
    with pytest.raises(ConfigError, match="no such session"):
        load_session(tmp_path / "nope.zarr")


def test_openpose_folders_as_a_recording(tmp_path: Path, sim_session: Path) -> None:
    """2D from another tool: OpenPose JSON folders (one file per frame) and a calibration."""
    import json

    from sensorfusion_selfsup._loading import load_openpose

    rec = load_session(sim_session, views=["cam0", "cam1", "cam2"], identities=True)
    folders = {}
    for v, cam in enumerate(rec.views):
        d = tmp_path / f"{cam}_json"
        d.mkdir()
        for f in range(len(rec.t_ns)):
            people = []
            for t in rec.tracks:
                if t.start <= f < t.start + t.num_frames:
                    kp = np.nan_to_num(t.keypoints[f - t.start, v]).reshape(-1).tolist()  # misses as 0, 0, 0
                    people.append({"person_id": [-1], "pose_keypoints_2d": kp})
            (d / f"{cam}_{f:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
        folders[cam] = d
    op = load_openpose(folders, rec.calibration, skeleton="coco17", fps=30.0)
    assert op.views == rec.views and len(op.t_ns) == len(rec.t_ns)
    long = [t for t in op.tracks if t.num_frames > 40]
    assert len(long) == 2
    with pytest.raises(ConfigError, match="skeleton has 25"):
        load_openpose(folders, rec.calibration, skeleton="body_25b")
    with pytest.raises(ConfigError, match="camera not in the calibration"):
        load_openpose({"camX": folders["cam0"], **folders}, rec.calibration, skeleton="coco17")
