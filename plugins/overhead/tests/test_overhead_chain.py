"""The overhead chain on simulated ceiling cameras: detector error model, localisation, floor tracks, sinks."""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sensorfusion_overhead import (
    DetectionAP,
    FloorTracker,
    FloorTrackerSettings,
    FloorTracks,
    LocaliseMethod,
    LocaliseParams,
    Measurements,
    OccupancyHeatmap,
    OverheadLocalise,
    OverheadMetrics,
    SimOverheadDetector,
    SimOverheadParams,
    TrackScores,
    Zone,
    simulate_detections,
    zone_of,
)

from sensorfusion import ConfigError, DriverContext, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.run import main as run_main
from sensorfusion.schema import RigCalibration, SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import EstimatorContract, SinkContract

sim = pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")

REG = SkeletonRegistry(builtin_skeletons())
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "overhead_rig.yaml"
ZONES = [
    {"name": "west", "polygon_m": [[-4, -3], [0, -3], [0, 3], [-4, 3]]},
    {"name": "east", "polygon_m": [[0, -3], [4, -3], [4, 3], [0, 3]]},
]


@cache
def _driver() -> tuple[object, dict[str, StreamSpec], RigCalibration]:
    p = sim.SimRigParams(cameras=0, ceiling_cameras=2, people=5, room_m=(8.0, 6.0), fps=10.0, render=False,
                         ceiling={"fov_deg": 190, "width": 384, "height": 384})  # fmt: skip
    d = sim.SimRigDriver(p, DriverContext(sensor_id="sim", seed=3, realtime=False))
    return d, {s.name: s for s in d.streams()}, d.calibration()


@cache
def _chain(frames: int = 40) -> tuple[list[FrameSet], dict[str, StreamSpec]]:
    """Framesets with the sim's ground truth, the sim detector's boxes, floor positions and tracks."""
    d, specs, cal = _driver()
    det = SimOverheadDetector(
        SimOverheadParams(), StageContext("det", [specs["ceil0/gt_rboxes"], specs["ceil1/gt_rboxes"]], cal, REG, seed=3)
    )
    loc = OverheadLocalise(LocaliseParams(), StageContext("loc", det.outputs(), cal, REG))
    trk = FloorTracks(
        FloorTracks.Params.model_validate({"zones": ZONES}), StageContext("floor", loc.outputs(), cal, REG)
    )
    out_specs = {s.name: s for s in [*specs.values(), *det.outputs(), *loc.outputs(), *trk.outputs()]}
    sets = []
    for i in range(frames):
        fr = {f.stream: f for f in d.frames_at(i)}  # type: ignore[attr-defined]
        fs = FrameSet(i, fr["gt/floor"].t_sensor_ns, 0, dict(fr))
        for stage in (det, loc, trk):
            for k, v in stage.process(fs).items():
                fs.add(k, v)
        sets.append(fs)
    return sets, out_specs


def _only(fs: FrameSet, names: list[str]) -> FrameSet:
    return FrameSet(fs.index, fs.t_ref_ns, fs.t_host_ns, {k: v for k, v in fs.frames.items() if k in names})


# --- contracts -------------------------------------------------------------------------------


class TestSimDetectorContract(EstimatorContract):
    estimator_class = SimOverheadDetector
    params = {"false_positives_per_frame": 0.5}
    plugin_name = "overhead"

    def input_specs(self) -> list[StreamSpec]:
        return [_chain()[1][f"ceil{i}/gt_rboxes"] for i in range(2)]

    def calibration(self) -> RigCalibration:
        return _driver()[2]

    def framesets(self) -> list[FrameSet]:
        return [_only(fs, ["ceil0/gt_rboxes", "ceil1/gt_rboxes"]) for fs in _chain()[0][:6]]


class TestLocaliseContract(EstimatorContract):
    estimator_class = OverheadLocalise
    params: dict[str, object] = {}
    plugin_name = "overhead"

    def input_specs(self) -> list[StreamSpec]:
        return [_chain()[1][f"ceil{i}/rboxes"] for i in range(2)]

    def calibration(self) -> RigCalibration:
        return _driver()[2]

    def framesets(self) -> list[FrameSet]:
        return [_only(fs, ["ceil0/rboxes", "ceil1/rboxes"]) for fs in _chain()[0][:6]]


class TestFloorTracksContract(EstimatorContract):
    estimator_class = FloorTracks
    params = {"zones": ZONES}
    plugin_name = "overhead"

    def input_specs(self) -> list[StreamSpec]:
        return [_chain()[1][f"ceil{i}/floor"] for i in range(2)]

    def framesets(self) -> list[FrameSet]:
        return [_only(fs, ["ceil0/floor", "ceil1/floor"]) for fs in _chain()[0][:10]]


class TestMetricsContract(SinkContract):
    sink_class = OverheadMetrics
    params = {"tracks": "floor/tracks"}

    def input_specs(self) -> list[StreamSpec]:
        s = _chain()[1]
        return [
            s[n]
            for n in ("floor/tracks", "floor/zone_counts", "gt/floor", "ceil0/floor", "ceil0/rboxes", "ceil0/gt_rboxes")
        ]

    def framesets(self) -> list[FrameSet]:
        return _chain()[0][:10]


class TestHeatmapContract(SinkContract):
    sink_class = OccupancyHeatmap
    params = {"tracks": "floor/tracks", "extent_m": (-4.0, 4.0, -3.0, 3.0)}

    def input_specs(self) -> list[StreamSpec]:
        s = _chain()[1]
        return [s["floor/tracks"], s["floor/zone_counts"]]

    def calibration(self) -> RigCalibration:
        return _driver()[2]

    def framesets(self) -> list[FrameSet]:
        return _chain()[0][:10]


# --- the simulated detector --------------------------------------------------------------------


def test_sim_detector_error_model() -> None:
    sets, _ = _chain()
    g = sets[5]["ceil0/gt_rboxes"].data if False else sets[5].frames["ceil0/gt_rboxes"].data
    oracle = simulate_detections(g, SimOverheadParams(oracle=True), np.random.default_rng(0))
    vis = g["visible_fraction"] > 0
    np.testing.assert_array_equal(oracle["rbox"], g["rbox"][vis])
    assert np.all(oracle["score"] == 1.0)
    # hidden people are never reported, and the error model moves the boxes a little
    hidden = dict(g)
    hidden["visible_fraction"] = np.where(np.arange(len(vis)) == 0, 0.1, g["visible_fraction"]).astype(np.float32)
    noisy = simulate_detections(
        hidden,
        SimOverheadParams(miss_prob=0.0, occluded_miss_prob=0.0, false_positives_per_frame=0.0),
        np.random.default_rng(1),
    )
    assert len(noisy["rbox"]) == len(g["rbox"]) - 1
    d = np.hypot(*(noisy["rbox"][:, :2] - g["rbox"][1:, :2]).T)
    assert 0 < d.max() < 0.2 * g["rbox"][1:, 3].max()
    # false positives at the configured rate
    counts: dict[str, int] = {}
    for seed in range(200):
        simulate_detections({k: v[:0] for k, v in g.items()}, SimOverheadParams(false_positives_per_frame=0.5),
                            np.random.default_rng(seed), image_size=(384, 384), nadir_px=(191.5, 191.5), counts=counts)  # fmt: skip
    assert 70 < counts["false_positives"] < 130


def test_sim_detector_is_a_pure_function_of_seed_and_time() -> None:
    d, specs, cal = _driver()
    fr = {f.stream: f for f in d.frames_at(12)}  # type: ignore[attr-defined]
    fs = FrameSet(0, fr["gt/floor"].t_sensor_ns, 0, dict(fr))

    def run(seed: int) -> bytes:
        det = SimOverheadDetector(
            SimOverheadParams(), StageContext("det", [specs["ceil0/gt_rboxes"]], cal, REG, seed=seed)
        )
        return det.process(fs)["ceil0/rboxes"]["rbox"].tobytes()

    assert run(1) == run(1) and run(1) != run(2)


def test_sim_detector_needs_ground_truth() -> None:
    fields = {"image": {"dtype": "uint8", "shape": (4, 4, 3)}}
    spec = StreamSpec(name="ceil0/image", kind=FrameKind.IMAGE, fields=fields)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="gt_rboxes"):
        SimOverheadDetector(SimOverheadParams(), StageContext("det", [spec], RigCalibration(), REG))


# --- localisation stage ------------------------------------------------------------------------


def test_localise_stage_counts_detections_outside_the_image_circle() -> None:
    cal = _driver()[2]
    det_spec = _chain()[1]["ceil0/rboxes"]
    loc = OverheadLocalise(LocaliseParams(), StageContext("loc", [det_spec], cal, REG))
    boxes = {
        "rbox": np.array([[300.0, 191.5, 14.0, 40.0, 90.0], [5.0, 5.0, 14.0, 40.0, 135.0]], np.float32),
        "score": np.array([0.9, 0.9], np.float32),
        "feet_px": np.full((2, 2), np.nan, np.float32),
        "person_id": np.array([-1, -1]),
    }
    out = loc.process(FrameSet(0, 0, 0, {"ceil0/rboxes": Frame("ceil0/rboxes", 0, 0, 0, boxes)}))["ceil0/floor"]
    assert len(out["position_m"]) == 1
    s = loc.summary()
    assert s["outside_image_circle"] == 1 and s["localised"] == 1 and s["detections"] == 2
    # the box's inner end is 88 px right of the centre of a 190-degree 384 px lens (113.5 px/rad): 44 degrees
    # from the nadir of a 3 m-high camera at x = -2, so the feet are ~3 m to its right
    assert 0.7 < out["position_m"][0, 0] < 1.4 and abs(out["position_m"][0, 1]) < 0.3


def test_localisation_is_accurate_on_the_simulated_session() -> None:
    sets, _ = _chain()
    errs, methods = [], []
    for fs in sets:
        gt = fs.frames["gt/floor"]
        for cam in ("ceil0", "ceil1"):
            f = fs.frames[f"{cam}/floor"]
            for p, m in zip(f["position_m"][:, :2], f["method"], strict=True):
                errs.append(float(np.min(np.hypot(*(gt["position_m"] - p).T))))
                methods.append(int(m))
    errs_a = np.asarray(errs)
    assert np.median(errs_a) < 0.2 and np.percentile(errs_a, 90) < 0.5
    assert LocaliseMethod.ANKLES in methods and LocaliseMethod.FUSED in methods


# --- tracking ---------------------------------------------------------------------------------


def test_two_people_crossing_keep_their_ids() -> None:
    tr = FloorTracker(FloorTrackerSettings(birth_hits=2))
    cov = np.eye(2) * 0.05**2
    rng = np.random.default_rng(0)
    ids_a, ids_b = set(), set()
    for k in range(60):
        t = k * 0.1
        a = np.array([-3.0 + 1.0 * t, -0.4 + 0.05 * t])  # walking right
        b = np.array([3.0 - 1.0 * t, 0.4 - 0.05 * t])  # walking left: they pass 0.5 m apart at t = 3 s
        z = np.stack([a, b]) + rng.normal(0, 0.04, (2, 2))
        tracks = tr.step(t, [Measurements("cam0", z, np.stack([cov, cov]))])
        if k >= 2:
            assert len(tracks) == 2
            pos = np.array([t_.position for t_ in tracks])
            ia = int(np.argmin(np.hypot(*(pos - a).T)))
            ids_a.add(tracks[ia].track_id)
            ids_b.add(tracks[1 - ia].track_id)
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_tracker_fuses_sources_and_survives_gaps() -> None:
    tr = FloorTracker(FloorTrackerSettings(birth_hits=2, max_missing_s=0.5))
    truth = np.array([1.0, 2.0])
    cam_cov = np.diag([0.2**2, 0.02**2])[None]  # precise across, poor along x
    other = np.diag([0.02**2, 0.2**2])[None]  # the second camera: the other way round
    for k in range(5):
        tracks = tr.step(
            0.1 * k,
            [
                Measurements("cam0", truth[None] + [0.3, 0.0], cam_cov),
                Measurements("cam1", truth[None] + [0.0, 0.3], other),
            ],
        )
    assert len(tracks) == 1 and len(tr.tracks) == 1  # one person: the two cameras' measurements were not two tracks
    assert np.hypot(*(tracks[0].position - truth)) < 0.1  # each camera's precise axis wins
    assert tracks[0].sources == {"cam0", "cam1"}
    # no measurements for 0.4 s: predicted, still reported; after 0.5 s gone
    for k in range(5, 9):
        tracks = tr.step(0.1 * k, [])
    assert len(tracks) == 1 and tracks[0].sources == set()
    assert tr.step(1.1, []) == [] and tr.deaths == 1
    # a new person gets a new id
    for k in range(3):
        tracks = tr.step(2.0 + 0.1 * k, [Measurements("cam0", truth[None], cam_cov)])
    assert [t.track_id for t in tracks] == [1]


def test_floor_tracks_stage_takes_skeletons_and_radar_tracks() -> None:
    skel = StreamSpec(name="fusion/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton="coco17",
                      fields={"joints": {"dtype": "float32", "shape": (17, 3)}, "person_id": {"dtype": "int64"}})  # type: ignore[dict-item]  # fmt: skip
    radar = StreamSpec(name="tracks/tracks", kind=FrameKind.BOXES, ragged=True,
                       fields={"position_m": {"dtype": "float32", "shape": (3,)}, "track_id": {"dtype": "int64"}})  # type: ignore[dict-item]  # fmt: skip
    stage = FloorTracks(
        FloorTracks.Params.model_validate({"birth_hits": 2, "zones": ZONES}),
        StageContext("floor", [skel, radar], RigCalibration(), REG),
    )
    joints = np.zeros((1, 17, 3), np.float32)
    joints[0, :, :2] = (-1.0, 0.5)
    joints[0, 15:17, :2] = (-1.1, 0.5)  # the ankles
    for k in range(4):
        out = stage.process(FrameSet(k, k * 100_000_000, 0, {
            "fusion/skeleton3d": Frame("fusion/skeleton3d", 0, 0, 0, {"joints": joints, "person_id": np.array([0])}),
            "tracks/tracks": Frame("tracks/tracks", 0, 0, 0, {"position_m": np.array([[2.0, 1.0, 1.0], [-1.05, 0.55, 1.0]], np.float32), "track_id": np.array([3, 4])}),
        }))  # fmt: skip
    t = out["floor/tracks"]
    assert len(t["track_id"]) == 2 and sorted(t["sources"].tolist()) == [1, 2]
    assert out["floor/zone_counts"]["count"].tolist() == [1, 1]
    with pytest.raises(ConfigError, match="floor detections"):
        FloorTracks(FloorTracks.Params.model_validate({}), StageContext("floor", [], RigCalibration(), REG))


def test_zones() -> None:
    zones = [
        Zone(name="a", polygon_m=[(0, 0), (2, 0), (2, 2), (0, 2)]),
        Zone(name="l", polygon_m=[(0, 0), (4, 0), (4, 4), (3, 4), (3, 1), (0, 1)]),
    ]
    pts = np.array([[1.0, 1.5], [3.5, 3.0], [2.5, 0.5], [1.0, 0.5], [5.0, 5.0], [np.nan, 0.0], [2.0, 1.0]])
    assert zone_of(pts, zones).tolist() == [0, 1, 1, 0, -1, -1, 0]  # the first zone wins; edges count as inside
    with pytest.raises(ValueError, match="3 vertices"):
        Zone(name="x", polygon_m=[(0, 0), (1, 1)])


# --- metrics --------------------------------------------------------------------------------


def test_average_precision_known_cases() -> None:
    gt = np.array([[10.0, 10.0, 4.0, 10.0, 0.0], [50.0, 50.0, 4.0, 10.0, 90.0]])
    perfect = DetectionAP()
    perfect.add(gt, [0.9, 0.8], gt)
    assert perfect.ap() == pytest.approx(1.0)
    half = DetectionAP()
    half.add(gt[:1], [0.9], gt)
    assert half.ap() == pytest.approx(51 / 101)  # precision 1 up to recall 0.5, then nothing
    ranked = DetectionAP()  # a false positive ranked above one of the two
    ranked.add(np.array([gt[0], [90.0, 90.0, 4.0, 10.0, 0.0], gt[1]]), [0.9, 0.8, 0.7], gt)
    assert ranked.ap() == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)
    ignored = DetectionAP()  # a detection of a mostly hidden person is neither right nor wrong
    ignored.add(gt, [0.9, 0.8], gt, gt_visible=np.array([1.0, 0.1]))
    assert ignored.num_gt == 1 and ignored.ap() == pytest.approx(1.0)
    assert DetectionAP().ap() is None


def test_track_scores_count_switches_like_clear_mot() -> None:
    s = TrackScores(max_distance_m=1.0)
    gt_ids = np.array([0, 1])
    for k in range(10):
        g = np.array([[0.0, 0.0], [3.0, 0.0]])
        ids = np.array([7, 8]) if k < 5 else np.array([8, 7])  # the tracker swaps the two ids at k = 5
        s.add(k * 0.1, g + 0.05, ids, g, gt_ids)
    out = s.summary()
    assert out["id_switches"] == 2 and out["loc_median_m"] == pytest.approx(math.hypot(0.05, 0.05), abs=1e-4)
    assert out["count_accuracy"] == 1.0 and out["duration_s"] == pytest.approx(1.0)
    # two people passing close: the pairing keeps last frame's tracks (no spurious switch)
    s2 = TrackScores(max_distance_m=1.0)
    for k in range(10):
        x = -1.0 + 0.2 * k
        g = np.array([[x, 0.05], [-x, -0.05]])
        est = g + np.array([[0.12, 0.0], [-0.12, 0.0]])  # each track trails its person
        s2.add(k * 0.1, est, np.array([1, 2]), g, gt_ids)
    assert s2.summary()["id_switches"] == 0


def test_heatmap_png_and_dwell(tmp_path: Path) -> None:
    cv2 = pytest.importorskip("cv2")
    sets, specs = _chain()
    hm = OccupancyHeatmap(OccupancyHeatmap.Params.model_validate({"tracks": "floor/tracks", "cell_m": 0.2, "path": str(tmp_path / "occ.png")}),
                          StageContext("heatmap", [specs["floor/tracks"], specs["floor/zone_counts"]], _driver()[2], REG))  # fmt: skip
    for fs in sets:
        hm.write(fs)
    hm.close()
    img = cv2.imread(str(tmp_path / "occ.png"))
    assert img is not None and img.shape[0] > 50
    dwell = np.load(tmp_path / "occ.npy")
    track_frames = sum(len(fs.frames["floor/tracks"]["track_id"]) for fs in sets[1:])
    assert dwell.sum() == pytest.approx(0.1 * track_frames)
    meta = json.loads((tmp_path / "occ.json").read_text())
    assert meta["cell_m"] == 0.2 and hm.summary()["occupied_cells"] > 0


# --- the example ------------------------------------------------------------------------------


def test_overhead_example_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.zarr"
    assert run_main([str(EXAMPLE), "--fast", "--duration", "4", "--out", str(out), "--json", "--quiet"]) == 0
    s = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert s["error"] is None and s["framesets"] == 40
    m = s["sinks"]["metrics"]
    assert m["loc_median_m"] < 0.25 and m["count_accuracy"] > 0.7
    assert m["ap50"]["all"] > 0.8 and m["detections"]["all"]["loc_median_m"] < 0.25
    assert m["id_switches"] is not None and m["zone_count_accuracy"] > 0.7
    assert (tmp_path / "heatmap.png").is_file()
    assert s["estimators"]["localise"]["localised"] > 0


def test_duplicate_tracks_of_one_person_are_merged_but_two_close_people_are_not() -> None:
    tight = np.eye(2)[None] * 0.05**2
    # one person, two cameras that disagree (each sure of itself): 0.8 m at first, so two tracks are
    # born; then 0.45 m for good: the two tracks are one person, merged after duplicate_s
    tr = FloorTracker(FloorTrackerSettings(birth_hits=2, duplicate_s=0.5))
    counts = []
    for k in range(30):
        x1 = 1.8 if k < 5 else 1.45
        tracks = tr.step(
            0.1 * k,
            [Measurements("cam0", np.array([[1.0, 0.0]]), tight), Measurements("cam1", np.array([[x1, 0.0]]), tight)],
        )
        counts.append(len(tracks))
    assert max(counts) == 2 and counts[-1] == 1 and tr.merged == 1
    assert tracks[0].track_id == 0 and 0.95 <= tracks[0].position[0] <= 1.45
    # two people 0.4 m apart, both seen by one camera in the same frames: they stay two
    tr2 = FloorTracker(FloorTrackerSettings(birth_hits=2))
    for k in range(20):
        z = np.array([[1.0, 0.0], [1.4, 0.0]])
        tracks = tr2.step(0.1 * k, [Measurements("cam0", z, np.concatenate([tight, tight]))])
    assert len(tracks) == 2 and tr2.merged == 0
