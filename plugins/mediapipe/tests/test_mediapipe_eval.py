"""eval.trc: reading .trc files, axis remap, frame matching, MPJPE, bone-length CV, reprojection."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sensorfusion_mediapipe import TrcEvalSink, read_trc

from sensorfusion import ConfigError, FieldSpec, Frame, FrameKind, FrameSet, RigCalibration, StageContext, StreamSpec
from sensorfusion.schema import SkeletonRegistry, builtin_skeletons
from sensorfusion.testing import SinkContract

REG = SkeletonRegistry(builtin_skeletons())
BP = REG.get("blazepose33")
DATA = Path(os.environ.get("SENSORFUSION_TEST_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"))
P2S = DATA / "pose2sim-demo-single"
MARKERS = ["RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "Nose", "RShoulder", "LShoulder", "RWrist", "Head"]
JOINT = {"RHip": "right_hip", "RKnee": "right_knee", "RAnkle": "right_ankle", "LHip": "left_hip", "LKnee": "left_knee",
         "LAnkle": "left_ankle", "Nose": "nose", "RShoulder": "right_shoulder", "LShoulder": "left_shoulder", "RWrist": "right_wrist"}  # fmt: skip
RATE = 60.0


def body(t: float) -> np.ndarray:
    """A rigid BlazePose body (world metres, z up) translating over time."""
    rng = np.random.default_rng(0)
    j: np.ndarray = rng.uniform(-0.3, 0.3, (33, 3)) + np.array([0.0, 0.0, 1.0])
    return j + np.array([0.2 * t, 0.1 * t, 0.0])


def write_trc(path: Path, frames: int, *, units: str = "m") -> None:
    scale = 1000.0 if units == "mm" else 1.0
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\tOrigDataStartFrame\tOrigNumFrames",
        f"{RATE:g}\t{RATE:g}\t{frames}\t{len(MARKERS)}\t{units}\t{RATE:g}\t0\t{frames}",
        "Frame#\tTime\t" + "\t\t\t".join(MARKERS) + "\t\t",
        "\t\t" + "\t".join(f"{a}{i + 1}" for i in range(len(MARKERS)) for a in "XYZ"),
        "",
    ]
    for k in range(frames):
        w = body(k / RATE)
        row = [str(k + 1), f"{(k + 1) / RATE}"]
        for m in MARKERS:
            if m == "Head":
                row += ["", "", ""]  # a marker with no data: NaN
                continue
            x, y, z = w[BP.index(JOINT[m])]
            row += [f"{v * scale:.9f}" for v in (y, z, x)]  # Pose2Sim: trc X, Y, Z = world Y, Z, X
        lines.append("\t".join(row))
    path.write_text("\n".join(lines) + "\n")


def skeleton_spec() -> StreamSpec:
    return StreamSpec(
        name="fusion/skeleton3d", kind=FrameKind.SKELETON3D, ragged=True, skeleton="blazepose33",
        fields={"joints": FieldSpec(dtype="float32", shape=(33, 3)), "person_id": FieldSpec(dtype="int64"),
                "reprojection_error_px": FieldSpec(dtype="float32", shape=(33,))},
    )  # fmt: skip


def frameset(k: int, joints: np.ndarray, err: float = 2.0) -> FrameSet:
    t_ns = round(k * 1e9 / RATE)
    data = {"joints": joints.astype(np.float32)[None], "person_id": np.zeros(1, np.int64),
            "reprojection_error_px": np.full((1, 33), err, np.float32)}  # fmt: skip
    return FrameSet(k, t_ns, t_ns, {"fusion/skeleton3d": Frame("fusion/skeleton3d", t_ns, t_ns, k, data)})


def sink(tmp: Path | None = None, **params: Any) -> TrcEvalSink:
    ctx = StageContext("eval", inputs=[skeleton_spec()], calibration=RigCalibration(), skeletons=REG, config_path="sinks[0]",
                       out_dir=str(tmp) if tmp else None)  # fmt: skip
    return TrcEvalSink(TrcEvalSink.Params.model_validate({"estimate": "fusion/skeleton3d", **params}), ctx)


@pytest.mark.parametrize("units", ["m", "mm"])
def test_exact_estimate_scores_zero_and_offsets_are_measured(tmp_path: Path, units: str) -> None:
    trc = tmp_path / "ref.trc"
    write_trc(trc, 20, units=units)
    s = sink(tmp_path, trc=str(trc))
    for k in range(20):
        j = body(k / RATE)
        if k >= 10:
            j = j.copy()
            j[BP.index("nose")] += [0.0, 0.0, 0.05]  # 50 mm off on one of 10 shared joints
        if k == 3:
            j = j.copy()
            j[BP.index("left_knee")] = np.nan  # not triangulated in one frame
        s.write(frameset(k, j, err=float(k)))
    s.close()
    out = s.summary()
    assert out["mpjpe_joints"] == [JOINT[m] for m in MARKERS if m != "Head"]
    assert out["mpjpe_frames"] == 20 and out["frames_without_reference"] == 0
    assert out["mpjpe_per_joint_mm"]["nose"] == pytest.approx(25.0, abs=1e-3)
    assert out["mpjpe_per_joint_mm"]["left_knee"] == pytest.approx(0.0, abs=1e-3)
    assert out["mpjpe_mm"] == pytest.approx(50.0 * 10 / 199, abs=1e-2)
    assert out["median_mm"] == pytest.approx(0.0, abs=1e-3)
    assert out["joint_coverage"] == pytest.approx(199 / 200)
    assert out["median_reprojection_error_px"] == pytest.approx(9.5)
    assert out["bone_length_cv_median"] == pytest.approx(0.0, abs=1e-6)  # rigid body
    saved = json.loads((tmp_path / "eval.json").read_text())
    assert saved["mpjpe_mm"] == out["mpjpe_mm"]
    assert (tmp_path / "eval.png").stat().st_size > 1000


def test_wrong_axes_or_frame_offset_are_visible(tmp_path: Path) -> None:
    trc = tmp_path / "ref.trc"
    write_trc(trc, 20)
    plain = sink(trc=str(trc), world_axes_from_trc=["X", "Y", "Z"])
    shifted = sink(trc=str(trc), frame_offset=5)
    for k in range(20):
        plain.write(frameset(k, body(k / RATE)))
        shifted.write(frameset(k, body(k / RATE)))
    assert plain.summary()["mpjpe_mm"] > 100
    s = shifted.summary()
    assert s["frames_without_reference"] == 5
    assert s["mpjpe_mm"] == pytest.approx(np.linalg.norm([0.2, 0.1]) * 5 / RATE * 1e3, abs=0.01)  # 5 frames late


def test_bone_length_cv_of_a_stretching_limb() -> None:
    s = sink(bones=[["left_hip", "left_knee"]])
    lengths = np.array([0.4, 0.5, 0.6])
    for k, L in enumerate(lengths):
        j = body(0.0).copy()
        j[BP.index("left_knee")] = j[BP.index("left_hip")] + [0, 0, -L]
        s.write(frameset(k, j))
    assert s.summary()["bone_length_cv"]["left_hip-left_knee"] == pytest.approx(
        lengths.std() / lengths.mean(), abs=1e-4
    )


def test_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        sink(trc=str(tmp_path / "missing.trc"))
    assert info.value.field_path == "sinks[0].params.trc"
    with pytest.raises(ConfigError) as info2:
        sink(bones=[["left_hip", "tail"]])
    assert info2.value.field_path == "sinks[0].params.bones[0]"
    ctx = StageContext(
        "eval", inputs=[skeleton_spec()], calibration=RigCalibration(), skeletons=REG, config_path="sinks[0]"
    )
    with pytest.raises(ConfigError) as info3:
        TrcEvalSink(TrcEvalSink.Params(estimate="cam0/keypoints2d"), ctx)
    assert info3.value.field_path == "sinks[0].params.estimate" and info3.value.choices == ["fusion/skeleton3d"]
    with pytest.raises(ValueError, match="permutation"):
        TrcEvalSink.Params(estimate="x/y", world_axes_from_trc=["X", "X", "Z"])


def test_reads_pose2sims_trc() -> None:
    path = P2S / "trial" / "pose-3d" / "S00_P00_T01_BalancingTrial_0-100.trc"
    if not path.is_file():
        pytest.skip(f"Pose2Sim reference data not found at {P2S} (set SENSORFUSION_TEST_DATA)")
    trc = read_trc(path)
    assert trc.rate_hz == 60 and trc.xyz_m.shape == (100, 21, 3) and trc.frames[0] == 1
    assert trc.markers[:3] == ("RHip", "RKnee", "RAnkle") and "Nose" in trc.markers
    # Y (= world Z, up) of the head is above that of the ankles, in metres
    head, ankle = trc.markers.index("Head"), trc.markers.index("RAnkle")
    assert 1.2 < np.nanmedian(trc.xyz_m[:, head, 1] - trc.xyz_m[:, ankle, 1]) < 2.0


class TestTrcEvalSinkContract(SinkContract):
    sink_class = TrcEvalSink
    params = {"estimate": "fusion/skeleton3d"}

    def input_specs(self) -> list[StreamSpec]:
        return [skeleton_spec()]

    def framesets(self) -> Sequence[FrameSet]:
        return [frameset(k, body(k / RATE)) for k in range(3)]
