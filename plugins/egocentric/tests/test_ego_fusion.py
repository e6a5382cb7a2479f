"""egocentric.fuse: identity from the headset, drift correction, and fusion that beats each source
where the other is blind (egocentric skeletons with known errors, room detections from the
simulated detector)."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
from sensorfusion_egocentric import EgoRoomFusion, ego_skeleton_spec
from sensorfusion_sim import SimKeypointDetector, SimRigDriver

from sensorfusion import ConfigError, DriverContext, FieldSpec, Frame, FrameKind, FrameSet, StageContext, StreamSpec
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons

LEGS = [11, 12, 13, 14, 15, 16]
UPPER = [5, 6, 7, 8, 9, 10]
DRIFT = np.array([0.06, -0.04, 0.0])


def kp_spec(cam: str) -> StreamSpec:
    return StreamSpec(
        name=f"{cam}/keypoints2d", kind=FrameKind.KEYPOINTS2D, ragged=True, skeleton="coco17",
        fields={"keypoints": FieldSpec(dtype="float32", shape=(17, 3)), "person_id": FieldSpec(dtype="int64")},
    )  # fmt: skip


class Scene:
    """Three simulated people (0 and 1 wear headsets), ``cameras`` room cameras, the simulated
    room detector without identities, and egocentric skeletons = truth + noise (legs worse) + drift."""

    def __init__(self, cameras: int = 3, seed: int = 5, **fuse: Any) -> None:
        self.drv = SimRigDriver(
            SimRigDriver.Params.model_validate({"cameras": cameras, "people": 3, "width": 640, "height": 480}),
            DriverContext("sim", seed=seed),
        )
        self.cal = self.drv.calibration()
        self.cams = [f"cam{i}" for i in range(cameras)]
        specs = self.drv.streams()  # image specs only declare the views; nothing is rendered here
        reg = SkeletonRegistry(builtin_skeletons())
        self.det = SimKeypointDetector(
            SimKeypointDetector.Params(identities=False), StageContext("det", specs, self.cal, reg, seed=seed)
        )
        ego = ego_skeleton_spec("learned/skeleton3d", "coco17", 17)
        inputs = [ego, *[kp_spec(c) for c in self.cams]]
        self.fuse = EgoRoomFusion(
            EgoRoomFusion.Params.model_validate(fuse),
            StageContext("fused", inputs, self.cal, SkeletonRegistry(builtin_skeletons())),
        )
        self.rng = np.random.default_rng(seed)

    def frameset(self, i: int, *, hide_from_room: set[int] = frozenset()) -> tuple[FrameSet, np.ndarray]:
        t_ns = i * self.drv.period_ns
        joints = self.drv.people.joints_at(t_ns * 1e-9)
        ids = np.arange(3)
        frames: dict[str, Frame] = {}
        for cam in self.cams:
            sc = self.cal.sensors[cam]
            d = self.det.detect(joints, ids, sc.camera, sc.world_from_sensor, zlib.crc32(cam.encode()), t_ns)
            keep = np.ones(len(d["keypoints"]), dtype=bool)
            if hide_from_room:  # drop the detections of hidden people (matched to the truth by projection)
                from sensorfusion.geometry import project_pinhole

                uv, _ = project_pinhole(joints, sc.camera, sc.world_from_sensor)
                for k, kp in enumerate(d["keypoints"]):
                    err = np.nanmean(np.linalg.norm(kp[:, :2] - uv, axis=-1), axis=-1)
                    if int(np.nanargmin(err)) in hide_from_room:
                        keep[k] = False
            frames[f"{cam}/keypoints2d"] = Frame(
                f"{cam}/keypoints2d",
                t_ns,
                t_ns,
                i,
                {"keypoints": d["keypoints"][keep], "person_id": d["person_id"][keep]},
            )
        sigma = np.full(17, 0.03)
        sigma[LEGS] = 0.10
        ego = joints[:2] + self.rng.normal(size=(2, 17, 3)) * sigma[:, None] + DRIFT
        frames["learned/skeleton3d"] = Frame("learned/skeleton3d", t_ns, t_ns, i, {
            "joints": ego.astype(np.float32), "person_id": np.array([0, 1]), "confidence": np.full((2, 17), 0.5, np.float32),
            "sigma_m": np.tile(sigma, (2, 1)).astype(np.float32)})  # fmt: skip
        return FrameSet(i, t_ns, t_ns, frames), joints

    def run(self, n: int, **kw: Any) -> list[tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]]:
        out = []
        for i in range(n):
            fs, truth = self.frameset(i, **kw)
            res = self.fuse.process(fs)["fused/skeleton3d"]
            out.append((dict(res), truth, np.asarray(fs.frames["learned/skeleton3d"]["joints"], dtype=np.float64)))
        return out


def _err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.nanmean(np.linalg.norm(a - b, axis=-1)))


def test_wearers_keep_their_headset_identity_and_bystanders_get_their_own():
    scene = Scene()
    for res, truth, _ in scene.run(45):
        ids = res["person_id"].tolist()
        assert ids[:2] == [0, 1]
        for k, pid in enumerate(ids):
            nearest = int(np.argmin([_err(res["joints"][k], truth[g]) for g in range(3)]))
            if pid < 1000:
                assert nearest == pid  # the wearer's row is the wearer, never a bystander
            else:
                assert nearest == 2  # the bystander's track
    s = scene.fuse.summary()
    assert s["bystander_frames"] > 30 and s["detections_to_wearers"] > 100


def test_the_room_corrects_the_legs_and_the_headset_drift():
    scene = Scene()
    frames = scene.run(60)
    late = frames[30:]
    fused_legs = np.mean([_err(r["joints"][:2][:, LEGS], t[:2, LEGS]) for r, t, _ in late])
    ego_legs = np.mean([_err(e[:, LEGS], t[:2, LEGS]) for _, t, e in late])
    assert fused_legs < 0.5 * ego_legs, (fused_legs, ego_legs)
    drift = np.array(scene.fuse.summary()["drift_m"]["0"])
    assert np.linalg.norm(drift - DRIFT) < 0.02


def test_hidden_from_the_room_the_wearer_comes_from_the_headset():
    scene = Scene()
    scene.run(30)  # the drift is learned while the room sees everyone
    frames = scene.run(15, hide_from_room={0})
    for res, truth, ego in frames:
        assert res["person_id"][0] == 0 and (res["views"][0] == 0).all()
        # fused = the egocentric skeleton minus the drift the room measured earlier
        assert _err(res["joints"][0], truth[0]) < _err(ego[0], truth[0])
        assert np.isfinite(res["joints"][0]).all()


def test_room_views_must_be_fixed_cameras():
    from sensorfusion.schema import DeviceMount, RigCalibration, SensorCalibration

    scene = Scene(cameras=2)
    cal = dict(scene.cal.sensors)
    cal["cam1"] = SensorCalibration(camera=cal["cam1"].camera, mount=DeviceMount(device="hmd0"))
    inputs = [ego_skeleton_spec("learned/skeleton3d", "coco17", 17), kp_spec("cam0"), kp_spec("cam1")]
    with pytest.raises(ConfigError, match="must be cameras fixed in the world"):
        EgoRoomFusion(
            EgoRoomFusion.Params(),
            StageContext("f", inputs, RigCalibration(sensors=cal), SkeletonRegistry(builtin_skeletons())),
        )
