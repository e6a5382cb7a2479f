"""The radar estimators on the simulated rig: contracts, localization and tracking against the
simulator's ground truth, and radar–camera fusion through a camera dropout."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_radar import RadarCluster, RadarFuse, RadarPose, RadarProcess, RadarTrack
from sensorfusion_radar._pose import PosePairs, train_pose_model
from sensorfusion_sim import SimRigDriver, SimRigParams

from sensorfusion import ConfigError, DriverContext, Estimator, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import RigCalibration
from sensorfusion.schema._skeletons import SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import EstimatorContract

FPS = 15.0


@functools.lru_cache(maxsize=4)
def _sim(
    people: int = 2, frames: int = 4, adc: bool = True, seed: int = 3
) -> tuple[SimRigDriver, tuple[FrameSet, ...]]:
    drv = SimRigDriver(
        SimRigParams(cameras=1, render=False, radars=1, people=people, fps=FPS, radar_adc=adc),
        DriverContext("sim", seed=seed, realtime=False),
    )
    sets = []
    for i in range(frames):
        fr = drv.frames_at(i)
        sets.append(FrameSet(i, fr[0].t_sensor_ns, fr[0].t_host_ns, {f.stream: f for f in fr}))
    return drv, tuple(sets)


def _context(stage_id: str, inputs: list[StreamSpec], cal: RigCalibration) -> StageContext:
    return StageContext(
        stage_id=stage_id, inputs=inputs, calibration=cal, skeletons=SkeletonRegistry(builtin_skeletons())
    )


def _specs(drv: SimRigDriver, *names: str) -> list[StreamSpec]:
    by = {s.name: s for s in drv.streams()}
    return [by[n] for n in names]


def _run(est: Estimator, sets: tuple[FrameSet, ...]) -> list[FrameSet]:
    out = []
    for fs in sets:
        fs2 = FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, dict(fs.frames))
        for name, data in est.process(fs2).items():
            fs2.add(name, data)
        out.append(fs2)
    return out


def _pipeline(sets: tuple[FrameSet, ...], drv: SimRigDriver, points: str = "radar0/points") -> list[FrameSet]:
    cal = drv.calibration()
    if points == "radar0/cloud":
        params = RadarProcess.Params(peak_grouping=False, threshold_db=10.0)
        proc = RadarProcess(params, _context("proc", _specs(drv, "radar0/adc"), cal))
        sets = tuple(_run(proc, sets))
        cloud_spec = proc.outputs()
    else:
        cloud_spec = _specs(drv, points)
    cl = RadarCluster(RadarCluster.Params(), _context("people", cloud_spec, cal))
    sets = tuple(_run(cl, sets))
    tr = RadarTrack(RadarTrack.Params(), _context("tracks", cl.outputs(), cal))
    return _run(tr, sets)


class TestRadarProcessContract(EstimatorContract):
    estimator_class = RadarProcess
    plugin_name = "radar"

    def input_specs(self) -> list[StreamSpec]:
        return _specs(_sim()[0], "radar0/adc")

    def calibration(self) -> RigCalibration:
        return _sim()[0].calibration()

    def framesets(self) -> list[FrameSet]:
        return list(_sim()[1][:2])


class TestRadarClusterContract(EstimatorContract):
    estimator_class = RadarCluster
    plugin_name = "radar"

    def input_specs(self) -> list[StreamSpec]:
        return _specs(_sim()[0], "radar0/points")

    def calibration(self) -> RigCalibration:
        return _sim()[0].calibration()

    def framesets(self) -> list[FrameSet]:
        return list(_sim()[1][:2])


def _people_sets() -> tuple[list[StreamSpec], list[FrameSet]]:
    drv, sets = _sim()
    cl = RadarCluster(RadarCluster.Params(), _context("people", _specs(drv, "radar0/points"), drv.calibration()))
    return cl.outputs(), _run(cl, sets)


class TestRadarTrackContract(EstimatorContract):
    estimator_class = RadarTrack
    plugin_name = "radar"
    params = {"confirm_hits": 1}

    def input_specs(self) -> list[StreamSpec]:
        return _people_sets()[0]

    def framesets(self) -> list[FrameSet]:
        return _people_sets()[1]


@functools.lru_cache(maxsize=1)
def _tiny_weights() -> str:
    """A tiny model trained for one epoch on simulated (points, skeleton) pairs."""
    drv, sets = _sim()
    pts, joints = [], []
    for fs in sets:
        p = fs.frames["radar0/points"]
        w = drv.calibration().sensors["radar0"].world_from_sensor.apply(np.column_stack([p["x"], p["y"], p["z"]]))
        for person, j in zip(
            fs.frames["gt/skeleton3d"]["person_id"], fs.frames["gt/skeleton3d"]["joints"], strict=True
        ):
            m = p["person_id"] == person
            if m.sum() >= 3:
                pts.append(np.column_stack([w[m], p["velocity"][m], p["snr"][m]]))
                joints.append(j)
    res = train_pose_model(
        PosePairs(pts, np.asarray(joints, dtype=np.float64), "coco17"), epochs=1, width=16, num_points=16
    )
    path = Path(tempfile.mkdtemp(prefix="radar_pose_")) / "tiny.pt"
    res.model.save(path)
    return str(path)


class TestRadarPoseContract(EstimatorContract):
    estimator_class = RadarPose
    plugin_name = "radar"
    params = {"weights": "set-in-make_estimator"}

    def make_estimator(self) -> Estimator:
        params = RadarPose.Params.model_validate({**self.params, "weights": _tiny_weights()})
        return RadarPose(params, self.make_context())

    def input_specs(self) -> list[StreamSpec]:
        return _specs(_sim()[0], "radar0/points")

    def calibration(self) -> RigCalibration:
        return _sim()[0].calibration()

    def framesets(self) -> list[FrameSet]:
        return list(_sim()[1][:2])


def _fuse_inputs() -> tuple[list[StreamSpec], list[FrameSet]]:
    drv, sets = _sim()
    tracked = _pipeline(sets, drv)
    gt_spec = _specs(drv, "gt/skeleton3d")[0]
    cam_spec = gt_spec.model_copy(update={"name": "fusion/skeleton3d"})
    out = []
    for fs in tracked:
        frames = {k: v for k, v in fs.frames.items() if k == "tracks/tracks"}
        gt = fs.frames["gt/skeleton3d"]
        frames["fusion/skeleton3d"] = type(gt)("fusion/skeleton3d", gt.t_sensor_ns, gt.t_host_ns, gt.seq, gt.data)
        out.append(FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, frames))
    tr_spec = RadarTrack(RadarTrack.Params(), _context("tracks", [], RigCalibration())).outputs()
    return [*tr_spec, cam_spec], out


class TestRadarFuseContract(EstimatorContract):
    estimator_class = RadarFuse
    plugin_name = "radar"

    def input_specs(self) -> list[StreamSpec]:
        return _fuse_inputs()[0]

    def framesets(self) -> list[FrameSet]:
        return _fuse_inputs()[1]


def test_missing_radar_model_is_a_config_error() -> None:
    drv, _ = _sim()
    with pytest.raises(ConfigError, match=r"calibration\.sensors\.radar0\.radar"):
        RadarProcess(RadarProcess.Params(), _context("proc", _specs(drv, "radar0/adc"), RigCalibration()))


def test_pose_weights_missing_is_a_config_error() -> None:
    drv, _ = _sim()
    ctx = _context("pose", _specs(drv, "radar0/points"), drv.calibration())
    ctx.config_path = "stages[3]"
    with pytest.raises(ConfigError, match=r"stages\[3\]\.params\.weights"):
        RadarPose(RadarPose.Params(weights="/nonexistent/pose.pt"), ctx)


def _localization(sets: list[FrameSet], skip: int, moving_only: bool = False) -> tuple[float, float]:
    """Median floor-plane distance of each ground-truth person to its nearest track, and the
    fraction of (frame, person) pairs with a track within 0.5 m (``moving_only``: people
    moving faster than 0.2 m/s, as static clutter removal hides people standing still)."""
    errs = []
    for i, fs in enumerate(sets[skip:], start=skip):
        gt = fs.frames["gt/skeleton3d"]["joints"].mean(axis=1)
        prev = sets[i - 1].frames["gt/skeleton3d"]["joints"].mean(axis=1)
        speed = np.hypot(*(gt - prev)[:, :2].T) * FPS
        tf = fs.frames.get("tracks/tracks")
        tp = np.zeros((0, 3)) if tf is None else tf["position_m"]
        for g, v in zip(gt, speed, strict=True):
            if moving_only and v < 0.2:
                continue
            errs.append(np.min(np.hypot(tp[:, 0] - g[0], tp[:, 1] - g[1])) if len(tp) else np.inf)
    e = np.asarray(errs)
    return float(np.median(e)), float(np.mean(e < 0.5))


def test_tracks_follow_the_simulated_people_from_adc_cubes() -> None:
    drv, sets = _sim(people=2, frames=30, adc=True, seed=5)
    tracked = _pipeline(sets, drv, points="radar0/cloud")
    med, frac = _localization(tracked, skip=5, moving_only=True)
    assert med < 0.35, med
    assert frac > 0.6, frac


def test_track_ids_persist_and_follow_people() -> None:
    drv, sets = _sim(people=2, frames=45, adc=False, seed=5)
    tracked = _pipeline(sets, drv)
    med, frac = _localization(tracked, skip=5)
    assert med < 0.25 and frac > 0.85, (med, frac)
    # each person is followed by one id most of the time
    for person in range(2):
        ids = []
        for fs in tracked[5:]:
            g = fs.frames["gt/skeleton3d"]["joints"][person].mean(axis=0)
            tf = fs.frames["tracks/tracks"]
            if len(tf["track_id"]):
                d = np.hypot(tf["position_m"][:, 0] - g[0], tf["position_m"][:, 1] - g[1])
                if d.min() < 0.5:
                    ids.append(int(tf["track_id"][int(np.argmin(d))]))
        values, counts = np.unique(ids, return_counts=True)
        assert counts.max() / max(len(ids), 1) > 0.9, (person, values, counts)


def test_people_stay_tracked_through_a_camera_dropout() -> None:
    drv, sets = _sim(people=2, frames=45, adc=False, seed=5)
    tracked = _pipeline(sets, drv)
    specs, _ = _fuse_inputs()
    fuse = RadarFuse(RadarFuse.Params(), _context("fused", specs, RigCalibration()))
    dropout = range(20, 40)
    ids_before: dict[int, int] = {}
    during_err = []
    for fs in tracked:
        frames = {"tracks/tracks": fs.frames["tracks/tracks"]}
        gt = fs.frames["gt/skeleton3d"]
        if fs.index not in dropout:  # the cameras see the people (ground truth stands in for them)
            frames["fusion/skeleton3d"] = type(gt)("fusion/skeleton3d", gt.t_sensor_ns, gt.t_host_ns, gt.seq, gt.data)
        out = fuse.process(FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, frames))["fused/skeleton3d"]
        for person, joints in zip(gt["person_id"], gt["joints"], strict=True):
            centre = joints.mean(axis=0)
            d = np.hypot(
                out["joints"][:, :, 0].mean(axis=1) - centre[0], out["joints"][:, :, 1].mean(axis=1) - centre[1]
            )
            if not len(d) or d.min() > 0.6:
                continue
            k = int(np.argmin(d))
            if fs.index == 19:
                ids_before[int(person)] = int(out["person_id"][k])
            if fs.index in dropout:
                assert out["source"][k] == 1  # radar only
                during_err.append(d.min())
                assert out["person_id"][k] == ids_before[int(person)], "the id must persist through the dropout"
    assert len(ids_before) == 2
    assert len(during_err) >= 30  # both people through (most of) the dropout
    assert np.median(during_err) < 0.3


def test_radar_model_from_a_ti_cfg_file() -> None:
    """radar.process with the real xWR18xx .cfg of the DCA1000 capture (parsed by the ti-mmwave
    driver): a scatterer simulated with that model is found where it is."""
    pytest.importorskip("sensorfusion_ti_mmwave._cfg", reason="needs the ti-mmwave driver")
    import os

    from sensorfusion_sim._radar import RadarScatterers, fmcw_adc_cube

    data = Path(
        os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3] / ".." / "shared" / "data")
    )
    cfg = data / "radar" / "dca1000" / "xwr18xx_profile_2023_01_01T00_00_00_000.cfg"
    if not cfg.is_file():
        pytest.skip(f"{cfg} not found")
    from sensorfusion_ti_mmwave._cfg import parse_cfg

    model, _ = parse_cfg(cfg.read_text())
    spec = StreamSpec.model_validate(
        {
            "name": "dca/adc",
            "kind": "radar_adc_cube",
            "fields": {
                "adc": {
                    "dtype": "complex64",
                    "shape": [
                        model.chirps_per_frame,
                        len(model.tx_positions),
                        len(model.rx_positions),
                        model.adc_samples,
                    ],
                }
            },
        }
    )
    est = RadarProcess(RadarProcess.Params(cfg=str(cfg)), _context("proc", [spec], RigCalibration()))
    d = np.array([[np.sin(0.3), np.cos(0.3), 0.0]])
    cube = fmcw_adc_cube(
        model, RadarScatterers(d * 4.0, d * 0.5, np.ones(1), np.zeros(1, dtype=np.int64)), noise_std=1e-3
    )
    fs = FrameSet(0, 0, 0, {"dca/adc": type(_sim()[1][0].frames["radar0/adc"])("dca/adc", 0, 0, 0, {"adc": cube})})
    pts = est.process(fs)["dca/cloud"]
    i = int(np.argmax(pts["snr"]))
    r = float(np.sqrt(pts["x"][i] ** 2 + pts["y"][i] ** 2 + pts["z"][i] ** 2))
    assert abs(r - 4.0) <= model.range_resolution_m
    assert abs(pts["velocity"][i] - 0.5) <= model.velocity_resolution_m_per_s
    assert abs(np.arctan2(pts["x"][i], pts["y"][i]) - 0.3) < 2.0 / 8


def test_public_api_names_resolve() -> None:
    import sensorfusion_radar

    for name in sensorfusion_radar.__all__:
        assert hasattr(sensorfusion_radar, name), name
