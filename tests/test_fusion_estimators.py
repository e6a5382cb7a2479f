"""The ``triangulate`` and ``multiperson`` estimators: contracts, and the simulated rig against
an oracle that knows the association and which views are inliers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sensorfusion._builtin.fusion import MultiPersonFusion, SinglePersonFusion
from sensorfusion.geometry import look_at, world_to_pixels
from sensorfusion.schema import FieldSpec, Frame, FrameKind, FrameSet, PinholeCamera, RigCalibration, StreamSpec
from sensorfusion.schema._calibration import SensorCalibration
from sensorfusion.testing import EstimatorContract

CAMS = [f"c{i}" for i in range(4)]
STAND = np.array(
    [
        [0, 0.08, 1.62],
        [0.03, 0.07, 1.65],
        [-0.03, 0.07, 1.65],
        [0.07, 0.03, 1.63],
        [-0.07, 0.03, 1.63],
        [0.18, 0, 1.42],
        [-0.18, 0, 1.42],
        [0.22, 0, 1.15],
        [-0.22, 0, 1.15],
        [0.24, 0.02, 0.9],
        [-0.24, 0.02, 0.9],
        [0.1, 0, 0.95],
        [-0.1, 0, 0.95],
        [0.11, 0.02, 0.52],
        [-0.11, 0.02, 0.52],
        [0.11, 0, 0.08],
        [-0.11, 0, 0.08],
    ]
)


def rig_calibration() -> RigCalibration:
    sensors = {}
    for i, c in enumerate(CAMS):
        a = 2 * np.pi * i / len(CAMS)
        pose = look_at(np.array([4 * np.cos(a), 4 * np.sin(a), 2.2]), np.array([0.0, 0.0, 1.0]))
        cam = PinholeCamera(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0, k1=-0.05)
        sensors[c] = SensorCalibration(camera=cam, world_from_sensor=pose)
    return RigCalibration(sensors=sensors)


def specs() -> list[StreamSpec]:
    return [
        StreamSpec(
            name=f"{c}/keypoints2d",
            kind=FrameKind.KEYPOINTS2D,
            ragged=True,
            skeleton="coco17",
            fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
        )
        for c in CAMS
    ]


def synthetic_framesets(n: int = 6, people: int = 2, ids: bool = False) -> list[FrameSet]:
    cal = rig_calibration()
    rng = np.random.default_rng(0)
    out = []
    for t in range(n):
        X = np.stack([STAND + np.array([0.8 * k - 0.4 + 0.01 * t, 0.3 * k, 0]) for k in range(people)])
        frames = {}
        for c in CAMS:
            s = cal.sensors[c]
            assert s.camera is not None
            uv = world_to_pixels(s.camera, s.world_from_sensor, X, tier="numpy")  # type: ignore[arg-type]
            kp = np.concatenate([uv + rng.normal(0, 1, uv.shape), np.full((*uv.shape[:-1], 1), 0.9)], -1).astype(
                np.float32
            )
            order = rng.permutation(people)
            pid = np.arange(people)[order] if ids else -np.ones(people, dtype=np.int64)
            frames[f"{c}/keypoints2d"] = Frame(
                f"{c}/keypoints2d", t * 33_333_333, 0, t, {"keypoints": kp[order], "person_id": pid.astype(np.int64)}
            )
        out.append(FrameSet(t, t * 33_333_333, 0, frames, tuple(frames)))
    return out


class _Base(EstimatorContract):
    plugin_name = "fusion"

    def input_specs(self) -> list[StreamSpec]:
        return specs()

    def calibration(self) -> RigCalibration:
        return rig_calibration()


class TestTriangulateContract(_Base):
    estimator_class = SinglePersonFusion
    params: dict[str, Any] = {"filter": "kalman"}

    def framesets(self) -> list[FrameSet]:
        return synthetic_framesets(people=1)


class TestMultipersonContract(_Base):
    estimator_class = MultiPersonFusion
    params: dict[str, Any] = {"birth_hits": 1}

    def framesets(self) -> list[FrameSet]:
        return synthetic_framesets(people=2)

    def test_finds_both_people_without_ids(self) -> None:
        est = self.make_estimator()
        outs = [est.process(fs)["dut/skeleton3d"] for fs in self.framesets()]
        assert all(len(o["person_id"]) == 2 for o in outs)
        assert all(sorted(o["person_id"].tolist()) == sorted(outs[0]["person_id"].tolist()) for o in outs)
        gt = STAND + np.array([-0.4 + 0.05, 0, 0])
        j = outs[-1]["joints"]
        err = min(np.nanmean(np.linalg.norm(j[k] - gt, axis=-1)) for k in range(2))
        assert err < 0.03
        s = est.summary()
        assert s["tracks_born"] == 2 and set(s["per_view"]) == {f"{c}/keypoints2d" for c in CAMS}


def test_bad_tier_is_a_config_error() -> None:
    from sensorfusion import ConfigError
    from sensorfusion._components import StageContext
    from sensorfusion.schema._skeletons import SkeletonRegistry, builtin_skeletons

    ctx = StageContext(
        "fusion", specs(), rig_calibration(), SkeletonRegistry(builtin_skeletons()), config_path="stages[1]"
    )
    with pytest.raises(ConfigError) as e:
        MultiPersonFusion(MultiPersonFusion.Params.model_validate({"tier": "cuda"}), ctx)
    assert "tier" in str(e.value)


# -- the simulated rig ----------------------------------------------------------------------

RIG = """
name: fusion-oracle
seed: 7
sensors:
  - {id: sim, driver: sim.rig, params: {cameras: 4, people: 3, width: 640, height: 480, fps: 30}}
sync: {tolerance_ms: 5}
stages:
  - {id: detector, estimator: sim.keypoints2d, inputs: ["cam*/image", "gt/skeleton3d"], params: {identities: false}}
  - {id: fusion, estimator: multiperson, inputs: ["cam*/keypoints2d"], params: {filter: none}}
sinks:
  - {id: mpjpe, sink: metrics.mpjpe, inputs: ["fusion/skeleton3d", "gt/skeleton3d"], params: {estimate: fusion/skeleton3d}}
"""


def test_sim_rig_multiperson_within_10_percent_of_inlier_oracle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The oracle knows the association (nearest projected ground truth) and which views of each
    joint are inliers (within 10 px of the projected ground truth), and triangulates those with
    the weighted DLT. ``multiperson`` knows neither; unfiltered, it must come within 10 %."""
    pytest.importorskip("sensorfusion_sim", reason="the sim driver distribution (drivers/sim) is not installed")
    from sensorfusion.fusion import triangulate_points
    from sensorfusion.fusion._cameras import view_model
    from sensorfusion.run import main as run_main
    from sensorfusion.store import Session

    rig = tmp_path / "rig.yaml"
    rig.write_text(RIG)
    out = tmp_path / "s.zarr"
    assert run_main([str(rig), "--fast", "--duration", "2", "--out", str(out), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["sinks"]["mpjpe"]
    s = Session.open(str(out))
    cal = s.calibration
    cams = sorted(c for c in cal.sensors if c.startswith("cam"))
    models = [view_model(cal.camera(c), cal.sensors[c].world_from_sensor) for c in cams]
    kps = {c: list(s.read(f"{c}/keypoints2d", stage="detector")) for c in cams}
    gts = list(s.read("gt/skeleton3d"))
    gt_at = {f.t_sensor_ns: f for f in gts}
    errs = []
    for i in range(len(kps[cams[0]])):
        t = kps[cams[0]][i].t_sensor_ns
        g = gt_at.get(t)
        if g is None:
            continue
        G = np.asarray(g.data["joints"], dtype=np.float64)
        n = len(G)
        pts = np.full((len(cams), n, 17, 2), np.nan)
        conf = np.zeros((len(cams), n, 17))
        for v, c in enumerate(cams):
            cam = cal.camera(c)
            proj = world_to_pixels(cam, cal.sensors[c].world_from_sensor, G, tier="numpy")  # type: ignore[arg-type]
            f = kps[c][i]
            for kp in f.data["keypoints"]:
                kp = np.asarray(kp, dtype=np.float64)
                d = np.nanmean(np.linalg.norm(proj - kp[None, :, :2], axis=-1), axis=1)
                k = int(np.nanargmin(d))
                inlier = np.linalg.norm(proj[k] - kp[:, :2], axis=-1) < 10.0
                pts[v, k] = np.where(inlier[:, None], models[v].undistort(kp[:, :2]), np.nan)
                conf[v, k] = np.where(inlier, kp[:, 2], 0.0)
        r = triangulate_points(pts, conf, np.stack([m.P for m in models]), min_confidence=0.3, tier="cpu")
        e = np.linalg.norm(r.points3d - G, axis=-1)
        errs.append(e[np.isfinite(e)])
    oracle_mm = float(np.concatenate(errs).mean()) * 1e3
    print(f"sim rig: multiperson {ours['mpjpe_mm']} mm, inlier oracle {oracle_mm:.2f} mm")
    assert ours["mpjpe_mm"] <= 1.10 * oracle_mm, (ours, oracle_mm)
    assert ours["extra_person_frames"] == 0
