"""The learned radar → skeleton model: MARS (real radar + Kinect labels), checkpoints, and the
cross-modal path (a recorded session's camera skeletons label its radar points)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from sensorfusion_radar._mars import block_split, load_mars, time_split
from sensorfusion_radar._pose import load_pose_model, mpjpe_m, pairs_from_session, train_pose_model
from sensorfusion_radar.train import main as train_main

from sensorfusion import ConfigError
from sensorfusion.run import main as run_main

ROOT = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", ROOT / ".." / "shared" / "data"))
MARS = DATA / "radar" / "mars-subject1"


@pytest.fixture(scope="module")
def mars():  # type: ignore[no-untyped-def]
    if not (MARS / "radar_data_test.csv").is_file():
        pytest.skip(f"MARS data not found at {MARS} (set SENSORFUSION_TEST_DATA)")
    return load_mars(MARS)


def test_mars_loads_frame_by_frame(mars) -> None:  # type: ignore[no-untyped-def]
    assert len(mars) == mars.joints.shape[0] == 2350
    assert mars.joints.shape[1:] == (25, 3) and mars.skeleton == "kinect25"
    assert sum(p.shape[0] for p in mars.points) == 67824
    # the skeleton stands in the radar's field of view where the points are (Y = range)
    centre_pts = np.median(np.concatenate(mars.points)[:, :3], axis=0)
    centre_skel = np.median(mars.joints.reshape(-1, 3), axis=0)
    assert np.linalg.norm(centre_pts[:2] - centre_skel[:2]) < 0.5
    tr, te = block_split(mars)
    assert len(tr) + len(te) < len(mars) and len(te) > 0.15 * len(mars)
    a, b = time_split(mars)
    assert len(a) > len(b) > 0


def test_mars_training_few_epochs_learns_and_checkpoint_round_trips(mars, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(1)
    tr, te = block_split(mars.subset(np.arange(0, 500)))
    res = train_pose_model(tr, te, epochs=4, width=16, num_points=32, lr=5e-3, batch_size=32)
    assert res.train_mpjpe_m[-1] < res.train_mpjpe_m[0]
    # better than the mean training pose placed at each frame's point centroid
    mean_off = np.mean([j - np.median(p[:, :3], axis=0) for p, j in zip(tr.points, tr.joints, strict=True)], axis=0)
    baseline = mpjpe_m(np.stack([np.median(p[:, :3], axis=0) + mean_off for p in te.points]), te.joints)
    assert res.test_mpjpe_m is not None and res.test_mpjpe_m < baseline
    path = tmp_path / "m.pt"
    res.model.save(path)
    again = load_pose_model(path)
    np.testing.assert_array_equal(again.predict(te.points[:5]), res.model.predict(te.points[:5]))
    assert again.skeleton == "kinect25"
    # empty or NaN clouds give NaN skeletons, not exceptions
    out = again.predict([np.zeros((0, 5)), np.full((3, 5), np.nan)])
    assert out.shape == (2, 25, 3) and np.all(np.isnan(out))


def test_bad_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="weights"):
        load_pose_model(bad)


def test_train_cli_bad_input_exit_2(tmp_path: Path) -> None:
    assert train_main(["--mars", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2


def test_cross_modal_labels_from_a_recorded_session(tmp_path: Path) -> None:
    """Run the radar example rig (smaller), then label its radar points with the cameras'
    triangulated skeletons and train on them."""
    import torch

    torch.set_num_threads(1)
    rig = yaml.safe_load((ROOT / "examples" / "radar_rig.yaml").read_text())
    rig["sensors"][0]["params"].update({"cameras": 3, "width": 320, "height": 240, "radar_points": True})
    path = tmp_path / "rig.yaml"
    path.write_text(yaml.safe_dump(rig))
    out = tmp_path / "s.zarr"
    assert run_main([str(path), "--fast", "--duration", "1", "--out", str(out), "--quiet"]) == 0
    pairs = pairs_from_session(out, points_stream="radar0/points", skeleton_stream="fusion:fusion/skeleton3d")
    assert len(pairs) >= 10 and pairs.skeleton == "coco17"
    assert pairs.joints.shape[1:] == (17, 3)
    # the labels are the cameras' (triangulated), not the simulator's ground truth, yet close to it
    res = train_pose_model(pairs, epochs=2, width=16, num_points=16)
    pred = res.model.predict(pairs.points[:3])
    assert pred.shape == (3, 17, 3) and np.all(np.isfinite(pred))
    # the session's fused skeletons come out with radar track ids
    from sensorfusion.store import Session

    with Session.open(out) as s:
        assert "fused:fused/skeleton3d" in s.estimates()
        assert "tracks:tracks/tracks" in s.estimates()
        n = sum(len(f["person_id"]) for f in s.read("fused:fused/skeleton3d"))
    assert n > 0
