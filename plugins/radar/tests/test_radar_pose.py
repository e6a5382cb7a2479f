"""The learned radar → skeleton model: MARS (real radar + Kinect labels), checkpoints, and the
cross-modal path (a recorded session's camera skeletons label its radar points)."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from sensorfusion_radar import RadarPose
from sensorfusion_radar._cluster import cluster_people
from sensorfusion_radar._estimators import points_in_world
from sensorfusion_radar._mars import block_split, load_mars, time_split
from sensorfusion_radar._pose import (
    PosePairs,
    ensemble,
    evaluate,
    load_pose_model,
    mpjpe_m,
    pairs_from_session,
    point_features,
    predict_pairs,
    train_pose_model,
)
from sensorfusion_radar.train import main as train_main
from sensorfusion_sim import SimRigDriver, SimRigParams

from sensorfusion import ConfigError, DriverContext, FrameSet, StageContext
from sensorfusion.run import main as run_main
from sensorfusion.schema._skeletons import SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import EstimatorContract

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
    # consecutive radar frames are linked (causal history); the joins between movements are not
    assert 0.9 * len(mars) < np.sum(mars.prev >= 0) < len(mars)
    assert np.all((mars.prev < 0) | (mars.prev == np.arange(len(mars)) - 1))
    # a split cuts the chains: every link left is to the real previous frame, and no sample
    # reaches back into a frame of the other set (or a gap frame)
    tagged = PosePairs([np.full((1, 5), float(i)) for i in range(len(mars))], mars.joints, "kinect25", mars.prev)
    for part in block_split(tagged):
        orig = np.array([int(p[0, 0]) for p in part.points])
        j = np.flatnonzero(part.prev >= 0)
        assert j.size > 0.8 * len(part)
        assert np.array_equal(orig[part.prev[j]], orig[j] - 1)
        assert all(int(h[0, 0]) in set(orig.tolist()) for i in j for h in part.history(int(i), 4))


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


def _mean_pose_baselines(tr: PosePairs, te: PosePairs) -> float:
    """The better of two trivial baselines: the mean training pose placed at each frame's point
    centroid, and the mean training pose where it is on average."""
    mean_off = np.mean([j - np.median(p[:, :3], axis=0) for p, j in zip(tr.points, tr.joints, strict=True)], axis=0)
    at_centroid = mpjpe_m(np.stack([np.median(p[:, :3], axis=0) + mean_off for p in te.points]), te.joints)
    fixed = mpjpe_m(np.broadcast_to(tr.joints.mean(axis=0), te.joints.shape), te.joints)
    return min(at_centroid, fixed)


def test_multi_frame_model_uses_causal_history_and_round_trips(mars, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(1)
    tr, te = block_split(mars.subset(np.arange(0, 750)))
    aug = {"rotate_deg": 20.0, "scale": 0.05, "point_dropout": 0.1, "history_dropout": 0.3}
    res = train_pose_model(tr, te, epochs=8, width=16, num_points=64, lr=5e-3, batch_size=32, frames=3, **aug)
    assert res.model.frames == 3 and res.model.num_features == 6
    assert res.test_mpjpe_m is not None and res.test_mpjpe_m < _mean_pose_baselines(tr, te)
    # the history is used, and only the past: altering a later frame leaves earlier outputs alone
    k = np.flatnonzero(te.prev >= 0)[5]
    pred = predict_pairs(res.model, te)
    assert res.test_mpjpe_m == evaluate(res.model, te) == mpjpe_m(pred, te.joints)
    assert not np.allclose(pred[k], res.model.predict([te.points[k]])[0])
    changed = te.subset(np.arange(len(te)))
    changed.points[k] = changed.points[k] + np.array([0.3, 0.0, 0.0, 0.0, 0.0])
    again_pred = predict_pairs(res.model, changed)
    np.testing.assert_array_equal(again_pred[:k], pred[:k])
    assert not np.allclose(again_pred[k + 1], pred[k + 1])  # frame k is frame k+1's history
    # the history's features: age column, current frame first, centred on all the points' median
    hist = te.history(int(k), 3)
    stacked = np.concatenate([te.points[k], *hist])
    assert len(hist) == 2 and len(stacked) <= 200
    f, c = point_features(te.points[k], 200, hist, frames=3)
    assert f.shape == (200, 6) and f[0, 5] == 0 and set(np.unique(f[:, 5]).tolist()) == {0.0, 1.0, 2.0}
    np.testing.assert_allclose(c, np.median(stacked[:, :3], axis=0))
    np.testing.assert_allclose(np.unique(f[:, 1] + c[1]), np.unique(stacked[:, 1].astype(np.float32)), atol=1e-5)
    # checkpoint: format 2 records the frames; loading gives the same predictions
    path = tmp_path / "m3.pt"
    res.model.save(path)
    ck = torch.load(path, weights_only=True)
    assert ck["format"] == "sensorfusion-radar-pose-2" and ck["frames"] == 3
    np.testing.assert_array_equal(predict_pairs(load_pose_model(path), te), pred)
    # a checkpoint whose features do not fit its frames is refused with the field named
    ck["num_features"] = 5
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(ConfigError, match=r"stages\[2\]\.params\.weights"):
        load_pose_model(tmp_path / "bad.pt", field_path="stages[2].params.weights")


def test_format_1_checkpoints_still_load_and_ensembles_average(mars, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(1)
    tr, te = block_split(mars.subset(np.arange(0, 300)))
    models = [train_pose_model(tr, epochs=1, width=16, num_points=16, seed=s).model for s in (0, 1)]
    path = tmp_path / "v1.pt"
    models[0].save(path)
    ck = torch.load(path, weights_only=True)
    v1 = {k: v for k, v in ck.items() if k not in ("frames", "num_features", "extra_state_dicts")}
    torch.save({**v1, "format": "sensorfusion-radar-pose-1"}, path)  # what the first version wrote
    old = load_pose_model(path)
    assert old.frames == 1
    np.testing.assert_array_equal(old.predict(te.points[:8]), models[0].predict(te.points[:8]))
    ens = ensemble(models)
    want = (models[0].predict(te.points[:8]) + models[1].predict(te.points[:8])) / 2
    np.testing.assert_allclose(ens.predict(te.points[:8]), want, atol=1e-6)
    ens.save(tmp_path / "ens.pt")
    np.testing.assert_allclose(load_pose_model(tmp_path / "ens.pt").predict(te.points[:8]), want, atol=1e-6)
    torch.save({**v1, "format": "sensorfusion-radar-pose-99"}, path)
    with pytest.raises(ConfigError, match="format"):
        load_pose_model(path)


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
    # each labelled person's sample is linked to its sample of the previous radar frame
    j = np.flatnonzero(pairs.prev >= 0)
    assert j.size > len(pairs) // 2 and np.all(pairs.prev[j] < j)
    centre = np.nanmedian(pairs.joints, axis=1)  # labels from cameras may miss joints
    near = np.linalg.norm(centre[j] - centre[pairs.prev[j]], axis=1)
    assert np.nanmax(near) < 0.5  # the same person a frame earlier, not another one (people ~2 m apart)
    res = train_pose_model(pairs, epochs=2, width=16, num_points=32, frames=2)
    pred = predict_pairs(res.model, pairs.subset(np.arange(3)))
    assert pred.shape == (3, 17, 3) and np.all(np.isfinite(pred))
    # the session's fused skeletons come out with radar track ids
    from sensorfusion.store import Session

    with Session.open(out) as s:
        assert "fused:fused/skeleton3d" in s.estimates()
        assert "tracks:tracks/tracks" in s.estimates()
        n = sum(len(f["person_id"]) for f in s.read("fused:fused/skeleton3d"))
    assert n > 0


# -- the live estimator with a multi-frame model ---------------------------------------------


@functools.lru_cache(maxsize=1)
def _sim_multi() -> tuple[SimRigDriver, tuple[FrameSet, ...], str]:
    """Six frames of two simulated people seen by the radar, and a tiny 3-frame model trained
    at test time on the simulator's (points, skeleton) pairs with their history links."""
    import torch

    torch.set_num_threads(1)
    drv = SimRigDriver(
        SimRigParams(cameras=1, render=False, radars=1, people=2, fps=15.0, radar_adc=False),
        DriverContext("sim", seed=3, realtime=False),
    )
    sets = []
    for i in range(6):
        fr = drv.frames_at(i)
        sets.append(FrameSet(i, fr[0].t_sensor_ns, fr[0].t_host_ns, {f.stream: f for f in fr}))
    world = drv.calibration().sensors["radar0"].world_from_sensor
    pts, joints, prev, last = [], [], [], {}
    for fs in sets:
        p, g = fs.frames["radar0/points"], fs.frames["gt/skeleton3d"]
        w = points_in_world(p.data, world)
        for person, j in zip(g["person_id"], g["joints"], strict=True):
            m = p["person_id"] == person
            prev.append(last.get(int(person), -1))
            last[int(person)] = len(pts)
            pts.append(w[m])
            joints.append(j)
    pairs = PosePairs(pts, np.asarray(joints, dtype=np.float64), "coco17", np.asarray(prev))
    res = train_pose_model(pairs, epochs=2, width=16, num_points=48, frames=3)
    path = Path(tempfile.mkdtemp(prefix="radar_pose3_")) / "tiny3.pt"
    res.model.save(path)
    return drv, tuple(sets), str(path)


def _pose_context(drv: SimRigDriver) -> StageContext:
    spec = next(s for s in drv.streams() if s.name == "radar0/points")
    return StageContext(
        stage_id="pose",
        inputs=[spec],
        calibration=drv.calibration(),
        skeletons=SkeletonRegistry(builtin_skeletons()),
    )


class TestRadarPoseMultiFrameContract(EstimatorContract):
    estimator_class = RadarPose
    plugin_name = "radar"
    params = {"weights": "set-in-make_estimator"}

    def make_estimator(self) -> RadarPose:
        params = RadarPose.Params.model_validate({**self.params, "weights": _sim_multi()[2]})
        return RadarPose(params, self.make_context())

    def input_specs(self):  # type: ignore[no-untyped-def]
        return _pose_context(_sim_multi()[0]).inputs

    def calibration(self):  # type: ignore[no-untyped-def]
        return _sim_multi()[0].calibration()

    def framesets(self) -> list[FrameSet]:
        return list(_sim_multi()[1][:4])


def test_live_estimator_feeds_each_person_its_own_causal_history() -> None:
    """The estimator's output equals the model run on each DBSCAN cluster with the clusters of
    the same person in the previous two frames (found here independently: nearest centre,
    people 3.5 m apart), and differs from the single-frame prediction."""
    drv, sets, weights = _sim_multi()
    est = RadarPose(RadarPose.Params(weights=weights), _pose_context(drv))
    model = load_pose_model(weights)
    assert model.frames == 3
    world = drv.calibration().sensors["radar0"].world_from_sensor
    past: list[tuple[np.ndarray, list[np.ndarray]]] = []  # per frame: cluster centres, clouds
    for t, fs in enumerate(sets):
        out = est.process(FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, dict(fs.frames)))["pose/skeleton3d"]
        pts = points_in_world(fs.frames["radar0/points"].data, world)
        c = cluster_people(pts[:, :3], pts[:, 3], pts[:, 4], eps_m=0.4, min_points=4)
        clouds = [pts[c.labels == k] for k in range(c.center_m.shape[0])]
        assert len(clouds) >= 2
        hist: list[list[np.ndarray]] = []
        for k in range(len(clouds)):
            h: list[np.ndarray] = []
            centre = c.center_m[k]
            for centres, old in reversed(past[-2:]):
                d = np.hypot(*(centres[:, :2] - centre[:2]).T)
                if d.min() > 0.5:
                    break
                h.append(old[int(np.argmin(d))])
                centre = centres[int(np.argmin(d))]
            hist.append(h)
        assert all(len(h) == min(t, 2) for h in hist)
        np.testing.assert_allclose(out["joints"], model.predict(clouds, hist), atol=1e-5)
        if t >= 1:
            assert not np.allclose(out["joints"], model.predict(clouds), atol=1e-4)
        past.append((c.center_m.copy(), clouds))
    assert est.summary()["with_history"] > 0


def test_live_estimator_links_history_by_track_id_beyond_the_gate() -> None:
    """A person whose cluster jumps farther than ``history_gate_m`` keeps its history when a
    radar.track id links the two frames, and loses it without the id."""
    from sensorfusion_radar import RadarTrack

    from sensorfusion.schema import RigCalibration

    drv, sets, weights = _sim_multi()
    ctx = _pose_context(drv)
    track_spec = RadarTrack(RadarTrack.Params(), StageContext("tracks", [], RigCalibration(), ctx.skeletons)).outputs()[
        0
    ]
    ctx_tracks = StageContext(
        stage_id="pose", inputs=[*ctx.inputs, track_spec], calibration=ctx.calibration, skeletons=ctx.skeletons
    )
    world = drv.calibration().sensors["radar0"].world_from_sensor
    p0 = sets[0].frames["radar0/points"]
    shift = world.inverse().apply(np.array([[0.8, 0.0, 0.0]])) - world.inverse().apply(np.zeros((1, 3)))
    moved = dict(p0.data)
    for a, name in enumerate("xyz"):
        moved[name] = (np.asarray(p0[name]) + shift[0, a]).astype(np.float32)

    def frameset(i: int, data: dict[str, np.ndarray], with_tracks: bool) -> FrameSet:
        fs = FrameSet(i, i * 10**8, i * 10**8, {})
        fs.add("radar0/points", data)
        if with_tracks:
            pts = points_in_world(data, world)
            c = cluster_people(pts[:, :3], pts[:, 3], pts[:, 4], eps_m=0.4, min_points=4)
            ids = np.argsort(c.center_m[:, 0]).argsort()  # the same person gets the same id in both frames
            fs.add(
                "tracks/tracks",
                {
                    "position_m": c.center_m.astype(np.float32),
                    "velocity_m_per_s": np.zeros_like(c.center_m, dtype=np.float32),
                    "track_id": ids.astype(np.int64),
                    "hits": np.full(len(ids), 5, dtype=np.int64),
                },
            )
        return fs

    for with_tracks in (False, True):
        est = RadarPose(RadarPose.Params(weights=weights), ctx_tracks if with_tracks else ctx)
        est.process(frameset(0, dict(p0.data), with_tracks))
        first = est.summary()["people"]
        out = est.process(frameset(1, moved, with_tracks))["pose/skeleton3d"]
        n = len(out["person_id"])
        assert n >= 2 and est.summary()["people"] == first + n
        assert est.summary()["with_history"] == (n if with_tracks else 0)
        if with_tracks:
            assert sorted(out["person_id"].tolist()) == list(range(n))
